package proxy

import (
	"errors"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/hub/cache"
	"github.com/yurt-edge/yurt/pkg/hub/codec"
)

// CacheSource answers get, list and watch from the on-disk cache of the requesting component.
type CacheSource struct {
	Store *cache.Store
	// MaxWatchTimeout bounds a watch that asked for no timeoutSeconds.
	MaxWatchTimeout time.Duration
}

var _ Source = &CacheSource{}

// Name implements Source.
func (s *CacheSource) Name() string { return "cache" }

// OwnsResourceVersion implements Source: only resourceVersions the cache issued.
func (s *CacheSource) OwnsResourceVersion(rv string) bool { return IsCacheResourceVersion(rv) }

// Serve implements Source.
func (s *CacheSource) Serve(w http.ResponseWriter, r *http.Request, req *Request) {
	logger := klog.FromContext(r.Context())
	if req.RawKey != "" {
		resp, err := s.Store.GetRaw(req.Component, req.RawKey)
		if err != nil {
			writeStatus(w, http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable,
				"the cloud is unreachable and "+describe(req)+" is not cached")
			return
		}
		w.Header().Set("Content-Type", resp.ContentType)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(resp.Body)
		return
	}
	if !req.IsRead() {
		writeStatus(w, http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable,
			"the cloud is unreachable; "+describe(req)+" needs the cloud")
		return
	}
	if !req.Cached {
		writeStatus(w, http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable,
			"the cloud is unreachable and responses for "+describe(req)+" are not cached")
		return
	}
	switch req.Verb {
	case "get":
		obj, err := s.Store.Get(req.Resource, req.Namespace, req.Name)
		if errors.Is(err, cache.ErrNotFound) {
			writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound,
				req.Resource.Resource+" \""+req.Name+"\" not found in the hub's cache (the cloud is unreachable)")
			return
		}
		if err != nil {
			logger.Error(err, "Reading the cache", "resource", req.Resource)
			writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, "reading the hub's cache failed")
			return
		}
		writeObject(w, obj, req.WantProtobuf)
	case "list":
		meta, items, err := s.list(req)
		if err != nil {
			s.writeListError(w, req, err, logger)
			return
		}
		data, ct, err := codec.EncodeList(schema.FromAPIVersionAndKind(meta.APIVersion, meta.Kind), CacheResourceVersion(meta.ResourceVersion), items, req.WantProtobuf)
		if err != nil {
			logger.Error(err, "Encoding a cached list", "resource", req.Resource)
			writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, "encoding the cached list failed")
			return
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(data)
	case "watch":
		s.watch(w, r, req, logger)
	}
}

// list returns the cached objects matching the request, or ErrNotFound when the resource was
// never cached for this component.
func (s *CacheSource) list(req *Request) (cache.ListMeta, []*unstructured.Unstructured, error) {
	meta, err := s.Store.ListMeta(req.Resource)
	if err != nil {
		return meta, nil, err
	}
	all, err := s.Store.List(req.Resource, req.Namespace)
	if err != nil {
		return meta, nil, err
	}
	items := all[:0]
	for _, obj := range all {
		if req.Name != "" && obj.GetName() != req.Name {
			continue
		}
		if req.Selector.Matches(obj) {
			items = append(items, obj)
		}
	}
	return meta, items, nil
}

func (s *CacheSource) writeListError(w http.ResponseWriter, req *Request, err error, logger klog.Logger) {
	if errors.Is(err, cache.ErrNotFound) {
		writeStatus(w, http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable,
			"the cloud is unreachable and "+describe(req)+" was never listed through this hub")
		return
	}
	logger.Error(err, "Reading the cache", "resource", req.Resource)
	writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, "reading the hub's cache failed")
}

// watch holds a watch open while the cloud is away: the cache gets no new events, but a watch
// from "" or "0" (or a watch list) first receives the cached objects, as the API server would
// send them. It ends when the context ends (the cloud is back, the client left) or at its timeout.
func (s *CacheSource) watch(w http.ResponseWriter, r *http.Request, req *Request, logger klog.Logger) {
	meta, items, err := s.list(req)
	if err != nil {
		s.writeListError(w, req, err, logger)
		return
	}
	listGVK := schema.FromAPIVersionAndKind(meta.APIVersion, meta.Kind)
	gvk := listGVK.GroupVersion().WithKind(strings.TrimSuffix(listGVK.Kind, "List"))
	enc := codec.NewWatchEncoder(w, gvk, req.WantProtobuf)
	w.Header().Set("Content-Type", enc.ContentType())
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	flush(w)
	if isUnsetResourceVersion(req.ResourceVersion) || req.SendInitialEvents {
		for _, obj := range items {
			if err := enc.Encode("ADDED", obj); err != nil {
				logger.V(2).Info("Watch from the cache ended", "err", err)
				return
			}
		}
		if req.SendInitialEvents && req.AllowBookmarks {
			if err := enc.Encode("BOOKMARK", codec.Bookmark(gvk, CacheResourceVersion(meta.ResourceVersion), true)); err != nil {
				return
			}
		}
		flush(w)
	}
	timeout := req.Timeout
	if timeout <= 0 || timeout > s.MaxWatchTimeout {
		timeout = s.MaxWatchTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-r.Context().Done():
	case <-req.Done:
	case <-timer.C:
	}
}

func writeObject(w http.ResponseWriter, obj *unstructured.Unstructured, wantProtobuf bool) {
	data, ct, err := codec.EncodeObject(obj, wantProtobuf)
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, "encoding the cached object failed")
		return
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, message string) {
	w.Header().Set("Content-Type", codec.MediaTypeJSON)
	w.WriteHeader(code)
	_, _ = w.Write(codec.Status(int32(code), reason, message))
}

func flush(w http.ResponseWriter) {
	_ = http.NewResponseController(w).Flush()
}

func describe(req *Request) string {
	if req.IsResourceRequest {
		return req.Verb + " " + req.Resource.GroupVersionResource.String() + " for " + req.Component
	}
	return req.Verb + " " + req.Path
}
