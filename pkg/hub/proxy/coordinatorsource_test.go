package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/yurt-edge/yurt/pkg/coordinator"
	ct "github.com/yurt-edge/yurt/pkg/coordinator/coordinatortest"
	"github.com/yurt-edge/yurt/pkg/coordinator/store"
)

const testPool = "pool-a"

// kubeProxySelector is the label selector kube-proxy lists services and endpointslices with.
const kubeProxySelector = "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name"

func TestCoordinatorResourceVersions(t *testing.T) {
	src := &CoordinatorSource{Epoch: func() string { return "abc1" }}
	for _, tc := range []struct {
		rv         string
		coordForm  bool
		owned      bool
		cloudOwned bool
	}{
		{CoordinatorResourceVersion("abc1", 42), true, true, false},
		{CoordinatorResourceVersion("ffff", 42), true, false, false}, // another coordinator's history
		{"42", false, false, true},
		{CacheResourceVersion("42"), false, false, false},
		{"yurthub-coordinator.abc1", false, false, false},
		{"yurthub-coordinator.abc1.x", false, false, false},
		{"yurthub-coordinator.abc1.0", false, false, false},
		{"yurthub-coordinator..5", false, false, false},
	} {
		t.Run(tc.rv, func(t *testing.T) {
			if got := IsCoordinatorResourceVersion(tc.rv); got != tc.coordForm {
				t.Errorf("IsCoordinatorResourceVersion = %v, want %v", got, tc.coordForm)
			}
			if got := src.OwnsResourceVersion(tc.rv); got != tc.owned {
				t.Errorf("coordinator owns = %v, want %v", got, tc.owned)
			}
			if got := IsCloudResourceVersion(tc.rv); got != tc.cloudOwned {
				t.Errorf("cloud owns = %v, want %v", got, tc.cloudOwned)
			}
			if IsCacheResourceVersion(tc.rv) && src.OwnsResourceVersion(tc.rv) {
				t.Error("a cache resourceVersion is owned by the coordinator")
			}
		})
	}
	if _, rev, ok := ParseCoordinatorResourceVersion(CoordinatorResourceVersion("e", 7)); !ok || rev != 7 {
		t.Errorf("round trip: %d %v", rev, ok)
	}
}

func TestBuiltinKind(t *testing.T) {
	for _, tc := range []struct {
		gvr  schema.GroupVersionResource
		kind string
		ok   bool
	}{
		{ct.ServicesGVR, "Service", true},
		{ct.EndpointSlicesGVR, "EndpointSlice", true},
		{schema.GroupVersionResource{Version: "v1", Resource: "endpoints"}, "Endpoints", true},
		{ct.WidgetsGVR, "", false},
	} {
		gvk, ok := BuiltinKind(tc.gvr)
		if ok != tc.ok || gvk.Kind != tc.kind {
			t.Errorf("%s: %v %v, want %s %v", tc.gvr, gvk, ok, tc.kind, tc.ok)
		}
	}
}

// coordFixture is a real embedded etcd, a writer store (the leader's role) and a hub handler
// that serves everything from the coordinator source.
type coordFixture struct {
	etcd    *ct.Etcd
	client  *coordinator.Client
	writer  *store.Store
	source  *CoordinatorSource
	handler *Handler
	srv     *httptest.Server
	mu      sync.Mutex
	unavail []error
	// requests are the query strings the hub received.
	requests []string
}

func newCoordFixture(t *testing.T) *coordFixture {
	t.Helper()
	f := &coordFixture{etcd: ct.Start(t, nil)}
	f.client = f.etcd.NewClient(t, testPool, "hub-1", coordinator.NewMetrics(nil))
	f.writer = store.New(f.client, nil)
	resp, err := f.client.Etcd.Get(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	epoch := fmt.Sprintf("%x", resp.Header.ClusterId)
	f.source = &CoordinatorSource{
		Store: store.New(f.client, nil), Epoch: func() string { return epoch },
		OnUnavailable:   func(err error) { f.mu.Lock(); f.unavail = append(f.unavail, err); f.mu.Unlock() },
		MaxWatchTimeout: time.Minute,
	}
	f.handler = newHandler(t, func(*Request) Source { return f.source })
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r.URL.RawQuery)
		f.mu.Unlock()
		f.handler.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *coordFixture) config(protobuf bool) *rest.Config {
	cfg := &rest.Config{Host: f.srv.URL, UserAgent: "kube-proxy/v1.36.3", Timeout: 20 * time.Second}
	if protobuf {
		cfg.ContentType = "application/vnd.kubernetes.protobuf"
		cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	}
	return cfg
}

