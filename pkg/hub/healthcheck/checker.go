// Package healthcheck decides whether the cloud is reachable. It probes each cloud API server's
// /readyz (falling back to /healthz) with the node's own credentials, needs HealthyThreshold
// consecutive successes to call a server healthy (one at startup) and UnhealthyThreshold
// consecutive failures to call it unhealthy, and backs off while a server stays down.
package healthcheck

import (
	"context"
	"fmt"
	"io"
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
	anyUp    bool
	onChange []func(healthy bool)
	ready    chan struct{}
	once     sync.Once
}

// New returns a checker for servers (in priority order) that probes through transport (which
// carries the node's credentials).
func New(servers []*url.URL, transport http.RoundTripper, opts Options, logger klog.Logger) *Checker {
	return &Checker{
		servers: servers,
		client:  &http.Client{Transport: transport, Timeout: opts.Timeout},
		opts:    opts,
		logger:  logger,
		healthy: make([]bool, len(servers)),
		probed:  make([]bool, len(servers)),
		ready:   make(chan struct{}),
	}
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

// Server returns the first healthy server in priority order, or nil when none is.
func (c *Checker) Server() *url.URL {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for i, h := range c.healthy {
		if h {
			return c.servers[i]
		}
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
		err := c.probe(ctx, server)
		if ctx.Err() != nil {
			return
		}
		c.mu.Lock()
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
		}
		for _, f := range callbacks {
			f()
		}
		if allProbed {
			c.once.Do(func() { close(c.ready) })
		}

		wait := c.opts.Interval
		if err != nil && !now {
			// Keep probing a dead server, but less and less often.
			wait, backoff = backoff, min(backoff*2, c.opts.MaxBackoff)
		} else {
			backoff = c.opts.Interval
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
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
