package heartbeat

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2/ktesting"

	"github.com/yurt-edge/yurt/pkg/coordinator"
	ct "github.com/yurt-edge/yurt/pkg/coordinator/coordinatortest"
	"github.com/yurt-edge/yurt/pkg/coordinator/lease"
	"github.com/yurt-edge/yurt/pkg/hub/codec"
)

const (
	node = "edge-1"
	pool = "pool-a"
)

// fakeCloud stands for the proxy behind the middleware: it records what reached it and
// answers Lease writes with the Lease it received (resourceVersion bumped), as kube-apiserver does.
type fakeCloud struct {
	mu    sync.Mutex
	calls []string
	got   []*coordinationv1.Lease
	code  int
	hang  bool // wait for the request's context to end, as a cut link does
}

func (f *fakeCloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	code, hang := f.code, f.hang
	f.mu.Unlock()
	if hang {
		<-r.Context().Done()
		return
	}
	if code == 0 {
		code = http.StatusOK
	}
	var l *coordinationv1.Lease
	if r.Method == http.MethodGet {
		l = ct.Lease(node, "100", time.Unix(1000, 0))
	} else if len(body) > 0 {
		var err error
		if l, err = decodeLease(body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.got = append(f.got, l.DeepCopy())
		f.mu.Unlock()
		l.ResourceVersion = "101"
	}
	if l == nil || code/100 != 2 {
		writeStatus(w, code, metav1.StatusReasonServiceUnavailable, "cloud says no")
		return
	}
	mt := mediaTypeFor(r.Header.Get("Accept"))
	b, _ := encode(mt, l)
	w.Header().Set("Content-Type", mt)
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func (f *fakeCloud) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

type env struct {
	mw      *Middleware
	cloud   *fakeCloud
	healthy atomic.Bool
	leases  *lease.Store
}

// newEnv returns a middleware in front of a fake cloud; withCoordinator adds a mirror to a real
// embedded etcd, running until the test ends.
func newEnv(t *testing.T, withCoordinator bool) *env {
	t.Helper()
	e := &env{cloud: &fakeCloud{}}
	met, err := NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	logger, ctx := ktesting.NewTestContext(t)
	e.mw = &Middleware{NodeName: node, Healthy: e.healthy.Load, Next: e.cloud, Metrics: met, Logger: logger}
	if withCoordinator {
		etcd := ct.Start(t, nil)
		e.leases = lease.New(etcd.NewClient(t, pool, node, coordinator.NewMetrics(nil)), 0)
		e.mw.Mirror = NewMirror(e.leases, met)
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); e.mw.Mirror.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return e
}

func leaseBody(t *testing.T, mediaType string, l *coordinationv1.Lease) []byte {
	t.Helper()
	b, err := encode(mediaType, l)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *env) do(t *testing.T, method, path, contentType, accept string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	w := httptest.NewRecorder()
	e.mw.ServeHTTP(w, r)
	return w
}

// waitMirrored waits until the coordinator holds the node's Lease with the given delegation and renewTime.
func (e *env) waitMirrored(t *testing.T, delegated bool, renew time.Time) *coordinationv1.Lease {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := e.leases.Get(context.Background(), node)
		if err == nil && lease.IsDelegated(got) == delegated && got.Spec.RenewTime != nil && got.Spec.RenewTime.Time.Equal(renew) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("coordinator copy of %s: %+v, %v; want delegated=%v renewTime=%s", node, got, err, delegated, renew)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const (
	pb      = codec.MediaTypeProtobuf
	js      = codec.MediaTypeJSON
	pbFirst = "application/vnd.kubernetes.protobuf,application/json"
	named   = leasesPath + "/" + node
)

func TestOnlineWriteStripsDelegationAndMirrors(t *testing.T) {
	for _, mt := range []string{pb, js} {
		t.Run(mt, func(t *testing.T) {
			e := newEnv(t, true)
			e.healthy.Store(true)
			renew := time.Now().Truncate(time.Microsecond)
			l := ct.Lease(node, "100", renew)
			// kubelet carries over the annotation the leader put on the cloud Lease.
			l.Annotations = map[string]string{lease.DelegateHeartbeatAnnotation: "true", "other": "kept"}
			w := e.do(t, http.MethodPut, named, mt, pbFirst, leaseBody(t, mt, l))
			if w.Code != http.StatusOK {
				t.Fatalf("PUT: %d %s", w.Code, w.Body)
			}
			if len(e.cloud.got) != 1 {
				t.Fatalf("cloud received %d writes", len(e.cloud.got))
			}
			sent := e.cloud.got[0]
			if lease.IsDelegated(sent) || sent.Annotations["other"] != "kept" || !sent.Spec.RenewTime.Time.Equal(renew) {
				t.Errorf("the cloud received annotations %v renewTime %v; want the delegate annotation removed, the rest kept", sent.Annotations, sent.Spec.RenewTime)
			}
			got, err := decodeLease(w.Body.Bytes())
			if err != nil || got.ResourceVersion != "101" {
				t.Fatalf("kubelet got %v, %v; want the cloud's answer", got, err)
			}
			m := e.waitMirrored(t, false, renew)
			if m.ResourceVersion != "101" {
				t.Errorf("mirrored resourceVersion %q, want the cloud's 101", m.ResourceVersion)
			}
		})
	}
}

func TestOnlineFailedWriteIsNotMirrored(t *testing.T) {
	e := newEnv(t, true)
	e.healthy.Store(true)
	e.cloud.code = http.StatusConflict
	w := e.do(t, http.MethodPut, named, pb, pbFirst, leaseBody(t, pb, ct.Lease(node, "1", time.Now())))
	if w.Code != http.StatusConflict {
		t.Fatalf("PUT: %d, want the cloud's 409 passed through", w.Code)
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := e.leases.Get(context.Background(), node); err == nil {
		t.Fatal("a write the cloud refused was mirrored to the coordinator")
	}
}

// TestUndeliveredHeartbeatIsDelegated: the health checker still says healthy but the cloud
// does not take the heartbeat (a 5xx, or no answer at all) — kubelet is answered locally and
// the Lease delegated, instead of kubelet's heartbeat being lost until the checker notices.
func TestUndeliveredHeartbeatIsDelegated(t *testing.T) {
	for _, tc := range []struct {
		name string
		code int
		hang bool
	}{{"503", http.StatusServiceUnavailable, false}, {"502", http.StatusBadGateway, false}, {"no answer", 0, true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, true)
			e.healthy.Store(true)
			e.cloud.code, e.cloud.hang = tc.code, tc.hang
			e.mw.ForwardTimeout = 200 * time.Millisecond
			var reports atomic.Int32
			e.mw.OnUndelivered = func() { reports.Add(1) }
			// Nothing known yet: the Lease most likely exists in the cloud, so no 404.
			if w := e.do(t, http.MethodGet, named, "", pbFirst, nil); w.Code != http.StatusGatewayTimeout {
				t.Fatalf("GET with nothing known: %d %s, want 504", w.Code, w.Body)
			}
			renew := time.Now().Truncate(time.Microsecond)
			start := time.Now()
			w := e.do(t, http.MethodPut, named, pb, pbFirst, leaseBody(t, pb, ct.Lease(node, "7", renew)))
			if w.Code != http.StatusOK {
				t.Fatalf("PUT: %d %s, want a local 200", w.Code, w.Body)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("answered after %s", took)
			}
			if got, err := decodeLease(w.Body.Bytes()); err != nil || got.ResourceVersion != "7" {
				t.Fatalf("PUT answered %+v, %v; want the Lease as sent", got, err)
			}
			e.waitMirrored(t, true, renew)
			// A GET the cloud does not answer is answered from what the hub knows.
			if w := e.do(t, http.MethodGet, named, "", pbFirst, nil); w.Code != http.StatusOK {
				t.Fatalf("GET: %d %s", w.Code, w.Body)
			}
			// Every undelivered request told the health checker.
			if n := reports.Load(); n != 3 {
				t.Errorf("%d failures reported, want 3 (GET, PUT, GET)", n)
			}
			// The cloud answering again, even with a refusal, is no failure.
			before := reports.Load()
			e.cloud.code, e.cloud.hang = http.StatusConflict, false
			_ = e.do(t, http.MethodPut, named, pb, pbFirst, leaseBody(t, pb, ct.Lease(node, "7", renew)))
			if n := reports.Load() - before; n != 0 {
				t.Errorf("%d failures reported for an answered heartbeat", n)
			}
		})
	}
}

func TestOfflineAnswersLocally(t *testing.T) {
	e := newEnv(t, true)
	// Before any Lease is known: 404, so kubelet creates it.
	if w := e.do(t, http.MethodGet, named, "", pbFirst, nil); w.Code != http.StatusNotFound {
		t.Fatalf("GET with nothing known: %d %s, want 404", w.Code, w.Body)
	}
	renew := time.Now().Truncate(time.Microsecond)
	l := ct.Lease(node, "", renew)
	l.Namespace = ""
	w := e.do(t, http.MethodPost, leasesPath, pb, pbFirst, leaseBody(t, pb, l))
	if w.Code != http.StatusCreated || w.Header().Get("Content-Type") != pb {
		t.Fatalf("POST: %d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	e.waitMirrored(t, true, renew)

	renew2 := renew.Add(10 * time.Second)
	l2 := ct.Lease(node, "55", renew2)
	w = e.do(t, http.MethodPut, named, pb, pbFirst, leaseBody(t, pb, l2))
	if w.Code != http.StatusOK {
		t.Fatalf("PUT: %d %s", w.Code, w.Body)
	}
	got, err := decodeLease(w.Body.Bytes())
	if err != nil || got.ResourceVersion != "55" || !got.Spec.RenewTime.Time.Equal(renew2) || lease.IsDelegated(got) {
		t.Fatalf("PUT answered %+v, %v; want the Lease as sent", got, err)
	}
	e.waitMirrored(t, true, renew2)

	w = e.do(t, http.MethodGet, named, "", js, nil)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != js {
		t.Fatalf("GET: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	if got, err := decodeLease(w.Body.Bytes()); err != nil || !got.Spec.RenewTime.Time.Equal(renew2) {
		t.Fatalf("GET answered %+v, %v; want the last written Lease", got, err)
	}
	if calls := e.cloud.Calls(); len(calls) != 0 {
		t.Errorf("requests reached the cloud while it was unreachable: %v", calls)
	}
}

func TestOfflineRefusals(t *testing.T) {
	e := newEnv(t, false)
	other := ct.Lease("edge-2", "1", time.Now())
	for _, tc := range []struct {
		name         string
		method, path string
		body         []byte
		want         int
	}{
		{"another node's Lease", http.MethodPut, named, leaseBody(t, js, other), http.StatusForbidden},
		{"another node's Lease created", http.MethodPost, leasesPath, leaseBody(t, pb, other), http.StatusForbidden},
		{"garbage", http.MethodPut, named, []byte("{not json"), http.StatusBadRequest},
		{"truncated protobuf", http.MethodPut, named, leaseBody(t, pb, ct.Lease(node, "1", time.Now()))[:20], http.StatusBadRequest},
		{"not a Lease", http.MethodPut, named, []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"edge-1"}}`), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(t, tc.method, tc.path, js, js, tc.body)
			if w.Code != tc.want {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tc.want)
			}
		})
	}
	if e.mw.lastLease() != nil {
		t.Error("a refused write was remembered")
	}
}

func TestNotHandledGoesToTheProxy(t *testing.T) {
	for _, healthy := range []bool{true, false} {
		e := newEnv(t, false)
		e.healthy.Store(healthy)
		for _, tc := range []struct{ method, path string }{
			{http.MethodGet, "/api/v1/pods"},
			{http.MethodGet, leasesPath + "/edge-2"},
			{http.MethodGet, leasesPath + "?watch=true&fieldSelector=metadata.name%3Dedge-1"},
			{http.MethodGet, named + "?watch=1"},
			{http.MethodDelete, named},
			{http.MethodPatch, named},
			{http.MethodGet, "/apis/coordination.k8s.io/v1/namespaces/default/leases/" + node},
		} {
			before := len(e.cloud.Calls())
			e.do(t, tc.method, tc.path, js, js, nil)
			if len(e.cloud.Calls()) != before+1 {
				t.Errorf("healthy=%v %s %s did not reach the proxy", healthy, tc.method, tc.path)
			}
		}
	}
}

func TestOfflineGetFallsBackToCoordinator(t *testing.T) {
	e := newEnv(t, true)
	renew := time.Now().Truncate(time.Microsecond)
	// A hub restarted while offline: the coordinator still has the delegated copy.
	if _, err := e.leases.Renew(context.Background(), ct.Lease(node, "9", renew), true); err != nil {
		t.Fatal(err)
	}
	w := e.do(t, http.MethodGet, named, "", pbFirst, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("GET: %d %s", w.Code, w.Body)
	}
	got, err := decodeLease(w.Body.Bytes())
	if err != nil || !got.Spec.RenewTime.Time.Equal(renew) || lease.IsDelegated(got) {
		t.Fatalf("GET answered %+v, %v; want the coordinator's copy without the delegate annotation", got, err)
	}
}

func TestOnlineGetIsRememberedForOffline(t *testing.T) {
	e := newEnv(t, false)
	e.healthy.Store(true)
	if w := e.do(t, http.MethodGet, named, "", pbFirst, nil); w.Code != http.StatusOK {
		t.Fatalf("GET online: %d", w.Code)
	}
	e.healthy.Store(false)
	w := e.do(t, http.MethodGet, named, "", pbFirst, nil)
	got, err := decodeLease(w.Body.Bytes())
	if w.Code != http.StatusOK || err != nil || got.ResourceVersion != "100" {
		t.Fatalf("GET offline: %d %+v %v; want the Lease read from the cloud", w.Code, got, err)
	}
}