func (f *coordFixture) clientset(t *testing.T, protobuf bool) kubernetes.Interface {
	cs, err := kubernetes.NewForConfig(f.config(protobuf))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func (f *coordFixture) put(t *testing.T, gvr schema.GroupVersionResource, obj runtime.Object) int64 {
	t.Helper()
	rev, err := f.writer.Put(context.Background(), gvr, obj)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

func labelled(s *corev1.Service, labels map[string]string) *corev1.Service {
	for k, v := range labels {
		s.Labels[k] = v
	}
	return s
}

func TestCoordinatorSourceList(t *testing.T) {
	f := newCoordFixture(t)
	f.put(t, ct.ServicesGVR, ct.Service("default", "a", "100"))
	f.put(t, ct.ServicesGVR, labelled(ct.Service("default", "headless", "101"), map[string]string{"service.kubernetes.io/headless": ""}))
	f.put(t, ct.ServicesGVR, ct.Service("kube-system", "dns", "102"))
	f.put(t, ct.EndpointSlicesGVR, ct.EndpointSlice("default", "a-1", "a", "103", 50))
	f.put(t, ct.EndpointSlicesGVR, ct.EndpointSlice("kube-system", "dns-1", "dns", "104", 2))
	ctx := context.Background()

	for _, protobuf := range []bool{false, true} {
		t.Run(fmt.Sprintf("protobuf=%v", protobuf), func(t *testing.T) {
			cs := f.clientset(t, protobuf)
			for _, tc := range []struct {
				name, namespace, labels, fields string
				want                            string
			}{
				{"all", "", "", "", "default/a default/headless kube-system/dns"},
				{"kube-proxy's selector", "", kubeProxySelector, "", "default/a kube-system/dns"},
				{"namespace", "kube-system", "", "", "kube-system/dns"},
				{"field selector", "", "", "metadata.name=a", "default/a"},
				{"field selector on spec", "", "", "spec.type=NodePort", ""},
			} {
				t.Run(tc.name, func(t *testing.T) {
					list, err := cs.CoreV1().Services(tc.namespace).List(ctx, metav1.ListOptions{LabelSelector: tc.labels, FieldSelector: tc.fields})
					if err != nil {
						t.Fatal(err)
					}
					var got []string
					for _, s := range list.Items {
						got = append(got, s.Namespace+"/"+s.Name)
						if !f.source.OwnsResourceVersion(s.ResourceVersion) {
							t.Errorf("item %s has resourceVersion %q, not a coordinator one", s.Name, s.ResourceVersion)
						}
						if s.Spec.ClusterIP != "10.96.0.10" || len(s.Spec.Ports) != 1 {
							t.Errorf("item %s decoded wrong: %+v", s.Name, s.Spec)
						}
					}
					if strings.Join(got, " ") != tc.want {
						t.Errorf("got %q, want %q", strings.Join(got, " "), tc.want)
					}
					if !f.source.OwnsResourceVersion(list.ResourceVersion) {
						t.Errorf("list resourceVersion %q is not the coordinator's", list.ResourceVersion)
					}
				})
			}
			slices, err := cs.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{LabelSelector: kubeProxySelector})
			if err != nil {
				t.Fatal(err)
			}
			if len(slices.Items) != 2 || len(slices.Items[0].Endpoints) != 50 || *slices.Items[0].Endpoints[0].Conditions.Ready != true {
				t.Fatalf("endpointslices: %+v", slices.Items)
			}
		})
	}

	// The wire content type follows the client's Accept header.
	for accept, want := range map[string]string{
		"application/vnd.kubernetes.protobuf,application/json": "application/vnd.kubernetes.protobuf",
		"application/json": "application/json",
	} {
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/api/v1/services", nil)
		req.Header.Set("Accept", accept)
		req.Header.Set("User-Agent", "kube-proxy/v1.36")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if got := resp.Header.Get("Content-Type"); got != want {
			t.Errorf("Accept %s: Content-Type %s, want %s", accept, got, want)
		}
	}

	// A continue token or an exact read from elsewhere: 410, the client relists.
	for _, q := range []string{"continue=abc&limit=1", "resourceVersion=5&resourceVersionMatch=Exact"} {
		resp, err := http.Get(f.srv.URL + "/api/v1/services?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusGone {
			t.Errorf("list ?%s: %d, want 410", q, resp.StatusCode)
		}
	}
}

func TestCoordinatorSourceSkipsCorruptValues(t *testing.T) {
	f := newCoordFixture(t)
	f.put(t, ct.ServicesGVR, ct.Service("default", "a", "100"))
	ctx := context.Background()
	key := coordinator.ObjectKey(testPool, ct.ServicesGVR, "default", "broken")
	if _, err := f.client.Etcd.Put(ctx, key, "k8s\x00garbage"); err != nil {
		t.Fatal(err)
	}
	cs := f.clientset(t, true)
	list, err := cs.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "a" {
		t.Fatalf("list with a corrupt value: %v", list.Items)
	}
	w, err := cs.CoreV1().Services("").Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := f.client.Etcd.Put(ctx, key, "{not json"); err != nil {
		t.Fatal(err)
	}
	f.put(t, ct.ServicesGVR, ct.Service("default", "b", "105"))
	select {
	case ev := <-w.ResultChan():
		if ev.Type != watch.Added || ev.Object.(*corev1.Service).Name != "b" {
			t.Fatalf("first event after a corrupt write: %s %v", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	if got := f.client.Metrics.CorruptValues.WithLabelValues("object"); got == nil {
		t.Fatal("no corrupt value metric")
	}
}

func TestCoordinatorSourceWatchFiltersLikeTheAPIServer(t *testing.T) {
	f := newCoordFixture(t)
	ctx := context.Background()
	f.put(t, ct.ServicesGVR, ct.Service("default", "a", "100"))
	for _, protobuf := range []bool{false, true} {
		t.Run(fmt.Sprintf("protobuf=%v", protobuf), func(t *testing.T) {
			cs := f.clientset(t, protobuf)
			list, err := cs.CoreV1().Services("").List(ctx, metav1.ListOptions{LabelSelector: kubeProxySelector})
			if err != nil {
				t.Fatal(err)
			}
			w, err := cs.CoreV1().Services("").Watch(ctx, metav1.ListOptions{LabelSelector: kubeProxySelector, ResourceVersion: list.ResourceVersion, AllowWatchBookmarks: true})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()
			suffix := map[bool]string{false: "j", true: "p"}[protobuf]
			name := "x-" + suffix
			f.put(t, ct.ServicesGVR, ct.Service("default", name, "200"))                                                                                   // ADDED
			f.put(t, ct.ServicesGVR, labelled(ct.Service("default", name, "201"), map[string]string{"service.kubernetes.io/service-proxy-name": "other"})) // leaves the selection: DELETED
			f.put(t, ct.ServicesGVR, labelled(ct.Service("default", "hidden-"+suffix, "202"), map[string]string{"service.kubernetes.io/headless": ""}))    // never selected: nothing
			f.put(t, ct.ServicesGVR, ct.Service("default", name, "203"))                                                                                   // back in: ADDED
			f.put(t, ct.ServicesGVR, labelled(ct.Service("default", name, "204"), map[string]string{"x": "y"}))                                            // MODIFIED
			if _, err := f.writer.Delete(ctx, ct.ServicesGVR, "default", name); err != nil {                                                               // DELETED
				t.Fatal(err)
			}
			var got []string
			var lastRev int64
			for len(got) < 5 {
				select {
				case ev, ok := <-w.ResultChan():
					if !ok {
						t.Fatalf("watch ended after %v", got)
					}
					if ev.Type == watch.Bookmark {
						continue
					}
					s := ev.Object.(*corev1.Service)
					got = append(got, string(ev.Type)+":"+s.Name)
					_, rev, _ := ParseCoordinatorResourceVersion(s.ResourceVersion)
					if !f.source.OwnsResourceVersion(s.ResourceVersion) || rev <= lastRev {
						t.Errorf("event resourceVersion %q after revision %d", s.ResourceVersion, lastRev)
					}
					lastRev = rev
				case <-time.After(10 * time.Second):
					t.Fatalf("events so far: %v", got)
				}
			}
			want := fmt.Sprintf("ADDED:%[1]s DELETED:%[1]s ADDED:%[1]s MODIFIED:%[1]s DELETED:%[1]s", name)
			if strings.Join(got, " ") != want {
				t.Errorf("events %q, want %q", strings.Join(got, " "), want)
			}
		})
	}
}

// An informer (client-go's watch list is on by default) gets the initial state and its end
// bookmark, then changes; when the handler ends the coordinator's watches (marker stale) the
// informer re-watches from the last coordinator resourceVersion without a relist; a watch
// from a cloud resourceVersion gets 410.
func TestCoordinatorSourceInformer(t *testing.T) {
	f := newCoordFixture(t)
	f.put(t, ct.EndpointSlicesGVR, ct.EndpointSlice("default", "a-1", "a", "100", 3))
	cs := f.clientset(t, true)
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = kubeProxySelector
	}))
	inf := factory.Discovery().V1().EndpointSlices().Informer()
	var mu sync.Mutex
	seen := map[string]int{}
	_, _ = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			mu.Lock()
			seen["add:"+obj.(*discoveryv1.EndpointSlice).Name]++
			mu.Unlock()
		},
		UpdateFunc: func(_, obj any) {
			mu.Lock()
			seen["update:"+obj.(*discoveryv1.EndpointSlice).Name]++
			mu.Unlock()
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())
	if !toolscache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("informer did not sync")
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				mu.Lock()
				t.Fatalf("%s: seen %v", what, seen)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	count := func(k string) func() bool {
		return func() bool { mu.Lock(); defer mu.Unlock(); return seen[k] > 0 }
	}
	wait("initial add", count("add:a-1"))
	f.put(t, ct.EndpointSlicesGVR, ct.EndpointSlice("default", "b-1", "b", "101", 1))
	wait("watched add", count("add:b-1"))

	f.handler.SourceChanged(CoordinatorSourceName)
	f.put(t, ct.EndpointSlicesGVR, ct.EndpointSlice("default", "c-1", "c", "102", 1))
	wait("add after the watch was ended", count("add:c-1"))
	mu.Lock()
	if seen["add:a-1"] != 1 || seen["update:a-1"] != 0 {
		t.Errorf("the informer relisted after its watch ended: %v", seen)
	}
	mu.Unlock()

	// The informer used a watch list (initial events and their end bookmark) and never listed.
	f.mu.Lock()
	reqs := strings.Join(f.requests, "\n")
	f.mu.Unlock()
	if !strings.Contains(reqs, "sendInitialEvents=true") {
		t.Errorf("the informer did not use a watch list:\n%s", reqs)
	}
	for _, q := range strings.Split(reqs, "\n") {
		if !strings.Contains(q, "watch=true") {
			t.Errorf("the informer listed (%s); its watch list or re-watch failed:\n%s", q, reqs)
		}
	}

	// A cloud resourceVersion is foreign here.
	resp, err := http.Get(f.srv.URL + "/apis/discovery.k8s.io/v1/endpointslices?watch=true&resourceVersion=12345")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone {
		t.Errorf("watch from a cloud resourceVersion: %d, want 410", resp.StatusCode)
	}
	keys := inf.GetStore().ListKeys()
	sort.Strings(keys)
	if strings.Join(keys, ",") != "default/a-1,default/b-1,default/c-1" {
		t.Errorf("informer store %v", keys)
	}
}

