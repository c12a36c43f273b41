package responsefilter

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	appsapi "github.com/yurt-edge/yurt/apis/apps"
	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	"github.com/yurt-edge/yurt/generated/clientset/versioned"
	yurtinformers "github.com/yurt-edge/yurt/generated/informers/externalversions"
	"github.com/yurt-edge/yurt/pkg/filter"
)

// RunnerOptions configure a Runner.
type RunnerOptions struct {
	// NodeName and NodePool are this node's (--node-name, --nodepool). The Node's
	// apps.openyurt.io/nodepool label wins over NodePool once the Node is known.
	NodeName, NodePool string
	// SyncWait bounds how long responses wait, after a start, for the filters and lookups to
	// load (they may never, offline with an empty cache).
	SyncWait time.Duration
	// Compiler options (cost budget); Lookup is set by the Runner.
	Compiler filter.CompilerOptions
	Logger   klog.Logger
}

// Runner keeps a Manager's filters current and backs the filters' nodePool() and service()
// with informers; it implements filter.Lookup.
type Runner struct {
	opts     RunnerOptions
	manager  *Manager
	compiler *filter.Compiler
	synced   chan struct{}

	mu       sync.RWMutex
	node     *corev1.Node
	pools    map[string]string // node name → pool, from NodePool status.nodes
	services cache.Store
	good     map[string]*filter.Filter // last filter that compiled, per name
}

var _ filter.Lookup = &Runner{}

// NewRunner builds the runner and its Manager (to give the proxy Handler before Run).
func NewRunner(opts RunnerOptions) (*Runner, error) {
	if opts.SyncWait <= 0 {
		opts.SyncWait = 10 * time.Second
	}
	r := &Runner{opts: opts, synced: make(chan struct{}), pools: map[string]string{}, good: map[string]*filter.Filter{}}
	copts := opts.Compiler
	copts.Lookup = r
	c, err := filter.NewCompiler(copts)
	if err != nil {
		return nil, fmt.Errorf("building the response filter compiler: %w", err)
	}
	r.compiler = c
	r.manager = NewManager(ManagerOptions{Logger: opts.Logger, Node: r.Node, Synced: r.synced})
	return r, nil
}

// Manager is what the proxy Handler filters responses with.
func (r *Runner) Manager() *Manager { return r.manager }

// Synced closes once the filters and their lookups have been loaded, or Run gave up waiting.
func (r *Runner) Synced() <-chan struct{} { return r.synced }

// NodePool implements filter.Lookup.
func (r *Runner) NodePool(nodeName string) string {
	if nodeName == r.opts.NodeName {
		return r.Node().Pool
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.pools[nodeName]
}

// Service implements filter.Lookup. The content is the informer's and must not be modified
// (filters never modify their inputs).
func (r *Runner) Service(namespace, name string) (map[string]any, bool) {
	r.mu.RLock()
	store := r.services
	r.mu.RUnlock()
	if store == nil {
		return nil, false
	}
	obj, ok, err := store.GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return nil, false
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, false
	}
	return u.Object, true
}

// Node returns this node as filters see it.
func (r *Runner) Node() filter.Node {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := filter.Node{Name: r.opts.NodeName, Pool: r.opts.NodePool}
	if r.node != nil {
		n.Labels = r.node.Labels
		if p := r.node.Labels[appsapi.NodePoolLabel]; p != "" {
			n.Pool = p
		}
	}
	if n.Pool == "" {
		n.Pool = r.pools[r.opts.NodeName]
	}
	return n
}

