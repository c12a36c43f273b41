package responsefilter

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2/ktesting"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
	"github.com/yurt-edge/yurt/pkg/filter"
	"github.com/yurt-edge/yurt/pkg/hub/cache"
	"github.com/yurt-edge/yurt/pkg/hub/codec"
	"github.com/yurt-edge/yurt/pkg/hub/metrics"
	"github.com/yurt-edge/yurt/pkg/hub/proxy"
)

// fakeLookup backs nodePool() and service() in unit tests.
type fakeLookup struct {
	mu       sync.Mutex
	services map[string]map[string]any
	pools    map[string]string
}

func (l *fakeLookup) NodePool(n string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pools[n]
}
func (l *fakeLookup) Service(ns, name string) (map[string]any, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.services[ns+"/"+name]
	return s, ok
}

func (l *fakeLookup) set(ns, name string, annotations map[string]any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.services == nil {
		l.services = map[string]map[string]any{}
	}
	l.services[ns+"/"+name] = map[string]any{"metadata": map[string]any{"name": name, "namespace": ns, "annotations": annotations}}
}

var generation int64

func compile(t *testing.T, lookup filter.Lookup, name string, policy appsv1alpha1.FailurePolicyType, agents []string, group, resource, keep string) *filter.Filter {
	t.Helper()
	c, err := filter.NewCompiler(filter.CompilerOptions{Lookup: lookup})
	if err != nil {
		t.Fatal(err)
	}
	generation++
	rf := &appsv1alpha1.ResponseFilter{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: "uid-" + "x", Generation: generation},
		Spec: appsv1alpha1.ResponseFilterSpec{
			FailurePolicy: &policy,
			Match: appsv1alpha1.MatchResources{UserAgents: agents, Resources: []appsv1alpha1.ResourceRule{
				{Group: group, Resources: []string{resource}, Verbs: []string{"get", "list", "watch"}},
			}},
			Keep: keep,
		},
	}
	f, errs := c.Compile(rf)
	if len(errs) > 0 {
		t.Fatal(errs.ToAggregate())
	}
	return f
}

const keepVisible = "object.metadata.?labels[?'hidden'].orValue('') != 'true'"

func svc(name, rv string, hidden bool) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service",
		"spec": map[string]any{"clusterIP": "10.0.0.9", "ports": []any{map[string]any{"port": int64(80), "protocol": "TCP"}}}}}
	u.SetNamespace("default")
	u.SetName(name)
	u.SetResourceVersion(rv)
	if hidden {
		u.SetLabels(map[string]string{"hidden": "true"})
	}
	return u
}

func slice(name, service, rv string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
		"addressType": "IPv4", "endpoints": []any{map[string]any{"addresses": []any{"10.1.0.1"}}}}}
	u.SetNamespace("default")
	u.SetName(name)
	u.SetResourceVersion(rv)
	u.SetLabels(map[string]string{"kubernetes.io/service-name": service})
	return u
}

type event struct {
	typ string
	obj *unstructured.Unstructured // nil for ERROR
}

// fakeCloud serves lists from items and watches from the events sent on a channel, in the
// content type the client asked for.
type fakeCloud struct {
	mu     sync.Mutex
	items  map[string][]*unstructured.Unstructured // by resource
	events chan event
	srv    *httptest.Server
}

