package pool

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2/ktesting"

	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	"github.com/yurt-edge/yurt/pkg/coordinator"
	ct "github.com/yurt-edge/yurt/pkg/coordinator/coordinatortest"
	"github.com/yurt-edge/yurt/pkg/coordinator/election"
	"github.com/yurt-edge/yurt/pkg/coordinator/store"
	"github.com/yurt-edge/yurt/pkg/hub/metrics"
	"github.com/yurt-edge/yurt/pkg/hub/proxy"
	"github.com/yurt-edge/yurt/pkg/localstack"
)

const testPool = "pool-a"

var configMapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

func TestParseSyncKey(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want schema.GroupVersionResource
		ok   bool
	}{
		{"core/v1/services", ct.ServicesGVR, true},
		{"discovery.k8s.io/v1/endpointslices", ct.EndpointSlicesGVR, true},
		{"example.com/v1/widgets", ct.WidgetsGVR, true},
		{"v1/services", schema.GroupVersionResource{}, false},
		{"core//services", schema.GroupVersionResource{}, false},
		{"a/b/c/d", schema.GroupVersionResource{}, false},
	} {
		got, err := parseSyncKey(tc.key)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%q: %v %v, want %v ok=%v", tc.key, got, err, tc.want, tc.ok)
		}
		if tc.ok && coordinator.SyncKey(testPool, got) != coordinator.PoolPrefix(testPool)+"sync/"+tc.key {
			t.Errorf("%q does not round-trip through SyncKey", tc.key)
		}
	}
}

// fakeCloud serves list/watch of one "cloud" from a separate pool of the same etcd through a
// hub handler (a stand-in kube-apiserver for the leader's reflector), plus the pool's NodePool.
type fakeCloud struct {
	store *store.Store
	srv   *httptest.Server
	mu    sync.Mutex
	scope []metav1.GroupVersionResource
	// watches counts watch requests by resource.
	watches map[string]int
}

