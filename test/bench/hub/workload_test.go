package hub_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/yurt-edge/yurt/apis/apps"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	yurtclient "github.com/yurt-edge/yurt/generated/clientset/versioned"
	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

// The anchor workload: numServices Services, each with one EndpointSlice of
// endpointsPerSlice endpoints, in namespace benchNS.
const (
	benchNS           = "bench"
	numServices       = 1000
	endpointsPerSlice = 50
	benchPool         = "bench-pool"
	writers           = 16
)

// workload is the created anchor workload: the slices as last written, for churn.
type workload struct {
	mu     sync.Mutex
	slices []*discoveryv1.EndpointSlice
}

var (
	setupOnce  sync.Once
	setupErr   error
	anchor     *workload
	adminKube  kubernetes.Interface
	setupTaken time.Duration
)

func serviceName(i int) string { return fmt.Sprintf("svc-%04d", i) }
func sliceName(i int) string   { return fmt.Sprintf("svc-%04d-bench", i) }

// setup creates, once per run: the RBAC hubs need (artifacts/deploy/21-yurthub-rbac.yaml, plus
// get on EndpointSlices for the get measurement, which kube-proxy's role lacks), the NodePool,
// and the anchor workload.
func setup(b *testing.B) (*localstack.Stack, *workload) {
	b.Helper()
	stack := framework.Stack(b)
	setupOnce.Do(func() {
		start := time.Now()
		// The project's own RBAC for hubs (nodepools and responsefilters for the filter engine,
		// system:node-proxier for what kube-proxy reads through the hub).
		if out, err := framework.Kubectl(b, "apply", "-f", framework.RepoPath(b, "artifacts", "deploy", "21-yurthub-rbac.yaml")); err != nil {
			setupErr = fmt.Errorf("applying the yurthub RBAC: %w\n%s", err, out)
			return
		}
		setupErr = createWorkload(context.Background(), stack)
		setupTaken = time.Since(start)
		if setupErr == nil {
			b.Logf("created %d services and %d endpointslices of %d endpoints in %s", numServices, numServices, endpointsPerSlice, setupTaken.Round(time.Millisecond))
		}
	})
	if setupErr != nil {
		b.Fatal(setupErr)
	}
	return stack, anchor
}

func createWorkload(ctx context.Context, stack *localstack.Stack) error {
	cfg := stack.RESTConfig()
	cfg.QPS, cfg.Burst = -1, 0
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	adminKube = kube
	yurt, err := yurtclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	bindings := []struct{ name, role string }{
		{"yurthub-bench-endpointslice-reader", "yurthub-bench-endpointslice-reader"},
	}
	reader := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "yurthub-bench-endpointslice-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get"}}},
	}
	if _, err := kube.RbacV1().ClusterRoles().Create(ctx, reader, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating ClusterRole %s: %w", reader.Name, err)
	}
	for _, bd := range bindings {
		crb := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: bd.name},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: bd.role},
			Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "Group", Name: "system:nodes"}},
		}
		if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating ClusterRoleBinding %s: %w", crb.Name, err)
		}
	}
	pool := &appsv1beta2.NodePool{ObjectMeta: metav1.ObjectMeta{Name: benchPool}, Spec: appsv1beta2.NodePoolSpec{Type: appsv1beta2.Edge}}
	if _, err := yurt.AppsV1beta2().NodePools().Create(ctx, pool, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating NodePool %s: %w", benchPool, err)
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNS}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", benchNS, err)
	}
	w := &workload{slices: make([]*discoveryv1.EndpointSlice, numServices)}
	err = parallel(numServices, func(i int) error {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: serviceName(i), Namespace: benchNS},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": serviceName(i)},
				Ports:    []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
			},
		}
		if _, err := kube.CoreV1().Services(benchNS).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating service %s: %w", svc.Name, err)
		}
		created, err := kube.DiscoveryV1().EndpointSlices(benchNS).Create(ctx, newSlice(i), metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("creating endpointslice %s: %w", sliceName(i), err)
		}
		w.slices[i] = created
		return nil
	})
	if err != nil {
		return err
	}
	anchor = w
	return nil
}

// newSlice is service i's EndpointSlice, shaped like the endpointslice controller's: 50 ready
// pod endpoints on 50 nodes, one named port.
func newSlice(i int) *discoveryv1.EndpointSlice {
	eps := make([]discoveryv1.Endpoint, endpointsPerSlice)
	for j := range eps {
		k := i*endpointsPerSlice + j
		eps[j] = discoveryv1.Endpoint{
			Addresses:  []string{fmt.Sprintf("10.244.%d.%d", k/256, k%256)},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
			NodeName:   ptr.To(fmt.Sprintf("edge-node-%02d", j)),
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: benchNS, Name: fmt.Sprintf("%s-pod-%02d", serviceName(i), j)},
		}
	}
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: sliceName(i), Namespace: benchNS, Labels: map[string]string{
			discoveryv1.LabelServiceName: serviceName(i),
			discoveryv1.LabelManagedBy:   "bench.yurt.io",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   eps,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
}

