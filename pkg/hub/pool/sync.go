package pool

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/generated/clientset/versioned"
	"github.com/yurt-edge/yurt/pkg/coordinator"
	"github.com/yurt-edge/yurt/pkg/coordinator/election"
	"github.com/yurt-edge/yurt/pkg/coordinator/store"
	"github.com/yurt-edge/yurt/pkg/hub/proxy"
)

// Syncer is the leader's task: it keeps the pool-scoped resources in the coordinator in sync
// with the cloud.
type Syncer struct {
	Client *coordinator.Client
	// Cloud reaches the cloud kube-apiserver directly with the node's credentials (see
	// CloudConfig), never through the hub's proxy.
	Cloud *rest.Config
	// Resources are synced always (--pool-scope-resources); the NodePool's
	// spec.poolScopeMetadata adds to them.
	Resources []schema.GroupVersionResource
	// NodePool is the pool's NodePool name; "" skips reading it.
	NodePool string
	// MaxAge is --pool-sync-max-age; markers are refreshed every MaxAge/3.
	MaxAge time.Duration
	// PoolRefresh is how often the NodePool is re-read (default 30s).
	PoolRefresh time.Duration
	// OnSynced, if set, is told after each successful relist (for metrics and tests).
	OnSynced func(gvr schema.GroupVersionResource, items int)

	// maxBatch caps the changes written together (0: maxBatchWrites); BenchmarkLeaderPropagation
	// sets 1 to compare with one transaction per change.
	maxBatch int
}

// CloudConfig is a client configuration that sends every request to server() (the healthy
// cloud API server of the moment) through transport, which carries the node's credentials.
func CloudConfig(server func() *url.URL, transport http.RoundTripper, userAgent string) *rest.Config {
	return &rest.Config{
		Host:      "https://cloud.invalid", // rewritten per request
		UserAgent: userAgent,
		Transport: &toServer{server: server, next: transport},
		// The leader's watches are few and long; no client-side throttling of its relists.
		QPS: -1,
	}
}

type toServer struct {
	server func() *url.URL
	next   http.RoundTripper
}

func (t *toServer) RoundTrip(r *http.Request) (*http.Response, error) {
	u := t.server()
	if u == nil {
		return nil, errors.New("no cloud API server is healthy")
	}
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = u.Scheme, u.Host, u.Host
	return t.next.RoundTrip(r)
}

// Task returns the leader task (leader.Runner.Add).
func (s *Syncer) Task() func(ctx context.Context, l *election.Leadership) {
	return func(ctx context.Context, l *election.Leadership) { s.run(ctx, l) }
}

func (s *Syncer) run(ctx context.Context, l *election.Leadership) {
	logger := klog.FromContext(ctx).WithName("pool-sync")
	ctx = klog.NewContext(ctx, logger)
	st := store.New(s.Client, nil).WithGuard(l.Guard())
	running := map[schema.GroupVersionResource]context.CancelFunc{}
	var wg sync.WaitGroup
	defer func() {
		for _, cancel := range running {
			cancel()
		}
		wg.Wait()
	}()
	refresh := s.PoolRefresh
	if refresh <= 0 {
		refresh = 30 * time.Second
	}
	for {
		want := s.scope(ctx)
		for gvr, cancel := range running {
			if !slices.Contains(want, gvr) {
				logger.Info("Resource left the pool's scope; no longer synced", "resource", gvr.String())
				cancel()
				delete(running, gvr)
			}
		}
		for _, gvr := range want {
			if _, ok := running[gvr]; ok {
				continue
			}
			rctx, cancel := context.WithCancel(ctx)
			running[gvr] = cancel
			wg.Add(1)
			go func() { defer wg.Done(); s.syncResource(rctx, st, gvr) }()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(refresh):
		}
	}
}

