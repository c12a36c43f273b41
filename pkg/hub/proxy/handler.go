package proxy

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/hub/metrics"
)

// Handler is the hub's proxy endpoint for local components.
type Handler struct {
	CacheAgents sets.Set[string]
	Route       Router
	Metrics     *metrics.Metrics
	Logger      klog.Logger
	// Ready, if set, is waited for (up to ReadyWait) before the first request is routed, so that
	// the first health probe has decided between cloud and cache.
	Ready     <-chan struct{}
	ReadyWait time.Duration
	// Filters, if set, shape the responses to reads (ResponseFilters); every source's response
	// passes through them.
	Filters ResponseFilters

	mu      sync.Mutex
	watches map[string]map[*watchEntry]struct{}
}

type watchEntry struct {
	done  chan struct{}
	watch bool
}

// SourceChanged ends every open watch (and other request) served by the named source, because
// it stopped being the one to use: clients re-watch, and their resourceVersion (now foreign)
// earns them a 410 Gone and a clean relist from the new source.
func (h *Handler) SourceChanged(source string) {
	h.mu.Lock()
	entries := h.watches[source]
	delete(h.watches, source)
	h.mu.Unlock()
	n := 0
	for e := range entries {
		close(e.done)
		if e.watch {
			n++
		}
	}
	if n > 0 {
		h.Logger.Info("Ended open watches because their source is no longer used", "source", source, "watches", n)
		if h.Metrics != nil {
			h.Metrics.WatchesEnded.WithLabelValues(source).Add(float64(n))
		}
	}
}

func (h *Handler) register(source string, watch bool) (*watchEntry, func()) {
	e := &watchEntry{done: make(chan struct{}), watch: watch}
	h.mu.Lock()
	if h.watches == nil {
		h.watches = map[string]map[*watchEntry]struct{}{}
	}
	if h.watches[source] == nil {
		h.watches[source] = map[*watchEntry]struct{}{}
	}
	h.watches[source][e] = struct{}{}
	h.mu.Unlock()
	return e, func() {
		h.mu.Lock()
		delete(h.watches[source], e)
		h.mu.Unlock()
	}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, err := ParseRequest(r, h.CacheAgents)
	if err != nil {
		h.Logger.Info("Rejecting a malformed request", "err", err, "path", r.URL.Path, "userAgent", r.UserAgent())
		writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
		return
	}
	logger := klog.LoggerWithValues(h.Logger, "component", req.Component, "verb", req.Verb, "path", r.URL.Path)
	r = r.WithContext(klog.NewContext(r.Context(), logger))
	if h.Ready != nil && !isClosed(h.Ready) {
		timer := time.NewTimer(h.ReadyWait)
		select {
		case <-h.Ready:
		case <-timer.C:
		case <-r.Context().Done():
		}
		timer.Stop()
	}
	src := h.Route(req)
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	defer func() {
		if h.Metrics != nil {
			h.Metrics.Requests.WithLabelValues(req.Component, req.Verb, src.Name(), strconv.Itoa(rec.code)).Inc()
		}
	}()

	if req.IsResourceRequest && req.Verb == "watch" {
		if !isUnsetResourceVersion(req.ResourceVersion) && !src.OwnsResourceVersion(req.ResourceVersion) {
			// Never continue a watch from another source's resourceVersion: the client must relist.
			logger.V(2).Info("Watch from a foreign resourceVersion; answering 410 Gone", "resourceVersion", req.ResourceVersion, "source", src.Name())
			if h.Metrics != nil {
				h.Metrics.ForeignResourceVersions.Inc()
			}
			writeStatus(rec, http.StatusGone, metav1.StatusReasonExpired,
				"resourceVersion "+req.ResourceVersion+" is not from the hub's current source ("+src.Name()+"); relist")
			return
		}
	}
	var session FilterSession
	if h.Filters != nil && req.IsRead() {
		session = h.Filters.Begin(r.Context(), r, req)
	}
	if session != nil {
		defer session.Finish()
		if req.Verb == "watch" && !isUnsetResourceVersion(req.ResourceVersion) && !req.SendInitialEvents && session.Relist() {
			logger.V(2).Info("Watch after the response filters changed; answering 410 Gone so the client relists", "resourceVersion", req.ResourceVersion)
			writeStatus(rec, http.StatusGone, metav1.StatusReasonExpired,
				"the hub's response filters for "+describe(req)+" changed since resourceVersion "+req.ResourceVersion+"; relist")
			return
		}
	}
	// Every request is tied to its source, so that a switch also ends requests stuck on a
	// connection the switch revealed to be dead.
	entry, unregister := h.register(src.Name(), req.Verb == "watch")
	defer unregister()
	req.Done = entry.done
	if session == nil {
		src.Serve(rec, r, req)
		return
	}
	// A change of the filters that apply ends the watch like a source switch does.
	done, stop := mergeDone(entry.done, session.Ended())
	defer stop()
	req.Done = done
	f := &responseFiltering{session: session}
	fw := newFilterWriter(r.Context(), rec, f, req.Verb)
	src.Serve(fw, r.WithContext(context.WithValue(r.Context(), filteringKey{}, f)), req)
	fw.finish()
}

// isClosed reports whether c is closed, without waiting (and without a timer per request).
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

type filteringKey struct{}

// filteringOf returns the filter session of a request the Handler passed on, or nil.
func filteringOf(r *http.Request) *responseFiltering {
	f, _ := r.Context().Value(filteringKey{}).(*responseFiltering)
	return f
}

// statusRecorder remembers the status code for metrics and keeps flushing and hijacking working.
type statusRecorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.code, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach Flush and Hijack.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