func newFakeCloud(t *testing.T) *fakeCloud {
	c := &fakeCloud{items: map[string][]*unstructured.Unstructured{}, events: make(chan event, 100)}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *fakeCloud) serve(w http.ResponseWriter, r *http.Request) {
	pb := codec.AcceptsProtobuf(r.Header.Get("Accept"))
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	resource := parts[len(parts)-1]
	gv := schema.GroupVersion{Version: "v1"}
	kind := "Service"
	if resource == "endpointslices" {
		gv, kind = schema.GroupVersion{Group: "discovery.k8s.io", Version: "v1"}, "EndpointSlice"
	}
	if r.URL.Query().Get("watch") == "true" {
		enc := codec.NewWatchEncoder(w, gv.WithKind(kind), pb)
		w.Header().Set("Content-Type", enc.ContentType())
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush()
		for {
			select {
			case ev := <-c.events:
				if ev.obj == nil {
					st := &unstructured.Unstructured{}
					_ = st.UnmarshalJSON(codec.Status(410, metav1.StatusReasonExpired, "too old"))
					_ = enc.Encode(ev.typ, st)
				} else {
					_ = enc.Encode(ev.typ, ev.obj)
				}
				_ = http.NewResponseController(w).Flush()
			case <-r.Context().Done():
				return
			}
		}
	}
	c.mu.Lock()
	items := c.items[resource]
	c.mu.Unlock()
	data, ct, err := codec.EncodeList(gv.WithKind(kind+"List"), "100", items, pb)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", ct)
	_, _ = w.Write(data)
}

type hub struct {
	manager *Manager
	cloud   *proxy.CloudSource
	store   *cache.Store
	srv     *httptest.Server
}

func newHub(t *testing.T, cloud *fakeCloud, filters ...*filter.Filter) *hub {
	logger, _ := ktesting.NewTestContext(t)
	store, err := cache.NewStore(t.TempDir(), logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(cloud.srv.URL)
	var cs *proxy.CloudSource
	// Before the cache directory is removed.
	t.Cleanup(func() { _ = cs.WaitForCacheWrites(context.Background()) })
	m := NewManager(ManagerOptions{Logger: logger, Node: func() filter.Node { return filter.Node{Name: "edge-1", Pool: "a"} }})
	m.SetFilters(filters)
	cs = &proxy.CloudSource{Server: func() *url.URL { return u }, Transport: http.DefaultTransport, UpgradeTransport: http.DefaultTransport, Store: store}
	h := &proxy.Handler{CacheAgents: sets.New("kube-proxy"), Metrics: metrics.New(), Logger: logger, Filters: m,
		Route: func(*proxy.Request) proxy.Source { return cs }}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &hub{manager: m, cloud: cs, store: store, srv: srv}
}

func get(t *testing.T, url string, protobuf bool) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("User-Agent", "kube-proxy/v1.36.3")
	if protobuf {
		req.Header.Set("Accept", "application/vnd.kubernetes.protobuf,application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

func names(items []unstructured.Unstructured) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.GetName())
	}
	return out
}

