package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2/ktesting"

	"github.com/yurt-edge/yurt/pkg/hub/cache"
	"github.com/yurt-edge/yurt/pkg/hub/codec"
	"github.com/yurt-edge/yurt/pkg/hub/metrics"
)

var servicesRes = cache.Resource{Component: "kube-proxy", GroupVersionResource: schema.GroupVersionResource{Version: "v1", Resource: "services"}}

func service(name, rv string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service", "spec": map[string]any{"clusterIP": "10.0.0.9"}}}
	u.SetNamespace("default")
	u.SetName(name)
	u.SetResourceVersion(rv)
	return u
}

func newTestStore(t *testing.T) *cache.Store {
	logger, _ := ktesting.NewTestContext(t)
	s, err := cache.NewStore(t.TempDir(), logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeSource records what it was asked to serve (unit tests only).
type fakeSource struct {
	name   string
	owns   func(string) bool
	served []string
}

func (f *fakeSource) Name() string                       { return f.name }
func (f *fakeSource) OwnsResourceVersion(rv string) bool { return f.owns(rv) }
func (f *fakeSource) Serve(w http.ResponseWriter, _ *http.Request, req *Request) {
	f.served = append(f.served, req.Verb+" "+req.ResourceVersion)
	w.WriteHeader(http.StatusOK)
}

func newHandler(t *testing.T, route Router) *Handler {
	logger, _ := ktesting.NewTestContext(t)
	return &Handler{CacheAgents: sets.New("kube-proxy", "kubelet"), Route: route, Metrics: metrics.New(), Logger: logger}
}

func TestWatchResourceVersionMustComeFromTheServingSource(t *testing.T) {
	cloud := &fakeSource{name: "cloud", owns: IsCloudResourceVersion}
	cacheSrc := &fakeSource{name: "cache", owns: IsCacheResourceVersion}
	for _, tc := range []struct {
		source *fakeSource
		rv     string
		want   int
	}{
		{cloud, "", 200}, {cloud, "0", 200}, {cloud, "12345", 200}, {cloud, "yurthub-cache.12345", 410},
		{cacheSrc, "", 200}, {cacheSrc, "0", 200}, {cacheSrc, "yurthub-cache.7", 200}, {cacheSrc, "12345", 410},
	} {
		h := newHandler(t, func(*Request) Source { return tc.source })
		r := httptest.NewRequest(http.MethodGet, "/api/v1/services?watch=true&resourceVersion="+url.QueryEscape(tc.rv), nil)
		r.Header.Set("User-Agent", "kube-proxy/v1.36")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s source, watch from %q: code %d, want %d", tc.source.name, tc.rv, w.Code, tc.want)
		}
		if tc.want == 410 {
			var st metav1.Status
			if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Reason != metav1.StatusReasonExpired || st.Code != 410 {
				t.Errorf("410 body: %s (%v)", w.Body, err)
			}
		}
	}
	// Lists with any resourceVersion reach the source (the cloud source strips a foreign one).
	h := newHandler(t, func(*Request) Source { return cloud })
	r := httptest.NewRequest(http.MethodGet, "/api/v1/services?resourceVersion=yurthub-cache.3", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("list with a cache resourceVersion: %d", w.Code)
	}
}

func TestMalformedRequestIs400(t *testing.T) {
	h := newHandler(t, func(*Request) Source { t.Fatal("routed a malformed request"); return nil })
	for _, q := range []string{"labelSelector=a%20in%20(", "fieldSelector=a%3Db%3Dc%3D,", "timeoutSeconds=-1", "timeoutSeconds=x"} {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/pods?watch=true&"+q, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusBadRequest {
			t.Errorf("%s: code %d, want 400", q, w.Code)
		}
	}
}