// churn changes count slices (0..count-1), at most rate a second: each flips the readiness of
// one endpoint, as a pod going unready or ready does. It returns each changed slice's
// generation after the change.
func (w *workload) churn(ctx context.Context, kube kubernetes.Interface, count, rate int) (map[string]int64, error) {
	want := make(map[string]int64, count)
	var mu sync.Mutex
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	var next atomic.Int64
	err := parallel(count, func(i int) error {
		// Pace: update n may start no earlier than start + n·interval.
		n := next.Add(1) - 1
		if d := time.Until(start.Add(time.Duration(n) * interval)); d > 0 {
			time.Sleep(d)
		}
		w.mu.Lock()
		s := w.slices[i].DeepCopy()
		w.mu.Unlock()
		ep := &s.Endpoints[int(s.Generation)%len(s.Endpoints)]
		ep.Conditions.Ready = ptr.To(!*ep.Conditions.Ready)
		ep.Conditions.Serving = ep.Conditions.Ready
		updated, err := kube.DiscoveryV1().EndpointSlices(benchNS).Update(ctx, s, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("updating endpointslice %s: %w", s.Name, err)
		}
		w.mu.Lock()
		w.slices[i] = updated
		w.mu.Unlock()
		mu.Lock()
		want[updated.Name] = updated.Generation
		mu.Unlock()
		return nil
	})
	return want, err
}

// parallel runs f(0..n-1) on writers goroutines and returns the first error.
func parallel(n int, f func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					errs <- err
					next.Store(int64(n)) // stop the others
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// proxyWatcher does what kube-proxy does with the API: informers on Services and
// EndpointSlices (without the service-proxy-name and headless labels) and on its own Node,
// protobuf, kube-proxy's User-Agent. Objects are reduced to what the benchmark checks (name and
// generation) before they are stored, so 20 watchers do not fill this process's memory; the
// requests and responses are unchanged.
type proxyWatcher struct {
	stop chan struct{}
	mu   sync.Mutex
	gen  map[string]int64 // EndpointSlice name → generation seen
}

func startProxyWatcher(cfg *rest.Config, nodeName string) (*proxyWatcher, error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	noProxyName, err := labels.NewRequirement("service.kubernetes.io/service-proxy-name", selection.DoesNotExist, nil)
	if err != nil {
		return nil, err
	}
	noHeadless, err := labels.NewRequirement(corev1.IsHeadlessService, selection.DoesNotExist, nil)
	if err != nil {
		return nil, err
	}
	selector := labels.NewSelector().Add(*noProxyName, *noHeadless).String()
	factory := informers.NewSharedInformerFactoryWithOptions(client, 15*time.Minute,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = selector }))
	nodeFactory := informers.NewSharedInformerFactoryWithOptions(client, 15*time.Minute,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", nodeName).String()
		}))
	pw := &proxyWatcher{stop: make(chan struct{}), gen: map[string]int64{}}
	slim := func(obj any) (any, error) {
		switch o := obj.(type) {
		case *discoveryv1.EndpointSlice:
			return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, ResourceVersion: o.ResourceVersion, Generation: o.Generation}}, nil
		case *corev1.Service:
			return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, ResourceVersion: o.ResourceVersion}}, nil
		}
		return obj, nil
	}
	slices := factory.Discovery().V1().EndpointSlices().Informer()
	services := factory.Core().V1().Services().Informer()
	nodeFactory.Core().V1().Nodes().Informer() // registers it before Start
	for _, inf := range []cache.SharedIndexInformer{slices, services} {
		if err := inf.SetTransform(slim); err != nil {
			return nil, err
		}
	}
	record := func(obj any) {
		if s, ok := obj.(*discoveryv1.EndpointSlice); ok && s.Namespace == benchNS {
			pw.mu.Lock()
			pw.gen[s.Name] = s.Generation
			pw.mu.Unlock()
		}
	}
	if _, err := slices.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: record, UpdateFunc: func(_, cur any) { record(cur) }}); err != nil {
		return nil, err
	}
	factory.Start(pw.stop)
	nodeFactory.Start(pw.stop)
	return pw, nil
}

// waitSynced waits until the watcher has every anchor slice and service.
func (pw *proxyWatcher) waitSynced(ctx context.Context) error {
	for {
		pw.mu.Lock()
		n := len(pw.gen)
		pw.mu.Unlock()
		if n >= numServices {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kube-proxy-like watcher has %d of %d endpointslices: %w", n, numServices, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// missing counts the slices whose generation in want has not been seen yet.
func (pw *proxyWatcher) missing(want map[string]int64) int {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	n := 0
	for name, g := range want {
		if pw.gen[name] < g {
			n++
		}
	}
	return n
}

func (pw *proxyWatcher) close() {
	if pw != nil {
		close(pw.stop)
	}
}

// createNode creates the Node object of a hub's node, in the bench pool.
func createNode(ctx context.Context, name string) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"kubernetes.io/hostname": name, apps.NodePoolLabel: benchPool,
	}}}
	if _, err := adminKube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating node %s: %w", name, err)
	}
	return nil
}