func TestListDropsItemsKeepsResourceVersionAndCachesFiltered(t *testing.T) {
	for _, pb := range []bool{false, true} {
		t.Run(map[bool]string{false: "json", true: "protobuf"}[pb], func(t *testing.T) {
			cloud := newFakeCloud(t)
			cloud.items["services"] = []*unstructured.Unstructured{svc("a", "1", false), svc("hidden", "2", true), svc("c", "3", false)}
			h := newHub(t, cloud, compile(t, nil, "drop-hidden", appsv1alpha1.Fail, []string{"kube-proxy"}, "", "services", keepVisible))
			resp, data := get(t, h.srv.URL+"/api/v1/services", pb)
			if resp.StatusCode != 200 || codec.IsProtobuf(resp.Header.Get("Content-Type")) != pb {
				t.Fatalf("status %d, content type %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), data)
			}
			list, err := codec.DecodeList(data, resp.Header.Get("Content-Type"))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(names(list.Items), ","); got != "a,c" || list.GetResourceVersion() != "100" {
				t.Errorf("list: items %s rv %s, want a,c at 100", got, list.GetResourceVersion())
			}
			// The cache holds what kube-proxy was given.
			if err := h.cloud.WaitForCacheWrites(context.Background()); err != nil {
				t.Fatal(err)
			}
			cached, err := h.store.List(cache.Resource{Component: "kube-proxy", GroupVersionResource: schema.GroupVersionResource{Version: "v1", Resource: "services"}}, "")
			if err != nil {
				t.Fatal(err)
			}
			var cn []string
			for _, o := range cached {
				cn = append(cn, o.GetName())
			}
			if strings.Join(cn, ",") != "a,c" {
				t.Errorf("cache holds %v, want a,c", cn)
			}
			// A get of a dropped object is 404; of a kept one, the object.
			cloud.items["services"] = nil
		})
	}
}

func TestFilterMatchingNothingPassesBytesThrough(t *testing.T) {
	cloud := newFakeCloud(t)
	cloud.items["services"] = []*unstructured.Unstructured{svc("a", "1", false), svc("hidden", "2", true)}
	h := newHub(t, cloud, compile(t, nil, "coredns-only", appsv1alpha1.Fail, []string{"coredns"}, "", "services", "false"))
	want, _, _ := codec.EncodeList(schema.GroupVersionKind{Version: "v1", Kind: "ServiceList"}, "100", cloud.items["services"], false)
	resp, data := get(t, h.srv.URL+"/api/v1/services", false)
	if resp.StatusCode != 200 || !bytes.Equal(data, want) {
		t.Errorf("a filter for another agent changed the response: %d\n%s\nwant\n%s", resp.StatusCode, data, want)
	}
}

func TestFailurePolicyOnRuntimeError(t *testing.T) {
	// object.spec.nope does not exist: a runtime error on every object.
	const failing = "object.spec.nope == 'x'"
	for _, tc := range []struct {
		policy appsv1alpha1.FailurePolicyType
		code   int
	}{{appsv1alpha1.Fail, 500}, {appsv1alpha1.Ignore, 200}} {
		t.Run(string(tc.policy), func(t *testing.T) {
			cloud := newFakeCloud(t)
			cloud.items["services"] = []*unstructured.Unstructured{svc("a", "1", false), svc("b", "2", false)}
			h := newHub(t, cloud, compile(t, nil, "broken", tc.policy, []string{"kube-proxy"}, "", "services", failing))
			resp, data := get(t, h.srv.URL+"/api/v1/services", false)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.code, data)
			}
			if tc.code == 200 {
				list, err := codec.DecodeList(data, resp.Header.Get("Content-Type"))
				if err != nil || strings.Join(names(list.Items), ",") != "a,b" {
					t.Errorf("Ignore must pass objects unchanged: %v %v", err, list)
				}
				if h.manager.IgnoredErrors() != 2 {
					t.Errorf("ignored errors counted %d, want 2", h.manager.IgnoredErrors())
				}
			} else if !strings.Contains(string(data), "broken") || !strings.Contains(string(data), "spec.keep") {
				t.Errorf("the 500 should name the filter and field: %s", data)
			}
			// A watch: Fail ends the stream with an ERROR event; Ignore passes the event.
			ws := openWatch(t, h.srv.URL+"/api/v1/services?watch=true", false)
			cloud.events <- event{"ADDED", svc("c", "5", false)}
			ev := ws.next(t)
			if tc.code == 500 && ev.typ != "ERROR" {
				t.Errorf("Fail: got %s, want ERROR", ev.typ)
			}
			if tc.code == 200 && (ev.typ != "ADDED" || ev.obj.GetName() != "c") {
				t.Errorf("Ignore: got %s %v", ev.typ, ev.obj)
			}
		})
	}
}

// watchStream reads a watch response's events.
type watchStream struct {
	resp   *http.Response
	events chan event
}

