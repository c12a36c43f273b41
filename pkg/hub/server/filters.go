package server

import (
	"context"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/hub/options"
	"github.com/yurt-edge/yurt/pkg/hub/proxy"
	"github.com/yurt-edge/yurt/pkg/hub/responsefilter"
)

// setupFilters gives the proxy its ResponseFilters. The filters, NodePools, Services and this
// Node are watched through the hub's own proxy as a cached agent, so the last good set is
// served from the cache after an offline restart. The returned func runs the informers once
// the proxy listens on proxyLn; the channel closes once they have loaded (or gave up waiting).
func setupFilters(o *options.Options, handler *proxy.Handler, reg prometheus.Registerer, logger klog.Logger) (func(ctx context.Context, proxyLn net.Listener), <-chan struct{}, error) {
	runner, err := responsefilter.NewRunner(responsefilter.RunnerOptions{
		NodeName: o.NodeName, NodePool: o.NodePool, Logger: logger,
	})
	if err != nil {
		return nil, nil, err
	}
	m := runner.Manager()
	handler.Filters = m
	if err := reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "yurthub_response_filters",
		Help: "ResponseFilters the hub applies (compiled, last good version of each).",
	}, func() float64 { return float64(len(m.Chain().Filters())) })); err != nil {
		return nil, nil, err
	}
	if err := reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "yurthub_response_filter_ignored_errors_total",
		Help: "Objects passed on unchanged because a failurePolicy: Ignore ResponseFilter failed on them.",
	}, func() float64 { return float64(m.IgnoredErrors()) })); err != nil {
		return nil, nil, err
	}
	handler.CacheAgents = handler.CacheAgents.Clone().Insert(responsefilter.UserAgent)
	return func(ctx context.Context, proxyLn net.Listener) {
		cfg := &rest.Config{Host: "http://" + proxyLn.Addr().String(), QPS: -1}
		if err := runner.Run(ctx, cfg); err != nil {
			logger.Error(err, "Response filters could not start; responses are filtered by the filters loaded so far (none at start)")
		}
	}, runner.Synced(), nil
}