func newFakeCloud(t testing.TB, e *ct.Etcd) *fakeCloud {
	logger, _ := ktesting.NewTestContext(t)
	c := e.NewClient(t, "the-cloud", "cloud", nil)
	f := &fakeCloud{store: store.New(c, nil), watches: map[string]int{}}
	resp, err := c.Etcd.Get(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	epoch := fmt.Sprintf("%x", resp.Header.ClusterId)
	src := &proxy.CoordinatorSource{Store: f.store, Epoch: func() string { return epoch }, MaxWatchTimeout: time.Minute}
	h := &proxy.Handler{CacheAgents: sets.New[string](), Route: func(*proxy.Request) proxy.Source { return src }, Metrics: metrics.New(), Logger: logger}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/apis/apps.openyurt.io/v1beta2/nodepools/"+testPool {
			f.mu.Lock()
			np := appsv1beta2.NodePool{TypeMeta: metav1.TypeMeta{APIVersion: "apps.openyurt.io/v1beta2", Kind: "NodePool"},
				ObjectMeta: metav1.ObjectMeta{Name: testPool}, Spec: appsv1beta2.NodePoolSpec{PoolScopeMetadata: f.scope}}
			f.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(&np)
			return
		}
		if r.URL.Query().Get("watch") == "true" {
			f.mu.Lock()
			f.watches[r.URL.Path]++
			f.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCloud) put(t testing.TB, gvr schema.GroupVersionResource, obj runtime.Object) {
	t.Helper()
	if _, err := f.store.Put(context.Background(), gvr, obj); err != nil {
		t.Fatal(err)
	}
}

func names(t *testing.T, s *store.Store, gvr schema.GroupVersionResource) string {
	t.Helper()
	res, err := s.List(context.Background(), gvr, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range res.Items {
		m := o.(interface{ GetName() string })
		out = append(out, m.GetName())
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The leader's sync: relist into the coordinator, follow changes, add the NodePool's
// poolScopeMetadata, refresh the marker, and stop writing once deposed. A follower's tracker
// sees the markers fresh, then stale when the leader stops.
func TestSyncerAndTracker(t *testing.T) {
	e := ct.Start(t, nil)
	cloud := newFakeCloud(t, e)
	cloud.put(t, ct.ServicesGVR, ct.Service("default", "a", "1"))
	cloud.put(t, ct.ServicesGVR, ct.Service("default", "b", "2"))
	cloud.put(t, ct.EndpointSlicesGVR, ct.EndpointSlice("default", "a-1", "a", "3", 5))
	cloud.put(t, configMapsGVR, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "cm"}, Data: map[string]string{"k": "v"}})
	cloud.scope = []metav1.GroupVersionResource{{Version: "v1", Resource: "configmaps"}}

	_, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	leaderClient := e.NewClient(t, testPool, "hub-1", coordinator.NewMetrics(nil))
	follower := e.NewClient(t, testPool, "hub-2", coordinator.NewMetrics(nil))
	pool := store.New(follower, nil)

	var staleMu sync.Mutex
	var stale []string
	tr := &Tracker{Client: follower, MaxAge: 2 * time.Second, Interval: 100 * time.Millisecond,
		OnStale: func(reason string) { staleMu.Lock(); stale = append(stale, reason); staleMu.Unlock() }}
	go tr.Run(ctx)
	sched := tr.BecameFresh(ct.EndpointSlicesGVR)

	l, err := election.New(leaderClient, 2*time.Second).Campaign(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(cloud.srv.URL)
	s := &Syncer{
		Client: leaderClient, Cloud: CloudConfig(func() *url.URL { return u }, http.DefaultTransport, "yurthub/pool-leader"),
		Resources: []schema.GroupVersionResource{ct.ServicesGVR, ct.EndpointSlicesGVR}, NodePool: testPool,
		MaxAge: 2 * time.Second, PoolRefresh: 300 * time.Millisecond,
	}
	taskCtx, stopTask := context.WithCancel(ctx)
	taskDone := make(chan struct{})
	go func() { defer close(taskDone); s.Task()(taskCtx, l) }()

	waitFor(t, "the first sync", func() bool {
		return names(t, pool, ct.ServicesGVR) == "a,b" && names(t, pool, ct.EndpointSlicesGVR) == "a-1" && names(t, pool, configMapsGVR) == "cm"
	})
	m, err := pool.SyncMarker(ctx, ct.ServicesGVR)
	if err != nil || m.Holder != "hub-1" || !proxy.IsCoordinatorResourceVersion(m.CloudResourceVersion) {
		t.Fatalf("services marker %+v %v", m, err)
	}
	waitFor(t, "the tracker to see the markers fresh", func() bool {
		return tr.Fresh(ct.ServicesGVR) && tr.Fresh(ct.EndpointSlicesGVR) && tr.Fresh(configMapsGVR)
	})
	select {
	case <-sched:
	default:
		t.Error("BecameFresh was not closed when endpointslices turned fresh")
	}
	if tr.Fresh(ct.WidgetsGVR) {
		t.Error("a resource nobody syncs is fresh")
	}

	// Changes follow.
	cloud.put(t, ct.ServicesGVR, ct.Service("default", "c", "10"))
	if _, err := cloud.store.Delete(ctx, ct.ServicesGVR, "default", "a"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "changes", func() bool { return names(t, pool, ct.ServicesGVR) == "b,c" })
	// The marker is refreshed while syncing (every MaxAge/3).
	waitFor(t, "a refreshed marker", func() bool {
		m2, err := pool.SyncMarker(ctx, ct.ServicesGVR)
		return err == nil && m2.Time.After(m.Time)
	})
	// One cloud watch per resource.
	cloud.mu.Lock()
	for path, n := range cloud.watches {
		if n != 1 {
			t.Errorf("%d cloud watches of %s, want 1", n, path)
		}
	}
	cloud.mu.Unlock()

	// Scope shrinks: configmaps no longer synced (its marker ages out).
	cloud.mu.Lock()
	cloud.scope = nil
	cloud.mu.Unlock()
	time.Sleep(time.Second) // the NodePool is re-read every 300ms
	cloud.put(t, configMapsGVR, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "cm2"}})
	waitFor(t, "configmaps to turn stale", func() bool { return !tr.Fresh(configMapsGVR) })
	if names(t, pool, configMapsGVR) != "cm" {
		t.Errorf("configmaps were synced after leaving the scope: %s", names(t, pool, configMapsGVR))
	}
	if !tr.Fresh(ct.ServicesGVR) {
		t.Error("services turned stale while synced")
	}

	// Deposed: writes are refused by the coordinator itself.
	if err := l.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	cloud.put(t, ct.ServicesGVR, ct.Service("default", "d", "20"))
	time.Sleep(1500 * time.Millisecond)
	if got := names(t, pool, ct.ServicesGVR); got != "b,c" {
		t.Errorf("a deposed leader still wrote: %s", got)
	}
	stopTask()
	select {
	case <-taskDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the task did not return after its context ended")
	}
	waitFor(t, "the markers to turn stale without a leader", func() bool { return !tr.Fresh(ct.ServicesGVR) })
	staleMu.Lock()
	defer staleMu.Unlock()
	if len(stale) == 0 {
		t.Error("OnStale was not called")
	}
}

// A coordinator that stops answering makes every resource stale at the next poll; a corrupt
// marker is never fresh.
func TestTrackerUnavailableAndCorrupt(t *testing.T) {
	e := ct.Start(t, nil)
	// The hub reaches the coordinator through a forwarder, which the test closes to make
	// the coordinator unreachable.
	u, _ := url.Parse(e.Endpoints[0])
	fwd, err := localstack.Forward("127.0.0.1:0", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer fwd.Close()
	o := coordinator.NewOptions()
	o.Endpoints, o.Pool, o.Identity = []string{"http://" + fwd.Addr()}, testPool, "hub-1"
	o.DialTimeout = 300 * time.Millisecond
	c, err := coordinator.New(o, coordinator.NewMetrics(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := store.New(c, nil)
	_, ctx := ktesting.NewTestContext(t)
	if _, err := s.MarkSynced(ctx, ct.ServicesGVR, "5"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Etcd.Put(ctx, coordinator.SyncKey(testPool, ct.EndpointSlicesGVR), "garbage"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Etcd.Put(ctx, coordinator.PoolPrefix(testPool)+"sync/bad-key", `{"holder":"x","time":"2026-01-01T00:00:00Z"}`); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var stale []string
	tr := &Tracker{Client: c, MaxAge: time.Minute, Interval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond,
		OnStale: func(r string) { mu.Lock(); stale = append(stale, r); mu.Unlock() }}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go tr.Run(ctx)
	waitFor(t, "services fresh", func() bool { return tr.Fresh(ct.ServicesGVR) })
	if tr.Fresh(ct.EndpointSlicesGVR) {
		t.Error("a corrupt marker is fresh")
	}
	if tr.Epoch() == "" {
		t.Error("no epoch")
	}
	tr.Unavailable(ctx, fmt.Errorf("test"))
	if tr.Fresh(ct.ServicesGVR) {
		t.Error("fresh right after Unavailable")
	}
	waitFor(t, "fresh again after a good poll", func() bool { return tr.Fresh(ct.ServicesGVR) })
	_ = fwd.Close()
	waitFor(t, "stale once the coordinator is gone", func() bool { return !tr.Fresh(ct.ServicesGVR) })
	mu.Lock()
	defer mu.Unlock()
	if len(stale) < 2 {
		t.Errorf("OnStale calls %v, want one for Unavailable and one for the dead coordinator", stale)
	}
}

type namedSource struct {
	name   string
	served chan *proxy.Request
}

func (s *namedSource) Name() string                    { return s.name }
func (s *namedSource) OwnsResourceVersion(string) bool { return true }
func (s *namedSource) Serve(w http.ResponseWriter, r *http.Request, req *proxy.Request) {
	s.served <- req
	if req.Verb == "watch" {
		<-req.Done // a watch runs until its source says stop
	}
}

func TestRouter(t *testing.T) {
	tr := &Tracker{MaxAge: time.Minute}
	coord := &namedSource{name: "coordinator", served: make(chan *proxy.Request, 10)}
	cloud := &namedSource{name: "cloud", served: make(chan *proxy.Request, 10)}
	route := Router(tr, coord, func(*proxy.Request) proxy.Source { return cloud })
	req := func(verb, path string) *proxy.Request {
		r, _ := http.NewRequest(http.MethodGet, path, nil)
		if accept, ok := strings.CutPrefix(verb, "accept:"); ok {
			r.Header.Set("Accept", accept)
			verb = ""
		}
		pr, err := proxy.ParseRequest(r, sets.New[string]())
		if err != nil {
			t.Fatal(err)
		}
		if verb != "" {
			pr.Verb = verb
		}
		return pr
	}
	fresh := func(gvrs ...schema.GroupVersionResource) {
		m := map[schema.GroupVersionResource]*store.SyncMarker{}
		for _, g := range gvrs {
			m[g] = &store.SyncMarker{Holder: "x", Time: time.Now()}
		}
		tr.update(m, "e1")
	}
	fresh(ct.ServicesGVR)
	for _, tc := range []struct {
		name, verb, path, want string
	}{
		{"list of a fresh resource", "", "/api/v1/services", "coordinator"},
		{"watch of a fresh resource", "", "/api/v1/services?watch=true", "coordinator"},
		{"namespaced list", "", "/api/v1/namespaces/default/services", "coordinator"},
		{"get", "", "/api/v1/namespaces/default/services/a", "cloud"},
		{"table list", "accept:application/json;as=Table;v=v1;g=meta.k8s.io", "/api/v1/services", "cloud"},
		{"table watch", "accept:application/json;as=Table;v=v1;g=meta.k8s.io", "/api/v1/services?watch=true", "cloud"},
		{"status subresource", "", "/api/v1/namespaces/default/services/a/status", "cloud"},
		{"create", "create", "/api/v1/namespaces/default/services", "cloud"},
		{"stale resource", "", "/apis/discovery.k8s.io/v1/endpointslices", "cloud"},
		{"other resource", "", "/api/v1/pods", "cloud"},
		{"non-resource", "", "/version", "cloud"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := route(req(tc.verb, tc.path)).Name(); got != tc.want {
				t.Errorf("routed to %s, want %s", got, tc.want)
			}
		})
	}

	// A cloud watch of endpointslices ends when they turn fresh (the handler's Done stays open).
	r := req("", "/apis/discovery.k8s.io/v1/endpointslices?watch=true")
	r.Done = make(chan struct{})
	src := route(r)
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		src.Serve(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil), r)
	}()
	<-cloud.served
	select {
	case <-ended:
		t.Fatal("the cloud watch ended early")
	case <-time.After(100 * time.Millisecond):
	}
	fresh(ct.ServicesGVR, ct.EndpointSlicesGVR)
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the cloud watch did not end when the coordinator's copy turned fresh")
	}
	if got := route(req("", "/apis/discovery.k8s.io/v1/endpointslices?watch=true")).Name(); got != "coordinator" {
		t.Errorf("after turning fresh: %s", got)
	}
	// A new epoch (coordinator replaced) is a stale event even with fresh markers.
	var staled []string
	tr.OnStale = func(r string) { staled = append(staled, r) }
	fresh(ct.ServicesGVR, ct.EndpointSlicesGVR)
	tr.update(map[schema.GroupVersionResource]*store.SyncMarker{ct.ServicesGVR: {Holder: "x", Time: time.Now()}}, "e2")
	if len(staled) != 1 || !strings.Contains(staled[0], "coordinator replaced") {
		t.Errorf("stale reasons after an epoch change: %v", staled)
	}
}

// The leader loses the coordinator for a moment (shorter than its session TTL): the sync
// restarts with a relist once the coordinator is back, and a change made in the cloud
// meanwhile reaches the coordinator; the marker is written again.
func TestSyncerRecoversFromACoordinatorOutage(t *testing.T) {
	e := ct.Start(t, nil)
	cloud := newFakeCloud(t, e)
	cloud.put(t, ct.ServicesGVR, ct.Service("default", "a", "1"))
	_, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	u, _ := url.Parse(e.Endpoints[0])
	fwd, err := localstack.Forward("127.0.0.1:0", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	addr := fwd.Addr()
	o := coordinator.NewOptions()
	o.Endpoints, o.Pool, o.Identity = []string{"http://" + addr}, testPool, "hub-1"
	o.DialTimeout = 500 * time.Millisecond
	leaderClient, err := coordinator.New(o, coordinator.NewMetrics(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer leaderClient.Close()
	pool := store.New(e.NewClient(t, testPool, "reader", nil), nil)

	l, err := election.New(leaderClient, 20*time.Second).Campaign(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cu, _ := url.Parse(cloud.srv.URL)
	s := &Syncer{Client: leaderClient, Cloud: CloudConfig(func() *url.URL { return cu }, http.DefaultTransport, "yurthub/pool-leader"),
		Resources: []schema.GroupVersionResource{ct.ServicesGVR}, MaxAge: 1500 * time.Millisecond}
	done := make(chan struct{})
	go func() { defer close(done); s.Task()(ctx, l) }()
	// Replace writes the objects first and the marker last; wait for both.
	var before *store.SyncMarker
	waitFor(t, "the first sync", func() bool {
		m, err := pool.SyncMarker(ctx, ct.ServicesGVR)
		before = m
		return err == nil && names(t, pool, ct.ServicesGVR) == "a"
	})

	_ = fwd.Close()
	cloud.put(t, ct.ServicesGVR, ct.Service("default", "b", "2"))
	time.Sleep(2 * time.Second) // a marker refresh (every 500ms, 500ms timeout) fails meanwhile
	if got := names(t, pool, ct.ServicesGVR); got != "a" {
		t.Fatalf("written without a connection? %s", got)
	}
	fwd, err = localstack.Forward(addr, u.Host)
	if err != nil {
		t.Fatalf("reopening the forwarder on %s: %v", addr, err)
	}
	defer fwd.Close()
	waitFor(t, "the change made during the outage", func() bool { return names(t, pool, ct.ServicesGVR) == "a,b" })
	waitFor(t, "a new marker", func() bool {
		m, err := pool.SyncMarker(ctx, ct.ServicesGVR)
		return err == nil && m.Time.After(before.Time) && m.Revision > before.Revision
	})
	cancel()
	<-done
}

// TestTrackerAgesMarkersOnItsOwnClock: a marker's age counts from when this hub saw it change,
// so neither a leader clock behind nor one ahead of the hub's keeps a marker the leader stopped
// refreshing fresh, nor a refreshed one stale.
func TestTrackerAgesMarkersOnItsOwnClock(t *testing.T) {
	const maxAge = 10 * time.Second
	base := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		// skew is the leader's clock minus the hub's.
		skew time.Duration
		// wantFirst: fresh when first seen (the marker was just written).
		wantFirst bool
	}{
		{name: "clocks agree", skew: 0, wantFirst: true},
		{name: "leader clock an hour behind", skew: -time.Hour, wantFirst: false},
		{name: "leader clock a year ahead", skew: 365 * 24 * time.Hour, wantFirst: true},
		{name: "leader clock 2s behind", skew: -2 * time.Second, wantFirst: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := base
			tr := &Tracker{MaxAge: maxAge, clock: func() time.Time { return now }}
			rev := int64(10)
			poll := func() bool {
				tr.update(map[schema.GroupVersionResource]*store.SyncMarker{
					ct.ServicesGVR: {Holder: "leader", Time: now.Add(tc.skew), Revision: rev},
				}, "epoch-1")
				return tr.Fresh(ct.ServicesGVR)
			}
			if got := poll(); got != tc.wantFirst {
				t.Fatalf("first sight: fresh=%v, want %v", got, tc.wantFirst)
			}
			// The leader refreshes every 3s: fresh from the first change seen on.
			for i := 0; i < 5; i++ {
				now = now.Add(3 * time.Second)
				rev++
				if !poll() {
					t.Fatalf("refreshed marker stale after %d refreshes", i+1)
				}
			}
			// The leader stops refreshing (the marker keeps the time it was written with).
			stopped := now
			for now.Sub(stopped) < maxAge-time.Second {
				now = now.Add(time.Second)
				if !poll() {
					t.Fatalf("stale %s after the last refresh, before max-age %s", now.Sub(stopped), maxAge)
				}
			}
			now = stopped.Add(maxAge)
			if poll() {
				t.Fatalf("still fresh %s after the last refresh", maxAge)
			}
			// A new coordinator (epoch) forgets what was seen.
			rev = 1
			now = now.Add(time.Second)
			tr.update(map[schema.GroupVersionResource]*store.SyncMarker{
				ct.ServicesGVR: {Holder: "leader", Time: now.Add(tc.skew), Revision: rev},
			}, "epoch-2")
			if got := tr.Fresh(ct.ServicesGVR); got != tc.wantFirst {
				t.Fatalf("first sight in a new epoch: fresh=%v, want %v", got, tc.wantFirst)
			}
		})
	}
}