// scope is --pool-scope-resources plus the NodePool's spec.poolScopeMetadata.
func (s *Syncer) scope(ctx context.Context) []schema.GroupVersionResource {
	out := append([]schema.GroupVersionResource(nil), s.Resources...)
	if s.NodePool == "" {
		return out
	}
	cs, err := versioned.NewForConfig(s.Cloud)
	if err != nil {
		klog.FromContext(ctx).Error(err, "Creating a NodePool client")
		return out
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	np, err := cs.AppsV1beta2().NodePools().Get(rctx, s.NodePool, metav1.GetOptions{})
	if err != nil {
		if ctx.Err() == nil {
			klog.FromContext(ctx).Info("Cannot read the pool's NodePool; syncing --pool-scope-resources only", "nodepool", s.NodePool, "err", err)
		}
		return out
	}
	for _, g := range np.Spec.PoolScopeMetadata {
		gvr := schema.GroupVersionResource{Group: g.Group, Version: g.Version, Resource: g.Resource}
		if err := coordinator.ValidateGVR(gvr); err != nil {
			klog.FromContext(ctx).Info("Ignoring an invalid poolScopeMetadata entry", "nodepool", s.NodePool, "err", err)
			continue
		}
		if !slices.Contains(out, gvr) {
			out = append(out, gvr)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// syncResource runs a reflector from the cloud into the coordinator until ctx ends. A failed
// coordinator write restarts it, so the next relist repairs whatever the write missed, and the
// marker is refreshed only while every write since the last relist succeeded.
func (s *Syncer) syncResource(ctx context.Context, st *store.Store, gvr schema.GroupVersionResource) {
	logger := klog.FromContext(ctx).WithValues("resource", gvr.String())
	lw, expected, err := s.listWatch(gvr)
	if err != nil {
		logger.Error(err, "Cannot sync the resource")
		return
	}
	interval := s.MaxAge / 3
	if interval <= 0 {
		interval = 10 * time.Second
	}
	for ctx.Err() == nil {
		rctx, cancel := context.WithCancel(ctx)
		rs := newReflectorStore(rctx, cancel, st, gvr, logger, s.OnSynced)
		if s.maxBatch > 0 {
			rs.maxBatch = s.maxBatch
		}
		r := cache.NewReflectorWithOptions(lw, expected, rs, cache.ReflectorOptions{
			Name: "pool-sync " + gvr.String(), TypeDescription: gvr.String(), Logger: &logger,
		})
		var wg sync.WaitGroup
		wg.Go(rs.writeLoop)
		wg.Go(func() { rs.refreshMarker(interval) })
		r.RunWithContext(rctx)
		cancel()
		wg.Wait()
		if ctx.Err() != nil {
			return
		}
		logger.Info("Restarting the resource's sync after a coordinator write failed", "err", rs.failure())
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// listWatch lists and watches gvr in the cloud: typed in protobuf for kinds client-go knows,
// unstructured (JSON) for others.
func (s *Syncer) listWatch(gvr schema.GroupVersionResource) (cache.ListerWatcher, runtime.Object, error) {
	if gvk, ok := proxy.BuiltinKind(gvr); ok {
		cfg := rest.CopyConfig(s.Cloud)
		cfg.GroupVersion = &schema.GroupVersion{Group: gvr.Group, Version: gvr.Version}
		cfg.APIPath = "/apis"
		if gvr.Group == "" {
			cfg.APIPath = "/api"
		}
		cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
		cfg.ContentType = "application/vnd.kubernetes.protobuf"
		cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
		rc, err := rest.RESTClientFor(cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("creating a client for %s: %w", gvr, err)
		}
		expected, err := scheme.Scheme.New(gvk)
		if err != nil {
			return nil, nil, err
		}
		return &cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				return rc.Get().Resource(gvr.Resource).VersionedParams(&o, scheme.ParameterCodec).Do(ctx).Get()
			},
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				o.Watch = true
				return rc.Get().Resource(gvr.Resource).VersionedParams(&o, scheme.ParameterCodec).Watch(ctx)
			},
		}, expected, nil
	}
	dc, err := dynamic.NewForConfig(s.Cloud)
	if err != nil {
		return nil, nil, fmt.Errorf("creating a client for %s: %w", gvr, err)
	}
	ri := dc.Resource(gvr)
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return ri.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return ri.Watch(ctx, o)
		},
	}, &unstructured.Unstructured{}, nil
}

// Limits of the leader's write queue per resource: maxPendingWrites changes may wait for the
// coordinator before the reflector itself waits (so a slow coordinator slows the cloud watch
// down instead of growing memory), and one round writes at most maxBatchWrites of them.
const (
	maxPendingWrites = 1000
	maxBatchWrites   = 500
)

// reflectorStore is the reflector's store: every change goes to the coordinator. The
// reflector hands over changes one at a time and waits for each; writing each in its own
// transaction would cost one coordinator commit (an fsync) per change, serially, and a busy
// cloud outruns that on a loaded disk. So Add, Update and Delete only queue the change, and
// one writer goroutine writes whatever has queued up meanwhile in one round of guarded
// transactions (store.Apply: in order, every change kept). A quiet resource still gets each
// change written at once; a busy one gets batches as large as the coordinator's pace makes them.
type reflectorStore struct {
	ctx      context.Context
	stop     context.CancelFunc
	st       *store.Store
	gvr      schema.GroupVersionResource
	logger   klog.Logger
	onSynced func(schema.GroupVersionResource, int)
	// pending carries the reflector's changes (and resourceVersions) to writeLoop, in order.
	pending chan pendingWrite
	// maxBatch caps the queued items one round takes.
	maxBatch int

	mu     sync.Mutex
	synced bool // a relist completed and every write since succeeded
	rv     string
	err    error
}

// pendingWrite is one queued item: a change, a cloud resourceVersion the coordinator is
// current with once everything before it is written, or a flush request.
type pendingWrite struct {
	change *store.Change
	rv     string
	// flushed, if set, is closed once everything queued before it is written.
	flushed chan struct{}
}

var (
	_ cache.ReflectorStore         = &reflectorStore{}
	_ cache.ResourceVersionUpdater = &reflectorStore{}
)

func newReflectorStore(ctx context.Context, stop context.CancelFunc, st *store.Store, gvr schema.GroupVersionResource,
	logger klog.Logger, onSynced func(schema.GroupVersionResource, int)) *reflectorStore {
	return &reflectorStore{ctx: ctx, stop: stop, st: st, gvr: gvr, logger: logger, onSynced: onSynced,
		pending: make(chan pendingWrite, maxPendingWrites), maxBatch: maxBatchWrites}
}

func (r *reflectorStore) fail(err error) error {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.synced = false
	r.mu.Unlock()
	if r.ctx.Err() == nil {
		if errors.Is(err, store.ErrGuardFailed) {
			r.logger.Info("No longer the pool's leader; stopping the sync", "err", err)
		} else {
			r.logger.Error(err, "Writing to the pool coordinator failed; the resource will be relisted")
		}
	}
	r.stop()
	return err
}

func (r *reflectorStore) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// stopped is the error for a queue that no longer takes writes.
func (r *reflectorStore) stopped() error {
	if err := r.failure(); err != nil {
		return err
	}
	return fmt.Errorf("the sync of %s stopped: %w", r.gvr, r.ctx.Err())
}

// enqueue hands w to writeLoop, waiting while the queue is full.
func (r *reflectorStore) enqueue(w pendingWrite) error {
	if r.ctx.Err() != nil {
		// Checked first: with room in the queue, the select below could still pick the send.
		return r.stopped()
	}
	select {
	case r.pending <- w:
		return nil
	case <-r.ctx.Done():
		return r.stopped()
	}
}

// writeLoop writes the queued changes until the sync stops or a write fails: it waits for
// one, takes every change queued behind it (up to maxBatchWrites, and up to a flush request)
// and writes them with one Apply.
func (r *reflectorStore) writeLoop() {
	batch := make([]pendingWrite, 0, r.maxBatch)
	changes := make([]store.Change, 0, r.maxBatch)
	for {
		batch, changes = batch[:0], changes[:0]
		select {
		case <-r.ctx.Done():
			return
		case w := <-r.pending:
			batch = append(batch, w)
		}
	more:
		for len(batch) < r.maxBatch && batch[len(batch)-1].flushed == nil {
			select {
			case w := <-r.pending:
				batch = append(batch, w)
			default:
				break more
			}
		}
		rv := ""
		for _, w := range batch {
			if w.change != nil {
				changes = append(changes, *w.change)
			}
			if w.rv != "" {
				rv = w.rv
			}
		}
		if len(changes) > 0 {
			if _, err := r.st.Apply(r.ctx, r.gvr, changes); err != nil {
				_ = r.fail(err)
				return
			}
		}
		if rv != "" {
			r.mu.Lock()
			r.rv = rv
			r.mu.Unlock()
		}
		if last := batch[len(batch)-1]; last.flushed != nil {
			close(last.flushed)
		}
	}
}

// flush waits until every change queued so far is written.
func (r *reflectorStore) flush() error {
	done := make(chan struct{})
	if err := r.enqueue(pendingWrite{flushed: done}); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-r.ctx.Done():
		return r.stopped()
	}
}

