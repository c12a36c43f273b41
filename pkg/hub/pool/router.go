package pool

import (
	"net/http"

	"github.com/yurt-edge/yurt/pkg/hub/proxy"
)

// Router sends list and watch of a resource whose sync marker is fresh to coord, and
// everything else to base. Watches that base serves for such resources end when the marker
// turns fresh, so their clients move to the coordinator (and the cloud loses their stream).
func Router(t *Tracker, coord proxy.Source, base proxy.Router) proxy.Router {
	return func(req *proxy.Request) proxy.Source {
		if !servable(req) {
			return base(req)
		}
		gvr := req.Resource.GroupVersionResource
		if t.Fresh(gvr) {
			return coord
		}
		src := base(req)
		if req.Verb == "watch" {
			return &endOnFresh{Source: src, fresh: t.BecameFresh(gvr)}
		}
		return src
	}
}

// servable reports the requests the coordinator source can answer: list and watch of plain
// objects. A transformed one (kubectl's Table) stays with the cloud for its list and its watch
// alike, so its resourceVersions never cross sources.
func servable(req *proxy.Request) bool {
	return req.IsResourceRequest && req.Subresource == "" && req.As == "" && (req.Verb == "list" || req.Verb == "watch")
}

// endOnFresh is a source (cloud or cache) serving a watch of a pool-scoped resource; the watch
// also ends when the coordinator's copy of the resource turns fresh. It keeps the wrapped
// source's name, so the handler's bookkeeping (SourceChanged, metrics) is unchanged.
type endOnFresh struct {
	proxy.Source
	fresh <-chan struct{}
}

func (e *endOnFresh) Serve(w http.ResponseWriter, r *http.Request, req *proxy.Request) {
	done := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-req.Done:
		case <-e.fresh:
		case <-stop:
			return
		}
		close(done)
	}()
	cp := *req
	cp.Done = done
	e.Source.Serve(w, r, &cp)
}
