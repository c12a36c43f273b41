// Package server assembles and runs a hub: the health checker, the cache, the proxy for local
// components and the hub's own endpoints (/healthz, /readyz, /metrics, /debug/pprof).
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/coordinator"
	"github.com/yurt-edge/yurt/pkg/coordinator/election"
	"github.com/yurt-edge/yurt/pkg/hub/cache"
	"github.com/yurt-edge/yurt/pkg/hub/certificate"
	"github.com/yurt-edge/yurt/pkg/hub/healthcheck"
	"github.com/yurt-edge/yurt/pkg/hub/leader"
	"github.com/yurt-edge/yurt/pkg/hub/metrics"
	"github.com/yurt-edge/yurt/pkg/hub/options"
	"github.com/yurt-edge/yurt/pkg/hub/proxy"
)

// Config is a hub ready to run, built from validated options.
type Config struct {
	Options *options.Options
	// Started, if set, runs once the hub is ready: the cloud probed (healthy or not) and the
	// filters loaded. yurthub gives back its start-up memory there.
	Started func(ctx context.Context)
}

// NewConfig returns the hub's configuration; o must have been completed and validated.
func NewConfig(o *options.Options) (*Config, error) {
	if errs := o.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Config{Options: o}, nil
}

// Run runs the hub until ctx ends.
func (c *Config) Run(ctx context.Context) error {
	o := c.Options
	logger := klog.FromContext(ctx)
	servers := make([]*url.URL, 0, len(o.ServerAddr))
	for _, s := range o.ServerAddr {
		u, err := url.Parse(s)
		if err != nil {
			return fmt.Errorf("--server-addr %q: %w", s, err)
		}
		servers = append(servers, u)
	}

	if o.BootstrapToken != "" {
		certFile, keyFile, err := certificate.Bootstrap(ctx, o.ServerAddr[0], o.CertificateAuthority, o.BootstrapToken, o.NodeName, o.CertDir)
		if err != nil {
			return err
		}
		o.ClientCertificate, o.ClientKey, o.BootstrapToken = certFile, keyFile, ""
	}
	restCfg, err := o.RESTConfig(o.ServerAddr[0])
	if err != nil {
		return err
	}
	transports, err := newTransports(restCfg)
	if err != nil {
		return err
	}

	m := metrics.New()
	store, err := cache.NewStore(o.CacheDir, logger.WithName("cache"), func(string) { m.CorruptEntries.Inc() })
	if err != nil {
		return err
	}
	checker := healthcheck.New(servers, transports.probe, o.HealthCheckOptions(), logger.WithName("healthcheck"))
	cacheSrc := &proxy.CacheSource{Store: store, MaxWatchTimeout: o.MaxWatchTimeout}
	cloudSrc := &proxy.CloudSource{
		// A proxied request that cannot connect tells the checker, which re-probes at once.
		Server: checker.Server, Transport: checker.ReportingTransport(transports.proxy), UpgradeTransport: transports.upgrade,
		Store: store, Metrics: m, Fallback: cacheSrc,
	}
	if !o.ShortRequestsOverHTTP2 {
		cloudSrc.ShortTransport = checker.ReportingTransport(transports.upgrade)
	}
	handler := &proxy.Handler{
		CacheAgents: o.CacheAgentSet(),
		Metrics:     m,
		Logger:      logger.WithName("proxy"),
		Ready:       checker.Probed(),
		ReadyWait:   o.HeartbeatTimeout + time.Second,
		Route: func(*proxy.Request) proxy.Source {
			if checker.Healthy() {
				return cloudSrc
			}
			return cacheSrc
		},
	}
	runFilters, filtersSynced, err := setupFilters(o, handler, m.Registry, logger.WithName("filters"))
	if err != nil {
		return err
	}
	// The pool's coordinator (optional): leader election among the pool's hubs; the leader's
	// tasks are added to leaders before it runs.
	var coord *coordinator.Client
	var leaders *leader.Runner
	if o.Coordinator.Enabled() {
		coord, err = coordinator.New(o.Coordinator, coordinator.NewMetrics(m.Registry))
		if err != nil {
			return fmt.Errorf("connecting to the pool coordinator: %w", err)
		}
		defer coord.Close()
		leaders = &leader.Runner{
			Elector: election.New(coord, o.ElectionTTL),
			// Confident, not Healthy: a leader whose requests to the cloud fail hands over within
			// seconds, before the nodes whose heartbeats it renews are marked NotReady.
			Eligible: checker.Confident,
			OnLeading: func(leading bool) {
				if leading {
					m.PoolLeader.Set(1)
				} else {
					m.PoolLeader.Set(0)
				}
			},
		}
	}
	hb, err := newHeartbeatDelegation(o, checker, coord, leaders, handler, m.Registry, logger.WithName("heartbeat"))
	if err != nil {
		return err
	}
	var poolSrc *poolData // pool-scoped data from the coordinator (pool.go)
	if leaders != nil {
		poolSrc = setupPool(o, coord, leaders, handler, cloudSrc, checker.Server, transports.proxy, m.Registry, logger.WithName("pool"))
	}
	checker.OnChange(func(healthy bool) {
		if leaders != nil {
			leaders.EligibilityChanged()
		}
		if healthy {
			m.CloudHealthy.Set(1)
			handler.SourceChanged(cacheSrc.Name())
		} else {
			m.CloudHealthy.Set(0)
			handler.SourceChanged(cloudSrc.Name())
		}
		// Connections from before a cut may be dead; do not reuse them.
		transports.closeIdle()
	})

	proxyLn, err := net.Listen("tcp", o.ProxyAddress)
	if err != nil {
		return fmt.Errorf("--proxy-address %s: %w", o.ProxyAddress, err)
	}
	serverLn, err := net.Listen("tcp", o.ServerAddress)
	if err != nil {
		proxyLn.Close()
		return fmt.Errorf("--server-address %s: %w", o.ServerAddress, err)
	}
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }
	mux.HandleFunc("/healthz", ok)
	mux.HandleFunc("/livez", ok)
	mux.HandleFunc("/v1/healthz", ok)
	readyz := func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-checker.Probed():
			if checker.Healthy() {
				_, _ = w.Write([]byte("ok: cloud healthy"))
			} else {
				_, _ = w.Write([]byte("ok: cloud unreachable, serving from the cache"))
			}
		default:
			http.Error(w, "the cloud has not been probed yet", http.StatusServiceUnavailable)
		}
	}
	mux.HandleFunc("/readyz", readyz)
	mux.HandleFunc("/v1/readyz", readyz)
	mux.Handle("/metrics", m.Handler())
	// Profiles for operators (and the latency benchmark): the server address is loopback by
	// default, like /metrics, and a profile costs nothing until one is asked for.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	if err := registerOTA(mux, restCfg, o.NodeName, checker.Healthy, logger.WithName("ota")); err != nil {
		proxyLn.Close()
		serverLn.Close()
		return err
	}

	servers2 := []*http.Server{
		{Handler: hb.Handler, ReadHeaderTimeout: 30 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }},
		{Handler: mux, ReadHeaderTimeout: 30 * time.Second},
	}
	listeners := []net.Listener{proxyLn, serverLn}
	logger.Info("Hub started", "proxy", proxyLn.Addr().String(), "server", serverLn.Addr().String(),
		"cloud", o.ServerAddr, "node", o.NodeName, "nodepool", o.NodePool, "cacheDir", o.CacheDir, "cacheAgents", o.CacheAgents)

	var wg sync.WaitGroup
	errCh := make(chan error, len(servers2))
	wg.Add(1)
	go func() { defer wg.Done(); checker.Run(ctx) }()
	wg.Add(1)
	go func() { defer wg.Done(); runFilters(ctx, proxyLn) }()
	wg.Add(1)
	go func() { defer wg.Done(); hb.run(klog.NewContext(ctx, logger.WithName("heartbeat"))) }()
	if poolSrc != nil {
		wg.Add(1)
		go func() { defer wg.Done(); poolSrc.tracker.Run(klog.NewContext(ctx, logger.WithName("pool"))) }()
	}
	if leaders != nil {
		wg.Add(1)
		go func() { defer wg.Done(); leaders.Run(klog.NewContext(ctx, logger.WithName("leader"))) }()
	}
	if c.Started != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, ready := range []<-chan struct{}{checker.Probed(), filtersSynced} {
				select {
				case <-ready:
				case <-ctx.Done():
					return
				}
			}
			c.Started(ctx)
		}()
	}
	for i, srv := range servers2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(listeners[i]); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errCh <- fmt.Errorf("serving on %s: %w", listeners[i].Addr(), err)
			}
		}()
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errCh:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// End open watches cleanly first; otherwise they would hold Shutdown until its deadline.
	handler.SourceChanged(cloudSrc.Name())
	handler.SourceChanged(cacheSrc.Name())
	handler.SourceChanged(proxy.CoordinatorSourceName)
	for _, srv := range servers2 {
		_ = srv.Shutdown(shutdownCtx)
		_ = srv.Close()
	}
	wg.Wait()
	if err := cloudSrc.WaitForCacheWrites(shutdownCtx); err != nil {
		logger.Error(err, "Some cache updates were not written before stopping")
	}
	logger.Info("Hub stopped")
	return runErr
}