func (r *reflectorStore) put(obj interface{}) error {
	o, ok := obj.(runtime.Object)
	if !ok {
		return r.fail(fmt.Errorf("unexpected %T from the reflector", obj))
	}
	return r.enqueue(pendingWrite{change: &store.Change{Object: o}})
}

func (r *reflectorStore) Add(obj interface{}) error    { return r.put(obj) }
func (r *reflectorStore) Update(obj interface{}) error { return r.put(obj) }

func (r *reflectorStore) Delete(obj interface{}) error {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return r.fail(fmt.Errorf("deleting a %T: %w", obj, err))
	}
	return r.enqueue(pendingWrite{change: &store.Change{Namespace: m.GetNamespace(), Name: m.GetName()}})
}

// Replace writes a relist once the changes queued before it are written (a relist after a
// watch expired follows that watch's changes).
func (r *reflectorStore) Replace(list []interface{}, rv string) error {
	items := make([]runtime.Object, 0, len(list))
	for _, it := range list {
		o, ok := it.(runtime.Object)
		if !ok {
			return r.fail(fmt.Errorf("unexpected %T in the reflector's list", it))
		}
		items = append(items, o)
	}
	if err := r.flush(); err != nil {
		return err
	}
	res, err := r.st.Replace(r.ctx, r.gvr, items, rv)
	if err != nil {
		return r.fail(err)
	}
	r.mu.Lock()
	r.synced, r.rv = r.err == nil, rv
	r.mu.Unlock()
	r.logger.Info("Synced the resource into the pool coordinator", "items", len(items), "written", res.Written,
		"deleted", res.Deleted, "unchanged", res.Unchanged, "cloudResourceVersion", rv)
	if r.onSynced != nil {
		r.onSynced(r.gvr, len(items))
	}
	return nil
}

func (r *reflectorStore) Resync() error { return nil }

// UpdateResourceVersion records the cloud resourceVersion the coordinator is current with
// once the changes queued before it are written (the sync marker carries it).
func (r *reflectorStore) UpdateResourceVersion(rv string) {
	_ = r.enqueue(pendingWrite{rv: rv})
}

// refreshMarker rewrites the sync marker every interval while the resource is synced.
func (r *reflectorStore) refreshMarker(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		synced, rv := r.synced, r.rv
		r.mu.Unlock()
		if !synced {
			continue
		}
		wctx, cancel := context.WithTimeout(r.ctx, interval)
		_, err := r.st.MarkSynced(wctx, r.gvr, rv)
		cancel()
		if err != nil && r.ctx.Err() == nil {
			_ = r.fail(fmt.Errorf("refreshing the sync marker: %w", err))
			return
		}
	}
}
