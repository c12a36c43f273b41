// Package proxy is the hub's request path: it classifies each request from a local component
// (by User-Agent), picks the Source that answers it, and keeps resourceVersions from different
// sources apart.
//
// A Source is one place answers can come from. Three exist:
//   - cloud (cloud.go): the cloud kube-apiserver, reached with the node's credentials; responses
//     for cached agents are also written to the on-disk cache as they stream through.
//   - cache (cachesource.go): the on-disk cache, used while the cloud is unhealthy.
//   - coordinator (coordinatorsource.go): list and watch of pool-scoped resources from the
//     pool coordinator's etcd, which the pool leader keeps in sync with the cloud.
//
// The Router (a func) picks a source per request: the hub's server routes between cloud and
// cache by the health checker, and pkg/hub/pool.Router puts the coordinator in front of that
// for pool-scoped resources whose sync marker is fresh. When a marker goes stale the hub calls
// Handler.SourceChanged("coordinator"), which ends the watches it serves exactly as a
// cloud/cache switch does.
package proxy

import (
	"net/http"
)

// Source answers requests.
type Source interface {
	// Name identifies the source in logs, metrics and the watch registry ("cloud", "cache").
	Name() string
	// Serve answers req. Watches get a context that ends when this source stops being the
	// one to use (Handler.SourceChanged), and must then end the response cleanly.
	Serve(w http.ResponseWriter, r *http.Request, req *Request)
	// OwnsResourceVersion reports whether a list resourceVersion (not "" or "0") was issued by
	// this source, so that a watch can continue from it here.
	OwnsResourceVersion(rv string) bool
}

// Router picks the source for a request.
type Router func(req *Request) Source
