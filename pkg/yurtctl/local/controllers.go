package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	yurtclient "github.com/yurt-edge/yurt/generated/clientset/versioned"
	"github.com/yurt-edge/yurt/pkg/localstack"
)

// DemoPool is the pool `yurtctl local up` puts its hollow nodes in.
const DemoPool = "pool-a"

// controllerBinaries are what --controllers needs besides kube-apiserver and yurt-apiserver.
func (o *UpOptions) controllerBinaries() []string {
	if !o.Controllers {
		return nil
	}
	bins := []string{filepath.Join(o.KubeBinDir, "kube-controller-manager"), filepath.Join(o.BinDir, "yurt-manager")}
	if o.HollowNodes > 0 {
		bins = append(bins, filepath.Join(o.KubeBinDir, "kubemark"))
	}
	return bins
}

func (o *UpOptions) validateControllers() []error {
	var errs []error
	if o.HollowNodes < 0 {
		errs = append(errs, fmt.Errorf("--hollow-nodes must not be negative, got %d", o.HollowNodes))
	}
	for _, bin := range o.controllerBinaries() {
		if _, err := os.Stat(bin); err != nil {
			errs = append(errs, fmt.Errorf("%s is missing: build it with make build kube-binaries (or pass --controllers=false)", bin))
		}
	}
	return errs
}

// startControllers starts kube-controller-manager, yurt-manager with every controller, the
// NodePool DemoPool and o.HollowNodes kubemark hollow kubelets in it (DemoPool-node-<i>),
// waiting until the nodes are Ready. The stack's Stop ends them.
func (o *UpOptions) startControllers(ctx context.Context, stack *localstack.Stack) error {
	if !o.Controllers {
		return nil
	}
	logger := klog.FromContext(ctx)
	if _, err := stack.StartKubeControllerManager(ctx, localstack.KubeControllerManagerOptions{}); err != nil {
		return fmt.Errorf("starting kube-controller-manager: %w", err)
	}
	if _, addr, err := stack.StartYurtManager(ctx, localstack.YurtManagerOptions{}); err != nil {
		return fmt.Errorf("starting yurt-manager: %w", err)
	} else {
		o.managerAddr = addr
	}
	if o.HollowNodes == 0 {
		return nil
	}
	yurt, err := yurtclient.NewForConfig(stack.RESTConfig())
	if err != nil {
		return err
	}
	pool := &appsv1beta2.NodePool{ObjectMeta: metav1.ObjectMeta{Name: DemoPool}, Spec: appsv1beta2.NodePoolSpec{Type: appsv1beta2.Edge}}
	if _, err := yurt.AppsV1beta2().NodePools().Create(ctx, pool, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating NodePool %s: %w", DemoPool, err)
	}
	logger.Info("Starting hollow nodes; they turn Ready in about 25 s", "count", o.HollowNodes, "pool", DemoPool)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i := 1; i <= o.HollowNodes; i++ {
		wg.Go(func() {
			_, err := stack.StartHollowNode(ctx, localstack.HollowNodeOptions{
				Name: fmt.Sprintf("%s-node-%d", DemoPool, i), Pool: DemoPool, WaitReady: true,
			})
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (o *UpOptions) printControllers() {
	if !o.Controllers {
		return
	}
	fmt.Fprintf(o.Out, `Controllers: kube-controller-manager and yurt-manager (health and metrics on http://%s),
with %d hollow node(s) in NodePool %s:
  kubectl get nodes -L apps.openyurt.io/nodepool
  kubectl patch np %s --type merge -p '{"spec":{"labels":{"example.com/site":"a"}}}'
  kubectl describe node %s-node-1

`, o.managerAddr, o.HollowNodes, DemoPool, DemoPool, DemoPool)
}