func openWatch(t *testing.T, url string, protobuf bool) *watchStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("User-Agent", "kube-proxy/v1.36.3")
	if protobuf {
		req.Header.Set("Accept", "application/vnd.kubernetes.protobuf,application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	ws := &watchStream{resp: resp, events: make(chan event, 100)}
	if resp.StatusCode != 200 {
		close(ws.events)
		return ws
	}
	if codec.IsProtobuf(resp.Header.Get("Content-Type")) != protobuf {
		t.Fatalf("watch content type %s", resp.Header.Get("Content-Type"))
	}
	go func() {
		defer close(ws.events)
		dec := codec.NewWatchDecoder(resp.Body, resp.Header.Get("Content-Type"))
		for {
			ev, err := dec.NextRaw()
			if err != nil {
				return
			}
			if ev.Type == "ERROR" {
				ws.events <- event{typ: "ERROR"}
				continue
			}
			obj, err := codec.DecodeObject(ev.Object, resp.Header.Get("Content-Type"))
			if err != nil {
				t.Errorf("decoding %s: %v", ev.Type, err)
				return
			}
			ws.events <- event{ev.Type, obj}
		}
	}()
	return ws
}

func (w *watchStream) next(t *testing.T) event {
	t.Helper()
	select {
	case ev, ok := <-w.events:
		if !ok {
			return event{typ: "END"}
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event within 10s")
	}
	return event{}
}

func describeEv(ev event) string {
	if ev.obj == nil || ev.obj.GetName() == "" {
		return ev.typ
	}
	return ev.typ + " " + ev.obj.GetName()
}

func TestWatchSemantics(t *testing.T) {
	for _, pb := range []bool{false, true} {
		t.Run(map[bool]string{false: "json", true: "protobuf"}[pb], func(t *testing.T) {
			cloud := newFakeCloud(t)
			h := newHub(t, cloud, compile(t, nil, "drop-hidden", appsv1alpha1.Fail, []string{"kube-proxy"}, "", "services", keepVisible))
			ws := openWatch(t, h.srv.URL+"/api/v1/services?watch=true&allowWatchBookmarks=true", pb)
			bookmark := svc("", "40", false)
			bookmark.Object = map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"resourceVersion": "40"}}
			for _, ev := range []event{
				{"ADDED", svc("a", "10", false)},    // kept, new → ADDED
				{"ADDED", svc("b", "11", true)},     // dropped, never seen → skipped
				{"MODIFIED", svc("a", "12", true)},  // dropped, seen → DELETED
				{"MODIFIED", svc("b", "13", false)}, // no longer dropped → ADDED
				{"MODIFIED", svc("b", "14", false)}, // kept, seen → MODIFIED
				{"BOOKMARK", bookmark},              // untouched
				{"MODIFIED", svc("c", "15", true)},  // dropped, never seen → skipped
				{"DELETED", svc("c", "16", true)},   // never seen → skipped
				{"MODIFIED", svc("a", "17", false)}, // back → ADDED
				{"DELETED", svc("b", "18", false)},  // seen → DELETED
				{"ERROR", nil},                      // untouched
			} {
				cloud.events <- ev
			}
			want := []string{"ADDED a", "DELETED a", "ADDED b", "MODIFIED b", "BOOKMARK", "ADDED a", "DELETED b", "ERROR"}
			for i, w := range want {
				ev := ws.next(t)
				if got := describeEv(ev); got != w {
					t.Fatalf("event %d: %s, want %s", i, got, w)
				}
				if ev.typ == "BOOKMARK" && ev.obj.GetResourceVersion() != "40" {
					t.Errorf("bookmark changed: %v", ev.obj)
				}
				if ev.typ == "DELETED" && ev.obj.GetName() == "a" && ev.obj.GetResourceVersion() != "12" {
					t.Errorf("the DELETED event should carry the dropping version: %v", ev.obj.GetResourceVersion())
				}
			}
		})
	}
}

