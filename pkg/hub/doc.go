// Package hub is yurthub, the per-node proxy between local components (kubelet, kube-proxy,
// coredns…) and the cloud kube-apiserver. This file is the map; the code lives in:
//
//	options      flags and their validation (NewOptions → AddFlags → Complete → Validate)
//	server       assembles a hub from options and runs it: listeners, health checker, sources
//	proxy        the request path: classify (User-Agent → component), route to a Source,
//	             keep resourceVersions of different sources apart; the cloud and cache sources
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
// Router picks a Source. Today: the cloud while the health checker says it is healthy, the
// cache otherwise. The cloud source streams the response through (FlushInterval -1, upgrades
// over an HTTP/1.1-only transport) and tees cached agents' get/list/watch responses into the
// cache through an ordered per-resource write queue, off the response path. Their /version and
// API discovery GETs are kept as received too, so a restarted client can start offline.
//
// # resourceVersions
//
// Each Source says which list resourceVersions it issued (OwnsResourceVersion): the cloud's are
// integers, the cache's are "yurthub-cache.<cloud rv>". A watch from a resourceVersion the
// chosen source does not own gets 410 Gone, so informers relist instead of mixing states. When
// the health checker flips, Handler.SourceChanged(old) ends everything the old source serves:
// watches end cleanly (the client re-watches, gets 410, relists from the new source), and
// requests stuck on a dead connection are cancelled (get/list then come from the cache).
//
// # Adding the pool coordinator
//
// Pool-scoped data is one more Source, pkg/hub/proxy.CoordinatorSource (to be written), using
// the coordinator client library (pkg/coordinator/store):
//   - Serve answers list and watch of pool-scoped resources from the coordinator's etcd, encoding
//     objects with pkg/hub/codec in the client's content type and applying Request.Selector.
//   - OwnsResourceVersion accepts the resourceVersions it issues. The leader writes objects with
//     their cloud resourceVersion, but the coordinator's list resourceVersion must still be told
//     apart from a cloud one (e.g. "yurthub-coordinator.<rv>"), so that a switch between
//     coordinator and cloud relists instead of resuming a stream from the other source.
//   - The Router in server.go becomes: pool-scoped list/watch (NodePool.spec.poolScopeMetadata,
//     default services and endpointslices) → coordinator while the leader's sync marker is
//     fresh; otherwise cloud while healthy; otherwise cache.
//   - When the marker goes stale (or fresh again), the hub calls
//     Handler.SourceChanged("coordinator") (or "cloud"), exactly as the health checker's
//     OnChange does for cloud and cache today.
//
// The leader's own list/watch of the cloud and heartbeat delegation are separate loops that use
// the node's credentials (server.go builds the transports); they do not go through the Router.
package hub