func TestCoordinatorSourceCompactedRevision(t *testing.T) {
	f := newCoordFixture(t)
	ctx := context.Background()
	rev := f.put(t, ct.ServicesGVR, ct.Service("default", "a", "1"))
	f.put(t, ct.ServicesGVR, ct.Service("default", "a", "2"))
	last := f.put(t, ct.ServicesGVR, ct.Service("default", "a", "3"))
	if _, err := f.client.Etcd.Compact(ctx, last); err != nil {
		t.Fatal(err)
	}
	epoch := f.source.Epoch()
	w, err := f.clientset(t, false).CoreV1().Services("").Watch(ctx, metav1.ListOptions{ResourceVersion: CoordinatorResourceVersion(epoch, rev)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	select {
	case ev := <-w.ResultChan():
		st, ok := ev.Object.(*metav1.Status)
		if ev.Type != watch.Error || !ok || st.Code != http.StatusGone {
			t.Fatalf("watch from a compacted revision: %s %#v", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
}

// A coordinator that does not answer: a list falls back (here: the cloud stand-in) and the
// router is told.
func TestCoordinatorSourceUnavailableFallsBack(t *testing.T) {
	f := newCoordFixture(t)
	cloud := &fakeSource{name: "cloud", owns: IsCloudResourceVersion}
	f.source.Fallback = func(*Request) Source { return cloud }
	f.source.ReadTimeout = 500 * time.Millisecond
	o := coordinator.NewOptions()
	o.Endpoints, o.Pool, o.Identity = []string{"http://127.0.0.1:1"}, testPool, "hub-1" // nobody listens
	dead, err := coordinator.New(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	f.source.Store = store.New(dead, nil)
	resp, err := http.Get(f.srv.URL + "/api/v1/services")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(cloud.served) != 1 {
		t.Fatalf("the list was not passed to the fallback: %v", cloud.served)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.unavail) == 0 {
		t.Fatal("OnUnavailable not called")
	}
}

// What a cached agent gets from the coordinator also lands in its cache, so a hub that loses
// the coordinator and the cloud serves the pool's latest data.
func TestCoordinatorSourceFeedsTheCache(t *testing.T) {
	f := newCoordFixture(t)
	cacheStore := newTestStore(t)
	tee := &CloudSource{Store: cacheStore}
	f.source.CacheTo = tee
	f.put(t, ct.ServicesGVR, ct.Service("default", "a", "1"))
	ctx := context.Background()
	cs := f.clientset(t, true)
	list, err := cs.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cs.CoreV1().Services("").Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	f.put(t, ct.ServicesGVR, ct.Service("default", "b", "2"))
	<-w.ResultChan()
	if _, err := f.writer.Delete(ctx, ct.ServicesGVR, "default", "a"); err != nil {
		t.Fatal(err)
	}
	<-w.ResultChan()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := tee.WaitForCacheWrites(ctx); err != nil {
			t.Fatal(err)
		}
		items, _ := cacheStore.List(servicesRes, "")
		var got []string
		for _, it := range items {
			got = append(got, it.GetName())
		}
		if strings.Join(got, ",") == "b" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cache holds %v, want [b]", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The list resourceVersion is kept too (the cache issues its own from it).
	if _, err := cacheStore.ListMeta(servicesRes); err != nil {
		t.Errorf("no list metadata cached: %v", err)
	}
}

// Requests the coordinator cannot answer go to the fallback: transformed responses (kubectl's
// Table) and anything but list/watch.
func TestCoordinatorSourcePassesOnWhatItCannotServe(t *testing.T) {
	f := newCoordFixture(t)
	cloud := &fakeSource{name: "cloud", owns: IsCloudResourceVersion}
	f.source.Fallback = func(*Request) Source { return cloud }
	for _, tc := range []struct {
		name, path, accept string
		fallback           bool
	}{
		{"plain list", "/api/v1/services", "application/json", false},
		{"table", "/api/v1/services", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json", true},
		{"metadata only", "/api/v1/services", "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1", true},
		{"get", "/api/v1/namespaces/default/services/a", "application/json", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cloud.served = nil
			req, _ := http.NewRequest(http.MethodGet, f.srv.URL+tc.path, nil)
			req.Header.Set("Accept", tc.accept)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := len(cloud.served) == 1; got != tc.fallback {
				t.Errorf("served by the fallback: %v, want %v (status %d)", got, tc.fallback, resp.StatusCode)
			}
		})
	}
}

// A watch that allows bookmarks gets them from the coordinator's progress notifications
// (every 5s here), at a coordinator revision, so an idle client can re-watch after compaction.
func TestCoordinatorSourceBookmarks(t *testing.T) {
	f := newCoordFixture(t)
	ctx := context.Background()
	f.put(t, ct.ServicesGVR, ct.Service("default", "a", "1"))
	cs := f.clientset(t, true)
	list, err := cs.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, listRev, _ := ParseCoordinatorResourceVersion(list.ResourceVersion)
	w, err := cs.CoreV1().Services("").Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, AllowWatchBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// Writes elsewhere in the coordinator move its revision on.
	if _, err := f.client.Etcd.Put(ctx, "/elsewhere", "x"); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		s, ok := ev.Object.(*corev1.Service)
		if ev.Type != watch.Bookmark || !ok {
			t.Fatalf("first event %s %#v, want a bookmark", ev.Type, ev.Object)
		}
		_, rev, _ := ParseCoordinatorResourceVersion(s.ResourceVersion)
		if !f.source.OwnsResourceVersion(s.ResourceVersion) || rev <= listRev {
			t.Errorf("bookmark at %q, want a coordinator revision after %d", s.ResourceVersion, listRev)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no bookmark within 15s")
	}
}