// A watch that continues a list knows what the list gave the client.
func TestWatchAfterListKnowsWhatTheListGave(t *testing.T) {
	cloud := newFakeCloud(t)
	cloud.items["services"] = []*unstructured.Unstructured{svc("a", "1", false), svc("hidden", "2", true)}
	h := newHub(t, cloud, compile(t, nil, "drop-hidden", appsv1alpha1.Fail, []string{"kube-proxy"}, "", "services", keepVisible))
	if resp, data := get(t, h.srv.URL+"/api/v1/services", false); resp.StatusCode != 200 {
		t.Fatalf("list: %d %s", resp.StatusCode, data)
	}
	ws := openWatch(t, h.srv.URL+"/api/v1/services?watch=true&resourceVersion=100", false)
	cloud.events <- event{"MODIFIED", svc("hidden", "101", false)} // was dropped by the list → ADDED
	cloud.events <- event{"MODIFIED", svc("a", "102", false)}      // listed → MODIFIED
	cloud.events <- event{"MODIFIED", svc("a", "103", true)}       // listed, now dropped → DELETED
	for i, w := range []string{"ADDED hidden", "MODIFIED a", "DELETED a"} {
		if got := describeEv(ws.next(t)); got != w {
			t.Fatalf("event %d: %s, want %s", i, got, w)
		}
	}
}

// Changing the filters ends open watches of the views they apply to; the client's next watch
// from its old resourceVersion is told to relist, and the relist is filtered anew.
func TestFilterChangeMakesClientsRelist(t *testing.T) {
	cloud := newFakeCloud(t)
	cloud.items["services"] = []*unstructured.Unstructured{svc("a", "1", false), svc("hidden", "2", true)}
	h := newHub(t, cloud)
	_, data := get(t, h.srv.URL+"/api/v1/services", false)
	list, _ := codec.DecodeList(data, codec.MediaTypeJSON)
	if got := strings.Join(names(list.Items), ","); got != "a,hidden" {
		t.Fatalf("no filters: %s", got)
	}
	ws := openWatch(t, h.srv.URL+"/api/v1/services?watch=true&resourceVersion=100", false)
	// A filter for another component leaves the watch open.
	h.manager.SetFilters([]*filter.Filter{compile(t, nil, "other", appsv1alpha1.Fail, []string{"coredns"}, "", "services", "false")})
	cloud.events <- event{"MODIFIED", svc("a", "101", false)}
	if got := describeEv(ws.next(t)); got != "MODIFIED a" {
		t.Fatalf("got %s", got)
	}
	h.manager.SetFilters([]*filter.Filter{compile(t, nil, "drop-hidden", appsv1alpha1.Fail, []string{"kube-proxy"}, "", "services", keepVisible)})
	if got := describeEv(ws.next(t)); got != "END" {
		t.Fatalf("the watch should end when its filters change, got %s", got)
	}
	resp, body := get(t, h.srv.URL+"/api/v1/services?watch=true&resourceVersion=101", false)
	if resp.StatusCode != http.StatusGone {
		t.Fatalf("re-watch after a filter change: %d %s, want 410", resp.StatusCode, body)
	}
	_, data = get(t, h.srv.URL+"/api/v1/services", false)
	list, _ = codec.DecodeList(data, codec.MediaTypeJSON)
	if got := strings.Join(names(list.Items), ","); got != "a" {
		t.Fatalf("relist: %s, want a", got)
	}
	// After the relist, watching from its resourceVersion is fine.
	ws = openWatch(t, h.srv.URL+"/api/v1/services?watch=true&resourceVersion=100", false)
	if ws.resp.StatusCode != 200 {
		t.Fatalf("watch after relist: %d", ws.resp.StatusCode)
	}
}