func TestCacheSourceServesSelectorsAndEndsWatchesOnSwitch(t *testing.T) {
	store := newTestStore(t)
	a, b := service("a", "10"), service("b", "11")
	a.SetLabels(map[string]string{"app": "x"})
	for _, o := range []*unstructured.Unstructured{a, b} {
		if err := store.Put(servicesRes, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.PutListMeta(servicesRes, cache.ListMeta{APIVersion: "v1", Kind: "ServiceList", ResourceVersion: "11"}); err != nil {
		t.Fatal(err)
	}
	src := &CacheSource{Store: store, MaxWatchTimeout: time.Minute}
	h := newHandler(t, func(*Request) Source { return src })
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(path, accept string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("User-Agent", "kube-proxy/v1.36")
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	// Protobuf list with a label selector.
	resp := get("/api/v1/namespaces/default/services?labelSelector=app%3Dx", "application/vnd.kubernetes.protobuf, application/json")
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	list, err := codec.DecodeList(data, resp.Header.Get("Content-Type"))
	if err != nil || !codec.IsProtobuf(resp.Header.Get("Content-Type")) {
		t.Fatalf("protobuf list: %v (%s)", err, resp.Header.Get("Content-Type"))
	}
	if len(list.Items) != 1 || list.Items[0].GetName() != "a" || list.GetResourceVersion() != "yurthub-cache.11" {
		t.Fatalf("selected list: %d items, rv %s", len(list.Items), list.GetResourceVersion())
	}
	// Not cached: 404 for a get, 503 for a resource never listed.
	if resp := get("/api/v1/namespaces/default/services/zzz", "application/json"); resp.StatusCode != 404 {
		t.Fatalf("get of a missing object: %d", resp.StatusCode)
	}
	if resp := get("/api/v1/pods", "application/json"); resp.StatusCode != 503 {
		t.Fatalf("list of an uncached resource: %d", resp.StatusCode)
	}

	// A watch list from the cache: initial events, the end bookmark, then silence until the switch.
	resp = get("/api/v1/namespaces/default/services?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan", "application/json")
	dec := codec.NewWatchDecoder(resp.Body, resp.Header.Get("Content-Type"))
	var got []string
	for i := 0; i < 3; i++ {
		ev, err := dec.Next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.Type+":"+ev.Object.GetName()+ev.Object.GetAnnotations()[codec.InitialEventsEndAnnotation])
	}
	if strings.Join(got, ",") != "ADDED:a,ADDED:b,BOOKMARK:true" {
		t.Fatalf("watch list from the cache: %v", got)
	}
	ended := make(chan error, 1)
	go func() { _, err := dec.Next(); ended <- err }()
	select {
	case err := <-ended:
		t.Fatalf("watch ended before the switch: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	h.SourceChanged("cache")
	select {
	case err := <-ended:
		if err != io.EOF {
			t.Fatalf("watch should end cleanly, got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not end on the source switch")
	}
}

// upstream is a fake cloud API server for the cloud source's tee (unit tests only).
func upstream(t *testing.T, events chan string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("the client's Authorization header reached the cloud")
		}
		switch {
		case r.URL.Query().Get("watch") == "true":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			for ev := range events {
				fmt.Fprintln(w, ev)
				w.(http.Flusher).Flush()
			}
		case strings.HasSuffix(r.URL.Path, "/services"):
			// A protobuf list, as kube-apiserver sends to kube-proxy.
			l := &corev1.ServiceList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceList"}, ListMeta: metav1.ListMeta{ResourceVersion: "20"}}
			for _, n := range []string{"a", "b"} {
				l.Items = append(l.Items, corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: "default", ResourceVersion: "19"}})
			}
			u := &unstructured.Unstructured{}
			content, _ := json.Marshal(l)
			_ = u.UnmarshalJSON(content)
			data, ct, err := codec.EncodeObject(u, true)
			if err != nil {
				t.Error(err)
			}
			w.Header().Set("Content-Type", ct)
			_, _ = w.Write(data)
		default:
			http.NotFound(w, r)
		}
	}))
}

