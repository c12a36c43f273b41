package manager

import (
	"context"

	"github.com/yurt-edge/yurt/pkg/controller/daemonupgrade"
	"github.com/yurt-edge/yurt/pkg/controller/yurtappdaemon"
	"github.com/yurt-edge/yurt/pkg/controller/yurtappset"
)

// InitFuncs of the per-pool workload controllers and the DaemonSet upgrade controller.

func newYurtAppSetController(_ context.Context, cc *ControllerContext) (Runnable, error) {
	apps := cc.KubeInformers.Apps().V1()
	return yurtappset.NewController(cc.KubeClient, cc.YurtClient,
		cc.YurtInformers.Apps().V1beta1().YurtAppSets(),
		cc.YurtInformers.Apps().V1beta2().NodePools(),
		apps.Deployments(), apps.StatefulSets(), apps.ControllerRevisions(),
		cc.EventRecorder(yurtappset.ControllerName)), nil
}

func newYurtAppDaemonController(_ context.Context, cc *ControllerContext) (Runnable, error) {
	apps := cc.KubeInformers.Apps().V1()
	return yurtappdaemon.NewController(cc.KubeClient, cc.YurtClient,
		cc.YurtInformers.Apps().V1alpha1().YurtAppDaemons(),
		cc.YurtInformers.Apps().V1beta2().NodePools(),
		apps.Deployments(), apps.StatefulSets(), apps.ControllerRevisions(),
		cc.EventRecorder(yurtappdaemon.ControllerName)), nil
}

func newDaemonUpgradeController(_ context.Context, cc *ControllerContext) (Runnable, error) {
	return daemonupgrade.NewController(cc.KubeClient,
		cc.KubeInformers.Apps().V1().DaemonSets(),
		cc.KubeInformers.Core().V1().Pods(),
		cc.KubeInformers.Core().V1().Nodes(),
		cc.KubeInformers.Apps().V1().ControllerRevisions(),
		cc.EventRecorder(daemonupgrade.ControllerName)), nil
}
