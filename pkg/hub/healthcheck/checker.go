// Package healthcheck decides whether the cloud is reachable. It probes each cloud API server's
// /readyz (falling back to /healthz) with the node's own credentials, needs HealthyThreshold
// consecutive successes to call a server healthy (one at startup) and UnhealthyThreshold
// consecutive failures to call it unhealthy, and backs off while a server stays down.
//
// Other parts of the hub see the cloud fail before the probes do (a heartbeat that gets no
// answer, a proxied request that cannot connect) and tell the checker with ReportFailure. The
// server in use is then probed at once: if that probe fails too, the server is "in doubt"
// until a probe succeeds, and the following probes come every Timeout instead of every
// Interval. A server in doubt stays healthy — the thresholds still decide, only sooner, when
// the proxy flips to the cache — but Confident turns false at once, which is what the pool
// leader's election follows: a leader cannot hand over its leadership too early (another hub
// just takes it over), but too late costs the nodes whose heartbeats it renews their Ready.
package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"k8s.io/klog/v2"
)

// Options tune the probes.
type Options struct {
	// Interval between probes of a healthy server.
	Interval time.Duration
	// Timeout of one probe.
	Timeout time.Duration
	// HealthyThreshold consecutive successes make an unhealthy server healthy.
	HealthyThreshold int
	// UnhealthyThreshold consecutive failures make a healthy server unhealthy.
	UnhealthyThreshold int
	// MaxBackoff caps the interval between probes of a server that keeps failing.
	MaxBackoff time.Duration
}

// Checker tracks the health of the cloud's API servers.
type Checker struct {
	servers []*url.URL
	client  *http.Client
	opts    Options
	logger  klog.Logger

	mu       sync.RWMutex
	healthy  []bool
	probed   []bool
	doubted  []bool          // a reported failure was confirmed by a failed probe
	reported []bool          // a failure was reported since the server's last probe began
	wake     []chan struct{} // a reported failure wakes the server's probe loop
	anyUp    bool
	onChange []func(healthy bool)
	ready    chan struct{}
	once     sync.Once
}

// New returns a checker for servers (in priority order) that probes through transport (which
// carries the node's credentials).
func New(servers []*url.URL, transport http.RoundTripper, opts Options, logger klog.Logger) *Checker {
	c := &Checker{
		servers:  servers,
		client:   &http.Client{Transport: transport, Timeout: opts.Timeout},
		opts:     opts,
		logger:   logger,
		healthy:  make([]bool, len(servers)),
		probed:   make([]bool, len(servers)),
		doubted:  make([]bool, len(servers)),
		reported: make([]bool, len(servers)),
		wake:     make([]chan struct{}, len(servers)),
		ready:    make(chan struct{}),
	}
	for i := range c.wake {
		c.wake[i] = make(chan struct{}, 1)
	}
	return c
}

// ReportFailure tells the checker that a request to the cloud server in use (Server) failed
// the way an unreachable cloud makes it fail. That server is probed at once; see the package
// comment for what follows.
func (c *Checker) ReportFailure() {
	c.mu.Lock()
	i := c.currentLocked()
	if i >= 0 {
		c.reported[i] = true
	}
	c.mu.Unlock()
	if i >= 0 {
		select {
		case c.wake[i] <- struct{}{}:
		default:
		}
	}
}

// Confident reports whether a server is healthy and not in doubt: no failure reported for it
// has been confirmed by a probe since its last successful one.
func (c *Checker) Confident() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for i, h := range c.healthy {
		if h && !c.doubted[i] {
			return true
		}
	}
	return false
}

// currentLocked is the index of the server Server returns, or -1.
func (c *Checker) currentLocked() int {
	first := -1
	for i, h := range c.healthy {
		if !h {
			continue
		}
		if !c.doubted[i] {
			return i
		}
		if first < 0 {
			first = i
		}
	}
	return first
}

// OnChange registers f to be called (synchronously, in order) whenever the cloud as a whole
// turns healthy or unhealthy. Register before Run.
func (c *Checker) OnChange(f func(healthy bool)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onChange = append(c.onChange, f)
}

// Probed is closed once every server has been probed at least once.
func (c *Checker) Probed() <-chan struct{} { return c.ready }

// Healthy reports whether at least one server is healthy.
func (c *Checker) Healthy() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.anyUp
}

