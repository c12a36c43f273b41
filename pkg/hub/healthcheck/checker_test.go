package healthcheck

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/klog/v2/ktesting"
)

type fakeServer struct {
	*httptest.Server
	up     atomic.Bool
	probes atomic.Int32
}

func newFakeServer(t *testing.T, up bool) *fakeServer {
	f := &fakeServer{}
	f.up.Store(up)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.probes.Add(1)
		if !f.up.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) url() *url.URL { u, _ := url.Parse(f.URL); return u }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestThresholdsPriorityAndChanges(t *testing.T) {
	primary, secondary := newFakeServer(t, true), newFakeServer(t, true)
	logger, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := New([]*url.URL{primary.url(), secondary.url()}, http.DefaultTransport,
		Options{Interval: 10 * time.Millisecond, Timeout: time.Second, HealthyThreshold: 3, UnhealthyThreshold: 2, MaxBackoff: 40 * time.Millisecond}, logger)
	var mu sync.Mutex
	var changes []bool
	c.OnChange(func(h bool) { mu.Lock(); changes = append(changes, h); mu.Unlock() })
	go c.Run(ctx)

	<-c.Probed()
	// One success at startup is enough; the first server in order is used.
	if !c.Healthy() || c.Server().String() != primary.URL {
		t.Fatalf("after the first probes: healthy=%v server=%v", c.Healthy(), c.Server())
	}
	primary.up.Store(false)
	waitFor(t, "failover to the second server", func() bool { s := c.Server(); return s != nil && s.String() == secondary.URL })
	secondary.up.Store(false)
	waitFor(t, "cloud unhealthy", func() bool { return !c.Healthy() })
	if c.Server() != nil {
		t.Fatal("a server is returned while none is healthy")
	}

	// While down, probes back off: far fewer than one per interval.
	before := primary.probes.Load()
	time.Sleep(200 * time.Millisecond)
	if n := primary.probes.Load() - before; n > 12 {
		t.Errorf("%d probes in 200ms with a 40ms maximum backoff (each probe asks /readyz and /healthz)", n)
	}

	primary.up.Store(true)
	waitFor(t, "cloud healthy again", c.Healthy)
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 3 || !changes[0] || changes[1] || !changes[2] {
		t.Fatalf("changes %v, want [true false true]", changes)
	}
}

func TestHealthyThresholdNeedsConsecutiveSuccesses(t *testing.T) {
	s := newFakeServer(t, false)
	logger, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := New([]*url.URL{s.url()}, http.DefaultTransport,
		Options{Interval: 10 * time.Millisecond, Timeout: time.Second, HealthyThreshold: 3, UnhealthyThreshold: 1, MaxBackoff: 10 * time.Millisecond}, logger)
	go c.Run(ctx)
	<-c.Probed()
	if c.Healthy() {
		t.Fatal("healthy although every probe failed")
	}
	s.up.Store(true)
	start := s.probes.Load()
	waitFor(t, "healthy", c.Healthy)
	// Each successful probe is one request (/readyz); it took at least three.
	if n := s.probes.Load() - start; n < 3 {
		t.Fatalf("healthy after %d successful probes, want 3", n)
	}
}