// A Service change re-filters that Service's slices on open watches.
func TestServiceChangeResendsItsSlices(t *testing.T) {
	for _, pb := range []bool{false, true} {
		t.Run(map[bool]string{false: "json", true: "protobuf"}[pb], func(t *testing.T) {
			lookup := &fakeLookup{}
			lookup.set("default", "web", nil)
			lookup.set("default", "db", nil)
			cloud := newFakeCloud(t)
			cloud.items["endpointslices"] = []*unstructured.Unstructured{slice("web-1", "web", "1"), slice("db-1", "db", "2")}
			keep := "service(object.metadata.namespace, object.metadata.labels['kubernetes.io/service-name']).?metadata.?annotations[?'hide'].orValue('') != 'yes'"
			h := newHub(t, cloud, compile(t, lookup, "by-service", appsv1alpha1.Fail, []string{"kube-proxy"}, "discovery.k8s.io", "endpointslices", keep))
			if resp, data := get(t, h.srv.URL+"/apis/discovery.k8s.io/v1/endpointslices", pb); resp.StatusCode != 200 {
				t.Fatalf("list: %d %s", resp.StatusCode, data)
			}
			ws := openWatch(t, h.srv.URL+"/apis/discovery.k8s.io/v1/endpointslices?watch=true&resourceVersion=100", pb)
			lookup.set("default", "web", map[string]any{"hide": "yes"})
			h.manager.ServiceChanged("default", "web")
			if got := describeEv(ws.next(t)); got != "DELETED web-1" {
				t.Fatalf("after hiding web: %s", got)
			}
			lookup.set("default", "web", nil)
			h.manager.ServiceChanged("default", "web")
			if got := describeEv(ws.next(t)); got != "ADDED web-1" {
				t.Fatalf("after unhiding web: %s", got)
			}
			h.manager.ServiceChanged("default", "db")
			if got := describeEv(ws.next(t)); got != "MODIFIED db-1" {
				t.Fatalf("re-sent db: %s", got)
			}
			// A deleted slice is not re-sent.
			cloud.events <- event{"DELETED", slice("db-1", "db", "3")}
			if got := describeEv(ws.next(t)); got != "DELETED db-1" {
				t.Fatalf("deleting db-1: %s", got)
			}
			// Neither the deleted db-1 nor an unchanged web-1 is sent again: the next event is
			// the one a real change causes.
			h.manager.ServiceChanged("default", "db")
			h.manager.ServiceChanged("default", "web")
			lookup.set("default", "web", map[string]any{"hide": "yes"})
			h.manager.ServiceChanged("default", "web")
			if got := describeEv(ws.next(t)); got != "DELETED web-1" {
				t.Fatalf("after db-1 was deleted and web hidden: %s, want DELETED web-1", got)
			}
		})
	}
}