// Server returns the first healthy server in priority order, preferring one not in doubt,
// or nil when none is healthy.
func (c *Checker) Server() *url.URL {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if i := c.currentLocked(); i >= 0 {
		return c.servers[i]
	}
	return nil
}

// Run probes every server until ctx ends.
func (c *Checker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range c.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.probeLoop(ctx, i)
		}()
	}
	wg.Wait()
}

func (c *Checker) probeLoop(ctx context.Context, i int) {
	server := c.servers[i]
	logger := klog.LoggerWithValues(c.logger, "server", server.String())
	successes, failures := 0, 0
	backoff := c.opts.Interval
	for {
		c.mu.Lock()
		reported := c.reported[i]
		c.reported[i] = false
		c.mu.Unlock()
		err := c.probe(ctx, server)
		if ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		doubtedBefore := c.doubted[i]
		if err == nil {
			c.doubted[i] = false
		} else if reported {
			c.doubted[i] = true
		}
		doubted := c.doubted[i]
		first := !c.probed[i]
		c.probed[i] = true
		was := c.healthy[i]
		if err == nil {
			successes, failures = successes+1, 0
			if !was && (first || successes >= c.opts.HealthyThreshold) {
				c.healthy[i] = true
			}
		} else {
			successes, failures = 0, failures+1
			if was && failures >= c.opts.UnhealthyThreshold {
				c.healthy[i] = false
			}
		}
		now := c.healthy[i]
		callbacks := c.updateLocked()
		allProbed := true
		for _, p := range c.probed {
			allProbed = allProbed && p
		}
		c.mu.Unlock()
		switch {
		case now && (!was || first):
			logger.Info("Cloud API server is healthy")
		case !now && (was || first):
			logger.Info("Cloud API server is unhealthy", "err", err)
		case now && doubted && !doubtedBefore:
			logger.Info("Cloud API server in doubt: a request to it failed and so did a probe", "err", err, "failures", failures)
		case now && !doubted && doubtedBefore:
			logger.Info("Cloud API server no longer in doubt: a probe succeeded")
		}
		for _, f := range callbacks {
			f()
		}
		if allProbed {
			c.once.Do(func() { close(c.ready) })
		}

		wait := c.opts.Interval
		switch {
		case err != nil && !now:
			// Keep probing a dead server, but less and less often.
			wait, backoff = backoff, min(backoff*2, c.opts.MaxBackoff)
		case doubted:
			// Two independent signs of a cut: confirm or clear it within a few timeouts
			// rather than a few intervals.
			wait, backoff = min(c.opts.Timeout, c.opts.Interval), c.opts.Interval
		default:
			backoff = c.opts.Interval
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-c.wake[i]:
		case <-t.C:
		}
		t.Stop()
	}
}

// updateLocked recomputes the overall state and returns the callbacks to run for a change.
func (c *Checker) updateLocked() []func() {
	up := false
	for _, h := range c.healthy {
		up = up || h
	}
	if up == c.anyUp {
		return nil
	}
	c.anyUp = up
	var out []func()
	for _, f := range c.onChange {
		out = append(out, func() { f(up) })
	}
	return out
}

// probe asks server's /readyz, then /healthz (an older or restricted server may lack one).
func (c *Checker) probe(ctx context.Context, server *url.URL) error {
	var last error
	for _, path := range []string{"/readyz", "/healthz"} {
		if last = c.get(ctx, server.JoinPath(path).String()); last == nil {
			return nil
		}
	}
	return last
}

func (c *Checker) get(ctx context.Context, u string) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "yurthub-healthcheck")
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, body)
	}
	return nil
}

// ReportingTransport wraps rt so that a request that cannot connect to the cloud, or gets no
// response before its transport gives up, is reported with ReportFailure. A request its own
// caller cancelled or timed out is not: that says nothing about the cloud.
func (c *Checker) ReportingTransport(rt http.RoundTripper) http.RoundTripper {
	return &reportingTransport{c: c, next: rt}
}

type reportingTransport struct {
	c    *Checker
	next http.RoundTripper
}

func (t *reportingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil && r.Context().Err() == nil && unreachable(err) {
		t.c.ReportFailure()
	}
	return resp, err
}

// unreachable tells whether err is a failure to connect or a network timeout.
func unreachable(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
