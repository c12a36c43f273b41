package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	yurtclient "github.com/yurt-edge/yurt/generated/clientset/versioned"
	"github.com/yurt-edge/yurt/pkg/localstack"
)

// DemoPool is the pool `yurtctl local up` puts its hollow nodes in.
const DemoPool = "pool-a"

// demoNode is one node of the demo pool as printed for the user.
type demoNode struct {
	Name string
	// Hub is the node's yurthub; nil when the kubelet talks to kube-apiserver directly.
	Hub *localstack.YurtHub
	// Link is the cuttable connection between the hub and kube-apiserver.
	Link *localstack.CloudLink
}

// demoNodeName is the name of the i-th (from 1) hollow node.
func demoNodeName(i int) string { return fmt.Sprintf("%s-node-%d", DemoPool, i) }

// controllerBinaries are what --controllers needs besides kube-apiserver and yurt-apiserver.
func (o *UpOptions) controllerBinaries() []string {
	if !o.Controllers {
		return nil
	}
	bins := []string{
		filepath.Join(o.KubeBinDir, "kube-controller-manager"),
		filepath.Join(o.KubeBinDir, "kube-scheduler"),
		filepath.Join(o.BinDir, "yurt-manager"),
	}
	if o.HollowNodes > 0 {
		bins = append(bins, filepath.Join(o.KubeBinDir, "kubemark"))
		if o.Hubs {
			bins = append(bins, filepath.Join(o.BinDir, "yurthub"), filepath.Join(o.BinDir, "yurt-coordinator"))
		}
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

// startControllers starts kube-controller-manager, kube-scheduler and yurt-manager with every
// controller. The stack's Stop ends them.
func (o *UpOptions) startControllers(ctx context.Context, stack *localstack.Stack) error {
	if !o.Controllers {
		return nil
	}
	if _, err := stack.StartKubeControllerManager(ctx, localstack.KubeControllerManagerOptions{}); err != nil {
		return fmt.Errorf("starting kube-controller-manager: %w", err)
	}
	if _, err := stack.StartKubeScheduler(ctx, localstack.KubeSchedulerOptions{}); err != nil {
		return fmt.Errorf("starting kube-scheduler: %w", err)
	}
	_, addr, err := stack.StartYurtManager(ctx, localstack.YurtManagerOptions{})
	if err != nil {
		return fmt.Errorf("starting yurt-manager: %w", err)
	}
	o.managerAddr = addr
	return nil
}

// startDemoPool creates the NodePool DemoPool and o.HollowNodes kubemark hollow kubelets in it
// (DemoPool-node-<i>). With o.Hubs each kubelet talks to kube-apiserver through its own
// yurthub, which reaches the cloud over a CloudLink and the pool's coordinator with a
// certificate from the pool CA. It returns once every node is Ready and the pool counts them.
func (o *UpOptions) startDemoPool(ctx context.Context, stack *localstack.Stack, coord *localstack.Coordinator) error {
	if !o.Controllers || o.HollowNodes == 0 {
		return nil
	}
	logger := klog.FromContext(ctx)
	yurt, err := yurtclient.NewForConfig(stack.RESTConfig())
	if err != nil {
		return err
	}
	pool := &appsv1beta2.NodePool{ObjectMeta: metav1.ObjectMeta{Name: DemoPool}, Spec: appsv1beta2.NodePoolSpec{Type: appsv1beta2.Edge}}
	if _, err := yurt.AppsV1beta2().NodePools().Create(ctx, pool, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating NodePool %s: %w", DemoPool, err)
	}
	logger.Info("Starting hollow nodes; they turn Ready in about 25 s", "count", o.HollowNodes, "pool", DemoPool, "throughHubs", o.Hubs)
	nodes := make([]demoNode, o.HollowNodes)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i := range nodes {
		wg.Go(func() {
			n, err := o.startDemoNode(ctx, stack, coord, demoNodeName(i+1))
			mu.Lock()
			defer mu.Unlock()
			nodes[i] = n
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	o.demoNodes = nodes
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := waitPoolReady(ctx, yurt, DemoPool, o.HollowNodes); err != nil {
		return err
	}
	kube, err := kubernetes.NewForConfig(stack.RESTConfig())
	if err != nil {
		return err
	}
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	return waitNodeLeases(ctx, kube, names, time.Minute)
}

// waitNodeLeases waits until every node's kubelet has its Lease in the cloud. A kubelet turns
// its Node Ready before it creates the Lease; a node cut off before that has no Lease the
// pool leader could renew for it, so "started" waits for them.
func waitNodeLeases(ctx context.Context, kube kubernetes.Interface, nodes []string, timeout time.Duration) error {
	var missing []string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		missing = missing[:0]
		for _, n := range nodes {
			if _, err := kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, n, metav1.GetOptions{}); err != nil {
				missing = append(missing, n)
			}
		}
		return len(missing) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("the kubelets of %v have no Lease in %s: %w", missing, corev1.NamespaceNodeLease, err)
	}
	return nil
}

// startDemoNode starts one hollow node, behind a link and a hub when o.Hubs is set.
func (o *UpOptions) startDemoNode(ctx context.Context, stack *localstack.Stack, coord *localstack.Coordinator, name string) (demoNode, error) {
	n := demoNode{Name: name}
	server := ""
	if o.Hubs {
		link, err := stack.StartCloudLink()
		if err != nil {
			return n, err
		}
		n.Link = link
		hub, err := stack.StartYurtHub(ctx, localstack.YurtHubOptions{
			NodeName: name, Pool: DemoPool, Coordinator: coord, Server: link.URL(),
			// kubemark's kubelet introduces itself as "hollow-kubelet"; cache it as a kubelet.
			ExtraArgs: []string{"--cache-agents=kubelet,hollow-kubelet,kube-proxy,coredns"},
		})
		if err != nil {
			return n, fmt.Errorf("starting the yurthub of %s: %w", name, err)
		}
		n.Hub, server = hub, hub.ProxyURL
	}
	if _, err := stack.StartHollowNode(ctx, localstack.HollowNodeOptions{Name: name, Pool: DemoPool, Server: server, WaitReady: true}); err != nil {
		return n, err
	}
	return n, nil
}

// waitPoolReady waits until pool's server-derived status counts want Ready nodes, so the
// first `kubectl get np` shows them.
func waitPoolReady(ctx context.Context, yurt yurtclient.Interface, pool string, want int) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		np, err := yurt.AppsV1beta2().NodePools().Get(ctx, pool, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		last = fmt.Sprintf("readyNodeNum %d, nodes %v", np.Status.ReadyNodeNum, np.Status.Nodes)
		return int(np.Status.ReadyNodeNum) >= want, nil
	})
	if err != nil {
		return fmt.Errorf("NodePool %s did not count %d Ready nodes: %s: %w", pool, want, last, err)
	}
	return nil
}

func (o *UpOptions) printControllers() {
	if !o.Controllers {
		return
	}
	fmt.Fprintf(o.Out, "Controllers: kube-controller-manager, kube-scheduler and yurt-manager (health and metrics on http://%s).\n\n", o.managerAddr)
	if len(o.demoNodes) == 0 {
		return
	}
	fmt.Fprintf(o.Out, "NodePool %s has %d hollow node(s) (kubemark kubelets):\n", DemoPool, len(o.demoNodes))
	for _, n := range o.demoNodes {
		if n.Hub == nil {
			fmt.Fprintf(o.Out, "  %s  kubelet -> kube-apiserver\n", n.Name)
			continue
		}
		fmt.Fprintf(o.Out, "  %s  kubelet -> yurthub %s (health %s, cache %s) -> cloud link %s -> kube-apiserver\n",
			n.Name, n.Hub.ProxyURL, n.Hub.HealthURL, filepath.Join(n.Hub.Dir, "cache"), n.Link.Addr())
	}
	fmt.Fprintf(o.Out, `Try:
  kubectl get nodes -L apps.openyurt.io/nodepool
  kubectl get np %s -o wide
  kubectl patch np %s --type merge -p '{"spec":{"labels":{"example.com/site":"a"}}}'
  kubectl create deployment web --image=registry.k8s.io/pause:3.10 --replicas=4 && kubectl get pods -o wide
`, DemoPool, DemoPool)
	if o.Hubs {
		n := o.demoNodes[0].Name
		fmt.Fprintf(o.Out, `  curl -s %[1]s/metrics | grep -E '^yurthub_(pool_leader|cloud_healthy)'   # is this hub the pool leader?
  %[2]s local cut %[3]s --dir %[4]s    # cut the node's hub off the cloud; pick one that is not the leader
  %[2]s local heal %[3]s --dir %[4]s
`, o.demoNodes[0].Hub.HealthURL, filepath.Join(o.BinDir, "yurtctl"), n, o.Dir)
	}
	fmt.Fprintln(o.Out)
}
