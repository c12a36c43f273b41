package manager

import (
	"context"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"

	yurtclient "github.com/yurt-edge/yurt/generated/clientset/versioned"
	yurtinformers "github.com/yurt-edge/yurt/generated/informers/externalversions"
	"github.com/yurt-edge/yurt/pkg/controller/autonomy"
	"github.com/yurt-edge/yurt/pkg/controller/daemonupgrade"
	"github.com/yurt-edge/yurt/pkg/controller/delegatedheartbeat"
	"github.com/yurt-edge/yurt/pkg/controller/nodepool"
	"github.com/yurt-edge/yurt/pkg/controller/yurtappdaemon"
	"github.com/yurt-edge/yurt/pkg/controller/yurtappset"
)

// The controller registry.
//
// To add a controller: write it in pkg/controller/<name> (informers → workqueue →
// syncHandler, see pkg/controller/reconcile), give it a constructor taking the clients and
// informers it needs and a Run(ctx, workers) method, and add ONE line to the map in
// NewControllerInitializers below pointing at an InitFunc. Keep the InitFunc itself in a file
// of your own in this package (e.g. controllers_apps.go) so concurrent additions do not touch
// the same lines. Use the shared informer factories of the ControllerContext (never a new
// factory): the manager starts them after every InitFunc has run and waits for their caches
// before calling Run.

// Runnable is a constructed controller; Run blocks until ctx ends.
type Runnable interface {
	Run(ctx context.Context, workers int)
}

// InitFunc builds a controller from the shared clients and informers. It must not start
// goroutines; the manager calls Run once the informers are synced.
type InitFunc func(ctx context.Context, cc *ControllerContext) (Runnable, error)

// ControllerContext holds what controllers share.
type ControllerContext struct {
	// RESTConfig is the manager's client configuration (copy it before changing it).
	RESTConfig *rest.Config
	KubeClient kubernetes.Interface
	YurtClient yurtclient.Interface
	// KubeInformers and YurtInformers are started by the manager after every InitFunc ran.
	KubeInformers informers.SharedInformerFactory
	YurtInformers yurtinformers.SharedInformerFactory
	// EventBroadcaster sends events to kube-apiserver; use EventRecorder.
	EventBroadcaster record.EventBroadcaster
}

// EventRecorder returns a recorder whose events name controller as their source
// (component yurt-manager/<controller>), so kubectl describe says who acted.
func (c *ControllerContext) EventRecorder(controller string) record.EventRecorder {
	return c.EventBroadcaster.NewRecorder(eventScheme, eventSource(controller))
}

// NewControllerInitializers is the registry: controller name → InitFunc. Every controller
// is on by default ('*').
func NewControllerInitializers() map[string]InitFunc {
	return map[string]InitFunc{
		nodepool.ControllerName:           newNodePoolController,
		autonomy.ControllerName:           newAutonomyController,
		delegatedheartbeat.ControllerName: newDelegatedHeartbeatController,
		yurtappset.ControllerName:         newYurtAppSetController,
		yurtappdaemon.ControllerName:      newYurtAppDaemonController,
		daemonupgrade.ControllerName:      newDaemonUpgradeController,
	}
}

// KnownControllerNames lists the registry's controllers, sorted.
func KnownControllerNames() []string {
	return KnownControllerNamesOf(NewControllerInitializers())
}

func newNodePoolController(_ context.Context, cc *ControllerContext) (Runnable, error) {
	return nodepool.NewController(cc.KubeClient,
		cc.KubeInformers.Core().V1().Nodes(),
		cc.YurtInformers.Apps().V1beta2().NodePools(),
		cc.EventRecorder(nodepool.ControllerName)), nil
}

func newAutonomyController(_ context.Context, cc *ControllerContext) (Runnable, error) {
	return autonomy.NewController(cc.KubeClient,
		cc.KubeInformers.Core().V1().Nodes(),
		cc.KubeInformers.Core().V1().Pods(),
		cc.EventRecorder(autonomy.ControllerName)), nil
}

func newDelegatedHeartbeatController(_ context.Context, cc *ControllerContext) (Runnable, error) {
	return delegatedheartbeat.NewController(cc.KubeClient,
		cc.KubeInformers.Core().V1().Nodes(),
		cc.KubeInformers.Coordination().V1().Leases(),
		cc.EventRecorder(delegatedheartbeat.ControllerName)), nil
}
