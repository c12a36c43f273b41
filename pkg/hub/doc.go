// Package hub is yurthub, the per-node proxy between local components (kubelet, kube-proxy,
// coredns…) and the cloud kube-apiserver. This file is the map; the code lives in:
//
//	options      flags and their validation (NewOptions → AddFlags → Complete → Validate)
//	server       assembles a hub from options and runs it: listeners, health checker, sources
//	proxy        the request path: classify (User-Agent → component), route to a Source,
//	             keep resourceVersions of different sources apart; the cloud, cache and
//	             coordinator sources
//	pool         the pool's shared data: the leader's sync from the cloud into the
//	             coordinator, every hub's tracker of the sync markers, the pool Router
//	leader       the pool leader election's runner and the leader's tasks
//	heartbeat    the pool leader renews the Leases of its pool's nodes cut off from the cloud
//	cache        the on-disk cache: one checksummed, atomically written file per object
//	codec        JSON/protobuf decoding of objects, lists and watch streams, and re-encoding
//	healthcheck  probes the cloud's /readyz with the node's credentials, thresholds, backoff
//	certificate  bootstrap token → node client certificate in the hub's own directory
//	metrics      the hub's Prometheus registry
//
// # Request path
//
// Every request gets a Request (proxy.ParseRequest): the component (User-Agent up to the first
// '/'), the verb and resource (k8s.io/apiserver's RequestInfo), the selectors and
// resourceVersion, and whether the component's responses are cached (--cache-agents). The
// Router picks a Source: for pool-scoped list/watch, the coordinator while the leader's sync
// marker is fresh (below); otherwise the cloud while the health checker says it is healthy, the
// cache otherwise. The cloud source streams the response through (FlushInterval -1, upgrades
// over an HTTP/1.1-only transport) and tees cached agents' get/list/watch responses into the
// cache through an ordered per-resource write queue, off the response path. Their /version and
// API discovery GETs are kept as received too, so a restarted client can start offline.
//
// # resourceVersions
//
// Each Source says which list resourceVersions it issued (OwnsResourceVersion): the cloud's are
// integers, the cache's are "yurthub-cache.<cloud rv>", the coordinator's
// "yurthub-coordinator.<cluster ID>.<revision>". A watch from a resourceVersion the
// chosen source does not own gets 410 Gone, so informers relist instead of mixing states. When
// the health checker flips, Handler.SourceChanged(old) ends everything the old source serves:
// watches end cleanly (the client re-watches, gets 410, relists from the new source), and
// requests stuck on a dead connection are cancelled (get/list then come from the cache).
//
// # The pool coordinator
//
// With --coordinator-endpoints, pool-scoped data (--pool-scope-resources plus the NodePool's
// spec.poolScopeMetadata; services and endpointslices by default) is one more Source,
// proxy.CoordinatorSource, over the coordinator client library (pkg/coordinator/store):
//   - The pool's elected leader (pkg/coordinator/election, leader.Runner) runs pool.Syncer: one
//     cloud list/watch per resource, written to the coordinator with writes guarded by its
//     leadership (queued changes share a transaction), and a sync marker refreshed every
//     --pool-sync-max-age/3 while those writes succeed.
//   - Every hub's pool.Tracker polls the markers; pool.Router sends list and watch of a resource
//     whose marker is fresh to the coordinator source, everything else to the cloud/cache
//     router above.
//   - The coordinator source answers from the coordinator's etcd, encoding objects in the
//     client's content type and applying the request's selectors; its resourceVersions are
//     "yurthub-coordinator.<cluster ID>.<etcd revision>" (OwnsResourceVersion), so a switch
//     between coordinator and cloud relists instead of resuming a stream from the other source.
//     Cached agents' lists and events from it go to the disk cache too.
//   - A marker that turns stale, or a coordinator that stops answering, calls
//     Handler.SourceChanged("coordinator"); one that turns fresh ends the cloud/cache watches of
//     that resource, exactly as the health checker's OnChange does for cloud and cache.
//
// The leader's own list/watch of the cloud and heartbeat delegation are separate loops that use
// the node's credentials (server.go builds the transports); they do not go through the Router.
package hub