type transports struct {
	proxy, upgrade, probe http.RoundTripper
	bases                 []*http.Transport
}

func (t *transports) closeIdle() {
	for _, b := range t.bases {
		b.CloseIdleConnections()
	}
}

// newTransports builds the round trippers that carry the node's credentials: one for watches
// (HTTP/2 allowed: many long-lived streams on one connection), one HTTP/1.1-only with
// keep-alive for protocol upgrades and the other proxied requests (gets, lists, writes: less
// work per request than an HTTP/2 stream, measured in BenchmarkGetLatency and the hub latency
// bench, and never queued behind another response on a shared connection), one for health
// probes (its own connections, so a probe never waits behind a dead pooled connection).
func newTransports(cfg *rest.Config) (*transports, error) {
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("loading the node's credentials: %w", err)
	}
	if tlsCfg == nil {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	mk := func(http1 bool, keepAlive bool) *http.Transport {
		tc := tlsCfg.Clone()
		t := &http.Transport{
			DialContext:         dialer.DialContext,
			TLSClientConfig:     tc,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 100,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   !http1,
			DisableKeepAlives:   !keepAlive,
		}
		if http1 {
			tc.NextProtos = []string{"http/1.1"}
			t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		return t
	}
	out := &transports{}
	for i, spec := range []struct{ http1, keepAlive bool }{{false, true}, {true, true}, {true, false}} {
		base := mk(spec.http1, spec.keepAlive)
		out.bases = append(out.bases, base)
		// Bearer tokens (a kubeconfig may hold one) are added here; the client's User-Agent is kept.
		cfg := rest.CopyConfig(cfg)
		cfg.UserAgent = ""
		rt, err := rest.HTTPWrappersForConfig(cfg, base)
		if err != nil {
			return nil, err
		}
		switch i {
		case 0:
			out.proxy = rt
		case 1:
			out.upgrade = rt
		case 2:
			out.probe = rt
		}
	}
	return out, nil
}