// Sources other than the cloud (here the cache, the cloud's fallback) are filtered too.
func TestCacheSourceResponsesAreFiltered(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	store, err := cache.NewStore(t.TempDir(), logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	res := cache.Resource{Component: "kube-proxy", GroupVersionResource: schema.GroupVersionResource{Version: "v1", Resource: "services"}}
	for _, o := range []*unstructured.Unstructured{svc("a", "1", false), svc("hidden", "2", true)} {
		if err := store.Put(res, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.PutListMeta(res, cache.ListMeta{APIVersion: "v1", Kind: "ServiceList", ResourceVersion: "7"}); err != nil {
		t.Fatal(err)
	}
	m := NewManager(ManagerOptions{Logger: logger})
	m.SetFilters([]*filter.Filter{compile(t, nil, "drop-hidden", appsv1alpha1.Fail, []string{"kube-proxy"}, "", "services", keepVisible)})
	cs := &proxy.CacheSource{Store: store, MaxWatchTimeout: time.Minute}
	h := &proxy.Handler{CacheAgents: sets.New("kube-proxy"), Logger: logger, Filters: m, Route: func(*proxy.Request) proxy.Source { return cs }}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	for _, pb := range []bool{false, true} {
		resp, data := get(t, srv.URL+"/api/v1/services", pb)
		list, err := codec.DecodeList(data, resp.Header.Get("Content-Type"))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(names(list.Items), ","); got != "a" || list.GetResourceVersion() != proxy.CacheResourceVersion("7") {
			t.Errorf("protobuf=%v: %s at %s", pb, got, list.GetResourceVersion())
		}
		if resp, data := get(t, srv.URL+"/api/v1/namespaces/default/services/hidden", pb); resp.StatusCode != 404 {
			t.Errorf("get of a dropped object: %d %s", resp.StatusCode, data)
		}
		ws := openWatch(t, srv.URL+"/api/v1/services?watch=true", pb)
		if got := describeEv(ws.next(t)); got != "ADDED a" {
			t.Errorf("watch from the cache: %s", got)
		}
	}
}

// cacheFilterSource stands for a source that writes the cache itself (the coordinator's).
type cacheFilterSource struct {
	got map[string]bool
}

func (c *cacheFilterSource) Name() string                    { return "coordinator" }
func (c *cacheFilterSource) OwnsResourceVersion(string) bool { return true }
func (c *cacheFilterSource) Serve(w http.ResponseWriter, r *http.Request, _ *proxy.Request) {
	if f := proxy.CacheFilter(r); f != nil {
		for _, o := range []*unstructured.Unstructured{svc("a", "1", false), svc("hidden", "2", true)} {
			_, keep, err := f(r.Context(), o)
			if err == nil {
				c.got[o.GetName()] = keep
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func TestCacheFilterForSourcesThatCacheObjects(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m := NewManager(ManagerOptions{Logger: logger})
	m.SetFilters([]*filter.Filter{compile(t, nil, "drop-hidden", appsv1alpha1.Fail, []string{"kube-proxy"}, "", "services", keepVisible)})
	src := &cacheFilterSource{got: map[string]bool{}}
	h := &proxy.Handler{CacheAgents: sets.New("kube-proxy"), Logger: logger, Filters: m, Route: func(*proxy.Request) proxy.Source { return src }}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	get(t, srv.URL+"/api/v1/services", false)
	if !src.got["a"] || src.got["hidden"] || len(src.got) != 2 {
		t.Errorf("CacheFilter verdicts %v, want a kept, hidden dropped", src.got)
	}
}

// When pools change, open watches whose filters call nodePool() re-filter what they sent.
func TestNodePoolChangeRefiltersOpenWatches(t *testing.T) {
	lookup := &fakeLookup{pools: map[string]string{"n1": "a", "n2": "b"}}
	cloud := newFakeCloud(t)
	s1, s2 := slice("on-n1", "web", "1"), slice("on-n2", "web", "2")
	s1.SetLabels(map[string]string{"node": "n1"})
	s2.SetLabels(map[string]string{"node": "n2"})
	cloud.items["endpointslices"] = []*unstructured.Unstructured{s1, s2}
	keep := "nodePool(object.metadata.labels['node']) == node.pool" // the hub's node is in pool a
	h := newHub(t, cloud, compile(t, lookup, "same-pool", appsv1alpha1.Fail, []string{"kube-proxy"}, "discovery.k8s.io", "endpointslices", keep))
	_, data := get(t, h.srv.URL+"/apis/discovery.k8s.io/v1/endpointslices", false)
	list, _ := codec.DecodeList(data, codec.MediaTypeJSON)
	if got := strings.Join(names(list.Items), ","); got != "on-n1" {
		t.Fatalf("list: %s", got)
	}
	ws := openWatch(t, h.srv.URL+"/apis/discovery.k8s.io/v1/endpointslices?watch=true&resourceVersion=100", false)
	lookup.mu.Lock()
	lookup.pools = map[string]string{"n1": "b", "n2": "a"}
	lookup.mu.Unlock()
	h.manager.NodePoolsChanged()
	got := []string{describeEv(ws.next(t)), describeEv(ws.next(t))}
	sort.Strings(got)
	if strings.Join(got, ",") != "ADDED on-n2,DELETED on-n1" {
		t.Fatalf("after n1 and n2 swapped pools: %v", got)
	}
}

// An object deleted after the list, before any re-filter, is not brought back by one.
func TestResyncAfterDeleteKeepsItDeleted(t *testing.T) {
	lookup := &fakeLookup{}
	lookup.set("default", "web", nil)
	lookup.set("default", "db", nil)
	cloud := newFakeCloud(t)
	cloud.items["endpointslices"] = []*unstructured.Unstructured{slice("web-1", "web", "1"), slice("db-1", "db", "2")}
	keep := "service(object.metadata.namespace, object.metadata.labels['kubernetes.io/service-name']).hasValue()"
	h := newHub(t, cloud, compile(t, lookup, "by-service", appsv1alpha1.Fail, []string{"kube-proxy"}, "discovery.k8s.io", "endpointslices", keep))
	if resp, data := get(t, h.srv.URL+"/apis/discovery.k8s.io/v1/endpointslices", false); resp.StatusCode != 200 {
		t.Fatalf("list: %d %s", resp.StatusCode, data)
	}
	ws := openWatch(t, h.srv.URL+"/apis/discovery.k8s.io/v1/endpointslices?watch=true&resourceVersion=100", false)
	cloud.events <- event{"DELETED", slice("db-1", "db", "3")}
	if got := describeEv(ws.next(t)); got != "DELETED db-1" {
		t.Fatalf("deleting db-1: %s", got)
	}
	h.manager.ServiceChanged("default", "db")
	h.manager.ServiceChanged("default", "web")
	if got := describeEv(ws.next(t)); got != "MODIFIED web-1" {
		t.Fatalf("got %s, want only web-1 re-sent", got)
	}
}

// A body the hub cannot decode passes when every applying filter says Ignore, else fails.
func TestUndecodableResponseFollowsFailurePolicy(t *testing.T) {
	garbage := []byte("k8s\x00not protobuf")
	for _, tc := range []struct {
		policy appsv1alpha1.FailurePolicyType
		code   int
	}{{appsv1alpha1.Ignore, 200}, {appsv1alpha1.Fail, 500}} {
		t.Run(string(tc.policy), func(t *testing.T) {
			cloud := newFakeCloud(t)
			cloud.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", codec.MediaTypeProtobuf)
				_, _ = w.Write(garbage)
			})
			h := newHub(t, cloud, compile(t, nil, "f", tc.policy, []string{"kube-proxy"}, "", "services", keepVisible))
			resp, data := get(t, h.srv.URL+"/api/v1/services", true)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d: %q", resp.StatusCode, tc.code, data)
			}
			if tc.code == 200 && !bytes.Equal(data, garbage) {
				t.Errorf("Ignore should pass the body unchanged, got %q", data)
			}
		})
	}
}

// A filter that runs out of its cost budget at run time is a filter error like any other:
// the request fails (Fail) or the object passes (Ignore); the hub keeps serving.
func TestRuntimeCostLimitFollowsFailurePolicy(t *testing.T) {
	// Within the compile-time estimate (lists assumed to hold 256 elements), far beyond the
	// run-time budget for a list of 1,500.
	const runaway = "object.spec.ports.all(a, object.spec.ports.all(b, a.port >= 0 && b.port >= 0))"
	big := svc("big", "1", false)
	ports := make([]any, 1500)
	for i := range ports {
		ports[i] = map[string]any{"port": int64(i + 1), "protocol": "TCP"}
	}
	big.Object["spec"].(map[string]any)["ports"] = ports
	for _, tc := range []struct {
		policy appsv1alpha1.FailurePolicyType
		code   int
	}{{appsv1alpha1.Fail, 500}, {appsv1alpha1.Ignore, 200}} {
		t.Run(string(tc.policy), func(t *testing.T) {
			cloud := newFakeCloud(t)
			cloud.items["services"] = []*unstructured.Unstructured{big, svc("small", "2", false)}
			h := newHub(t, cloud, compile(t, nil, "runaway", tc.policy, []string{"kube-proxy"}, "", "services", runaway))
			resp, data := get(t, h.srv.URL+"/api/v1/services", false)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tc.code, data)
			}
			if tc.code == 500 && !strings.Contains(string(data), "cost") {
				t.Errorf("the error should say the cost budget ran out: %.300s", data)
			}
			if tc.code == 200 {
				list, err := codec.DecodeList(data, resp.Header.Get("Content-Type"))
				if err != nil || strings.Join(names(list.Items), ",") != "big,small" {
					t.Errorf("Ignore should pass both: %v", err)
				}
			}
		})
	}
}
