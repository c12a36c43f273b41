// Package metrics holds a hub's Prometheus metrics, in a registry of its own (no global state).
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are a hub's metrics.
type Metrics struct {
	Registry *prometheus.Registry
	// Requests counts requests by client component, verb, answering source and status code.
	Requests *prometheus.CounterVec
	// CloudHealthy is 1 while the cloud is considered reachable.
	CloudHealthy prometheus.Gauge
	// CorruptEntries counts cache entries dropped because their checksum or content was bad.
	CorruptEntries prometheus.Counter
	// CacheWrites counts cache updates by outcome (ok, error).
	CacheWrites *prometheus.CounterVec
	// WatchesEnded counts open watches ended because their source stopped being the right one.
	WatchesEnded *prometheus.CounterVec
	// ForeignResourceVersions counts watches refused with 410 because their resourceVersion came from another source.
	ForeignResourceVersions prometheus.Counter
	// PoolLeader is 1 while this hub leads its pool.
	PoolLeader prometheus.Gauge
}

// New returns the metrics, registered in a new registry with the Go and process collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yurthub_proxy_requests_total",
			Help: "Requests proxied by the hub, by client component, verb, source that answered and HTTP code.",
		}, []string{"component", "verb", "source", "code"}),
		CloudHealthy: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "yurthub_cloud_healthy",
			Help: "1 while at least one cloud API server passes the health check.",
		}),
		CorruptEntries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "yurthub_cache_corrupt_entries_total",
			Help: "Cache entries dropped because their checksum or content did not match.",
		}),
		CacheWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yurthub_cache_writes_total",
			Help: "Cache updates from cloud responses, by result.",
		}, []string{"result"}),
		WatchesEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yurthub_watches_ended_on_source_switch_total",
			Help: "Open watches ended because the source serving them changed.",
		}, []string{"source"}),
		ForeignResourceVersions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "yurthub_foreign_resource_version_total",
			Help: "Watches answered 410 Gone because their resourceVersion came from another source.",
		}),
		PoolLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "yurthub_pool_leader",
			Help: "1 while this hub is its pool's leader (elected through the coordinator).",
		}),
	}
	m.Registry.MustRegister(m.Requests, m.CloudHealthy, m.CorruptEntries, m.CacheWrites, m.WatchesEnded,
		m.ForeignResourceVersions, m.PoolLeader, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}