// Run runs the informers until ctx ends. config reaches the hub's own proxy (e.g.
// http://127.0.0.1:10261, no credentials): the informers' responses are then cached like any
// agent's and served while offline. Its UserAgent is replaced with UserAgent.
func (r *Runner) Run(ctx context.Context, config *rest.Config) error {
	logger := r.opts.Logger
	cfg := rest.CopyConfig(config)
	cfg.UserAgent = UserAgent
	// JSON: the hub's cache decodes what it stores with client-go's scheme, which has no
	// protobuf form of the Yurt kinds; a protobuf response would not be cached (and the
	// filters would not survive an offline restart).
	cfg.ContentType, cfg.AcceptContentTypes = "application/json", "application/json"
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("response filters: building a client: %w", err)
	}
	yurt, err := versioned.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("response filters: building a client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("response filters: building a client: %w", err)
	}

	yf := yurtinformers.NewSharedInformerFactory(yurt, 0)
	filters := yf.Apps().V1alpha1().ResponseFilters()
	pools := yf.Apps().V1beta2().NodePools()
	nodeF := informers.NewSharedInformerFactoryWithOptions(kube, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", r.opts.NodeName).String()
	}))
	nodes := nodeF.Core().V1().Nodes()
	df := dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	services := df.ForResource(schema.GroupVersionResource{Version: "v1", Resource: "services"}).Informer()
	// Filters read a Service's metadata and spec, not its managedFields, which are a good part
	// of each of the (every namespace's) Services this informer keeps in memory.
	if err := services.SetTransform(dropManagedFields); err != nil {
		return fmt.Errorf("response filters: %w", err)
	}
	r.mu.Lock()
	r.services = services.GetStore()
	r.mu.Unlock()

	refilter := func() {
		rfs, _ := filters.Lister().List(labels.Everything()) // a lister's List does not fail
		r.reload(rfs)
	}
	if _, err := filters.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { refilter() }, UpdateFunc: func(any, any) { refilter() }, DeleteFunc: func(any) { refilter() },
	}); err != nil {
		return err
	}
	repool := func() {
		nps, _ := pools.Lister().List(labels.Everything())
		r.reloadPools(nps)
	}
	if _, err := pools.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { repool() }, UpdateFunc: func(any, any) { repool() }, DeleteFunc: func(any) { repool() },
	}); err != nil {
		return err
	}
	setNode := func(obj any) {
		if n, ok := obj.(*corev1.Node); ok && n.Name == r.opts.NodeName {
			r.mu.Lock()
			r.node = n
			r.mu.Unlock()
		}
	}
	if _, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: setNode, UpdateFunc: func(_, n any) { setNode(n) },
	}); err != nil {
		return err
	}
	serviceChanged := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if u, ok := obj.(*unstructured.Unstructured); ok {
			r.manager.ServiceChanged(u.GetNamespace(), u.GetName())
		}
	}
	if _, err := services.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: serviceChanged,
		UpdateFunc: func(old, cur any) {
			o, ok1 := old.(*unstructured.Unstructured)
			c, ok2 := cur.(*unstructured.Unstructured)
			if ok1 && ok2 && o.GetResourceVersion() == c.GetResourceVersion() {
				return
			}
			serviceChanged(cur)
		},
		DeleteFunc: serviceChanged,
	}); err != nil {
		return err
	}

	// An informer whose first list is refused (no RBAC for the node, yurt-apiserver not
	// installed, offline with nothing cached) counts as loaded for the wait below: it keeps
	// retrying, but responses should not wait for it.
	var settled []cache.InformerSynced
	for name, inf := range map[string]cache.SharedIndexInformer{
		"responsefilters": filters.Informer(), "nodepools": pools.Informer(), "node": nodes.Informer(), "services": services,
	} {
		failed := &atomic.Bool{}
		if err := inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, rf *cache.Reflector, err error) {
			if !failed.Swap(true) {
				logger.Info("Response filters: reading through the hub failed; retrying, not waiting for it", "what", name, "err", err)
			}
			cache.DefaultWatchErrorHandler(ctx, rf, err)
		}); err != nil {
			return err
		}
		settled = append(settled, func() bool { return inf.HasSynced() || failed.Load() })
	}
	yf.Start(ctx.Done())
	nodeF.Start(ctx.Done())
	df.Start(ctx.Done())
	go func() {
		// Responses wait for the first load, but only so long: it may never come, and the hub
		// must still serve.
		waitCtx, cancel := context.WithTimeout(ctx, r.opts.SyncWait)
		defer cancel()
		if !cache.WaitForCacheSync(waitCtx.Done(), settled...) && ctx.Err() == nil {
			logger.Info("Response filters and their lookups are not loaded yet; serving meanwhile with what is loaded", "waited", r.opts.SyncWait)
		}
		close(r.synced)
	}()
	<-ctx.Done()
	yf.Shutdown()
	nodeF.Shutdown()
	df.Shutdown()
	return nil
}

// reload compiles the current ResponseFilters (cached per generation) and installs them. A
// filter that fails to compile here (yurt-apiserver should have rejected it) keeps its last
// good version.
func (r *Runner) reload(rfs []*appsv1alpha1.ResponseFilter) {
	present := map[string]bool{}
	var out []*filter.Filter
	sort.Slice(rfs, func(i, j int) bool { return rfs[i].Name < rfs[j].Name })
	r.mu.Lock()
	for _, rf := range rfs {
		present[rf.Name] = true
		f, errs := r.compiler.Compile(rf)
		if len(errs) > 0 {
			r.opts.Logger.Error(errs.ToAggregate(), "A ResponseFilter does not compile; keeping its last good version", "filter", rf.Name, "generation", rf.Generation)
			f = r.good[rf.Name]
		} else {
			r.good[rf.Name] = f
		}
		if f != nil {
			out = append(out, f)
		}
	}
	for name := range r.good {
		if !present[name] {
			delete(r.good, name)
			r.compiler.Forget(name)
		}
	}
	r.mu.Unlock()
	r.manager.SetFilters(out)
}

func (r *Runner) reloadPools(nps []*appsv1beta2.NodePool) {
	m := map[string]string{}
	for _, np := range nps {
		for _, n := range np.Status.Nodes {
			m[n] = np.Name
		}
	}
	r.mu.Lock()
	changed := !maps.Equal(r.pools, m)
	r.pools = m
	r.mu.Unlock()
	// Pool status also changes with node readiness; only membership matters to filters.
	if changed {
		r.manager.NodePoolsChanged()
	}
}

// dropManagedFields is an informer transform that keeps objects without their managedFields.
func dropManagedFields(obj any) (any, error) {
	if m, ok := obj.(interface {
		SetManagedFields([]metav1.ManagedFieldsEntry)
	}); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}