func TestCloudSourceTeesListsAndWatchesIntoTheCache(t *testing.T) {
	events := make(chan string, 10)
	up := upstream(t, events)
	defer up.Close()
	u, _ := url.Parse(up.URL)
	store := newTestStore(t)
	cloud := &CloudSource{Server: func() *url.URL { return u }, Transport: http.DefaultTransport, UpgradeTransport: http.DefaultTransport, Store: store}
	h := newHandler(t, func(*Request) Source { return cloud })
	srv := httptest.NewServer(h)
	defer srv.Close()
	do := func(path string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("User-Agent", "kube-proxy/v1.36")
		req.Header.Set("Accept", "application/vnd.kubernetes.protobuf, application/json")
		req.Header.Set("Authorization", "Bearer local-client")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := do("/api/v1/services")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !codec.IsProtobuf(resp.Header.Get("Content-Type")) || !bytes.HasPrefix(body, []byte{0x6b, 0x38, 0x73, 0x00}) {
		t.Fatalf("the client's protobuf did not pass through: %q", resp.Header.Get("Content-Type"))
	}
	if err := cloud.WaitForCacheWrites(context.Background()); err != nil {
		t.Fatal(err)
	}
	items, err := store.List(servicesRes, "")
	if err != nil || len(items) != 2 {
		t.Fatalf("cached after the list: %d, %v", len(items), err)
	}
	if meta, err := store.ListMeta(servicesRes); err != nil || meta.ResourceVersion != "20" || meta.Kind != "ServiceList" {
		t.Fatalf("list meta: %+v %v", meta, err)
	}

	resp = do("/api/v1/services?watch=true&resourceVersion=20")
	reader := bufio.NewReader(resp.Body)
	send := func(typ string, o *unstructured.Unstructured) {
		data, _ := json.Marshal(map[string]any{"type": typ, "object": o.Object})
		events <- string(data)
		if _, err := reader.ReadString('\n'); err != nil { // the client got it, streamed
			t.Fatal(err)
		}
	}
	send("ADDED", service("c", "21"))
	send("DELETED", service("a", "22"))
	close(events)
	_, _ = io.Copy(io.Discard, reader)
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		items, _ = store.List(servicesRes, "")
		var names []string
		for _, it := range items {
			names = append(names, it.GetName())
		}
		if strings.Join(names, ",") == "b,c" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cache after watch events: %v, want b,c", names)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestCloudSourcePassesUpgrades(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "SPDY/3.1" {
			http.Error(w, "want upgrade", 400)
			return
		}
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		fmt.Fprint(buf, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n")
		_ = buf.Flush()
		line, _ := buf.ReadString('\n')
		fmt.Fprint(buf, "echo:"+line)
		_ = buf.Flush()
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	cloud := &CloudSource{Server: func() *url.URL { return u }, Transport: http.DefaultTransport, UpgradeTransport: http.DefaultTransport}
	h := newHandler(t, func(*Request) Source { return cloud })
	srv := httptest.NewServer(h)
	defer srv.Close()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(conn, "POST /api/v1/namespaces/default/pods/p/exec?command=sh HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nUser-Agent: kubectl/v1.36\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade through the hub: %v %v", resp, err)
	}
	fmt.Fprint(conn, "hello\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "echo:hello\n" {
		t.Fatalf("upgraded stream: %q %v", line, err)
	}
}

func TestStuckCloudGetFallsBackToCacheOnSwitch(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // a cloud that stopped answering
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer up.Close()
	defer close(release)
	u, _ := url.Parse(up.URL)
	store := newTestStore(t)
	if err := store.Put(servicesRes, service("a", "5")); err != nil {
		t.Fatal(err)
	}
	cacheSrc := &CacheSource{Store: store, MaxWatchTimeout: time.Minute}
	cloud := &CloudSource{Server: func() *url.URL { return u }, Transport: http.DefaultTransport, UpgradeTransport: http.DefaultTransport, Store: store, Fallback: cacheSrc}
	h := newHandler(t, func(*Request) Source { return cloud })
	srv := httptest.NewServer(h)
	defer srv.Close()
	go func() {
		time.Sleep(300 * time.Millisecond)
		h.SourceChanged("cloud")
	}()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/namespaces/default/services/a", nil)
	req.Header.Set("User-Agent", "kube-proxy/v1.36")
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"name":"a"`) {
		t.Fatalf("stuck get after the switch: %s %s", resp.Status, body)
	}
}

func TestDiscoveryIsServedFromTheCacheOffline(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q,"accept":%q}`, r.URL.Path, r.Header.Get("Accept"))
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	store := newTestStore(t)
	cacheSrc := &CacheSource{Store: store, MaxWatchTimeout: time.Minute}
	cloud := &CloudSource{Server: func() *url.URL { return u }, Transport: http.DefaultTransport, UpgradeTransport: http.DefaultTransport, Store: store, Fallback: cacheSrc}
	online := true
	h := newHandler(t, func(*Request) Source {
		if online {
			return cloud
		}
		return cacheSrc
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(path, ua string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("User-Agent", ua)
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	var want []string
	for _, p := range []string{"/version", "/api", "/apis/discovery.k8s.io/v1"} {
		_, body := get(p, "kubelet/v1.36")
		want = append(want, body)
	}
	if err := cloud.WaitForCacheWrites(context.Background()); err != nil {
		t.Fatal(err)
	}
	online = false
	for i, p := range []string{"/version", "/api", "/apis/discovery.k8s.io/v1"} {
		if code, body := get(p, "kubelet/v1.36"); code != 200 || body != want[i] {
			t.Errorf("offline %s: %d %s, want %s", p, code, body, want[i])
		}
	}
	if code, _ := get("/version", "kubectl/v1.36"); code != http.StatusServiceUnavailable {
		t.Errorf("an uncached agent's /version offline: %d, want 503", code)
	}
	if code, _ := get("/openapi/v2", "kubelet/v1.36"); code != http.StatusServiceUnavailable {
		t.Errorf("a non-discovery path offline: %d, want 503", code)
	}
}
