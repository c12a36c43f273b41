package server

import (
	"context"
	"net/http"
	"net/url"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/coordinator"
	"github.com/yurt-edge/yurt/pkg/coordinator/store"
	"github.com/yurt-edge/yurt/pkg/hub/leader"
	"github.com/yurt-edge/yurt/pkg/hub/options"
	"github.com/yurt-edge/yurt/pkg/hub/pool"
	"github.com/yurt-edge/yurt/pkg/hub/proxy"
)

// poolData wires the pool-scoped data path: the leader's sync task, the marker tracker, and
// the router that serves fresh resources from the coordinator.
type poolData struct {
	tracker *pool.Tracker
	source  *proxy.CoordinatorSource
}

// setupPool registers the sync task with leaders and routes pool-scoped list/watch through
// the coordinator; run the returned tracker with Run.
func setupPool(o *options.Options, coord *coordinator.Client, leaders *leader.Runner, handler *proxy.Handler, cloudSrc *proxy.CloudSource,
	server func() *url.URL, transport http.RoundTripper, registry prometheus.Registerer, logger klog.Logger) *poolData {
	p := &poolData{}
	p.tracker = &pool.Tracker{
		Client: coord,
		MaxAge: o.PoolSyncMaxAge,
	}
	served := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "yurthub_pool_coordinator_requests_total",
		Help: "Lists and watches served from the pool coordinator: list, watch (with the initial state: a relist) and rewatch (from a coordinator resourceVersion).",
	}, []string{"kind"})
	open := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "yurthub_pool_coordinator_watches",
		Help: "Watches being served from the pool coordinator.",
	})
	fresh := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "yurthub_pool_resource_fresh",
		Help: "1 while the leader's sync marker of a pool-scoped resource is fresh (served from the coordinator).",
	}, []string{"resource"})
	registry.MustRegister(served, open, fresh)
	var seenMu sync.Mutex
	seen := map[schema.GroupVersionResource]bool{}
	p.tracker.OnFresh = func(gvr schema.GroupVersionResource) {
		logger.Info("Serving a pool-scoped resource from the coordinator", "resource", gvr.String())
		seenMu.Lock()
		seen[gvr] = true
		seenMu.Unlock()
		fresh.WithLabelValues(resourceLabel(gvr)).Set(1)
	}
	p.tracker.OnStale = func(reason string) {
		logger.Info("Pool-scoped resources are no longer served from the coordinator", "reason", reason)
		seenMu.Lock()
		for gvr := range seen {
			if !p.tracker.Fresh(gvr) {
				fresh.WithLabelValues(resourceLabel(gvr)).Set(0)
			}
		}
		seenMu.Unlock()
		handler.SourceChanged(proxy.CoordinatorSourceName)
	}
	base := handler.Route
	p.source = &proxy.CoordinatorSource{
		Store:           store.New(coord, nil),
		Epoch:           p.tracker.Epoch,
		Fallback:        base,
		CacheTo:         cloudSrc,
		MaxWatchTimeout: o.MaxWatchTimeout,
		Observe: func(kind string, delta int) {
			if kind != "" {
				served.WithLabelValues(kind).Inc()
			}
			open.Add(float64(delta))
		},
		OnUnavailable: func(err error) {
			p.tracker.Unavailable(klog.NewContext(context.Background(), logger), err)
		},
	}
	handler.Route = pool.Router(p.tracker, p.source, base)
	syncer := &pool.Syncer{
		Client:    coord,
		Cloud:     pool.CloudConfig(server, transport, "yurthub/pool-leader"),
		Resources: o.PoolScopeGVRs(),
		NodePool:  o.NodePool,
		MaxAge:    o.PoolSyncMaxAge,
	}
	leaders.Add(syncer.Task())
	return p
}

// resourceLabel spells a resource as --pool-scope-resources does: group/version/resource,
// v1/<resource> for the core group.
func resourceLabel(gvr schema.GroupVersionResource) string {
	if gvr.Group == "" {
		return gvr.Version + "/" + gvr.Resource
	}
	return gvr.Group + "/" + gvr.Version + "/" + gvr.Resource
}
