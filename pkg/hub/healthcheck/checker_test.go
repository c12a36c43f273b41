package healthcheck

import (
	"context"
	"net"
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

// A reported failure is probed at once: confirmed, the server is in doubt (Confident false)
// while still healthy, the threshold is reached within a few timeouts instead of a few
// intervals, and a success clears the doubt; unconfirmed (the cloud answers), nothing changes.
func TestReportFailure(t *testing.T) {
	tests := []struct {
		name          string
		down          bool
		wantConfident bool
	}{
		{name: "cloud answers the probe: no doubt", down: false, wantConfident: true},
		{name: "probe fails too: in doubt, then unhealthy", down: true, wantConfident: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			primary, secondary := newFakeServer(t, true), newFakeServer(t, true)
			logger, ctx := ktesting.NewTestContext(t)
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			// An hour between probes: whatever happens below within seconds is the report's doing.
			c := New([]*url.URL{primary.url(), secondary.url()}, http.DefaultTransport,
				Options{Interval: time.Hour, Timeout: 50 * time.Millisecond, HealthyThreshold: 1, UnhealthyThreshold: 3, MaxBackoff: time.Hour}, logger)
			go c.Run(ctx)
			<-c.Probed()
			if !c.Confident() {
				t.Fatal("not confident after successful first probes")
			}
			primary.up.Store(!tt.down)
			before := primary.probes.Load()
			c.ReportFailure()
			waitFor(t, "the reported server probed", func() bool { return primary.probes.Load() > before })
			if !tt.down {
				time.Sleep(100 * time.Millisecond)
				if !c.Confident() || c.Server().String() != primary.URL {
					t.Fatalf("confident=%v server=%v after an unconfirmed report", c.Confident(), c.Server())
				}
				return
			}
			waitFor(t, "doubt", func() bool { return c.Server().String() == secondary.URL })
			// The secondary is healthy and not in doubt: the hub as a whole is still confident.
			if !c.Confident() {
				t.Fatal("not confident although the secondary server is fine")
			}
			secondary.up.Store(false)
			c.ReportFailure()
			waitFor(t, "both servers in doubt", func() bool { return !c.Confident() })
			if !c.Healthy() {
				t.Fatal("unhealthy on a confirmed report: the failure threshold (3) must still hold")
			}
			waitFor(t, "unhealthy after 3 failed probes, spaced by the timeout", func() bool { return !c.Healthy() })
			primary.up.Store(true)
			c.ReportFailure() // nothing healthy to report on: a no-op
		})
	}
}

func TestReportingTransport(t *testing.T) {
	s := newFakeServer(t, true)
	logger, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := New([]*url.URL{s.url()}, http.DefaultTransport,
		Options{Interval: time.Hour, Timeout: 50 * time.Millisecond, HealthyThreshold: 1, UnhealthyThreshold: 10, MaxBackoff: time.Hour}, logger)
	go c.Run(ctx)
	<-c.Probed()

	rt := c.ReportingTransport(http.DefaultTransport)
	// A 503 is an answer: no report.
	s.up.Store(false)
	before := s.probes.Load()
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	if resp, err := rt.RoundTrip(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	time.Sleep(100 * time.Millisecond)
	if n := s.probes.Load() - before; n != 1 { // the request itself
		t.Fatalf("%d requests after an answered request, want 1 (no probe)", n)
	}
	// A refused connection is reported: the server is probed (fails) and in doubt.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	req, _ = http.NewRequest(http.MethodGet, dead, nil)
	if _, err := rt.RoundTrip(req); err == nil {
		t.Fatal("a closed port answered")
	}
	waitFor(t, "doubt after a refused connection", func() bool { return !c.Confident() })
	// A request its caller cancelled is not reported.
	s.up.Store(true)
	waitFor(t, "doubt cleared by a successful probe", c.Confident)
	rctx, rcancel := context.WithCancel(ctx)
	rcancel()
	req, _ = http.NewRequestWithContext(rctx, http.MethodGet, dead, nil)
	before = s.probes.Load()
	_, _ = rt.RoundTrip(req)
	time.Sleep(100 * time.Millisecond)
	if n := s.probes.Load() - before; n != 0 {
		t.Fatalf("%d probes after a cancelled request, want 0", n)
	}
}
