package proxy

import (
	"errors"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/hub/cache"
	"github.com/yurt-edge/yurt/pkg/hub/codec"
	"github.com/yurt-edge/yurt/pkg/hub/metrics"
)

// cacheWriter applies one cloud response to the cache.
type cacheWriter struct {
	store   *cache.Store
	metrics *metrics.Metrics
	logger  klog.Logger
	req     *Request
	queue   *writeQueue
}

func (w *cacheWriter) result(err error, msg string) {
	if err != nil {
		w.logger.Error(err, msg)
		if w.metrics != nil {
			w.metrics.CacheWrites.WithLabelValues("error").Inc()
		}
		return
	}
	if w.metrics != nil {
		w.metrics.CacheWrites.WithLabelValues("ok").Inc()
	}
}

// matches reports whether obj is one the request covers, so that a list replaces exactly those.
func (w *cacheWriter) matches(obj *unstructured.Unstructured) bool {
	return (w.req.Name == "" || obj.GetName() == w.req.Name) && w.req.Selector.Matches(obj)
}

// forget removes an object the cloud says does not exist.
func (w *cacheWriter) forget() {
	w.result(w.store.Delete(w.req.Resource, w.req.Namespace, w.req.Name), "Removing a deleted object from the cache")
}

// store1 stores a complete get or list response body.
func (w *cacheWriter) store1(data []byte, contentType string) {
	if w.req.Verb == "get" {
		obj, err := codec.DecodeObject(data, contentType)
		if err != nil {
			w.result(err, "Decoding a get response for the cache")
			return
		}
		w.result(w.store.Put(w.req.Resource, obj), "Caching a get response")
		return
	}
	list, err := codec.DecodeList(data, contentType)
	if err != nil {
		w.result(err, "Decoding a list response for the cache")
		return
	}
	items := make([]*unstructured.Unstructured, len(list.Items))
	for i := range list.Items {
		items[i] = &list.Items[i]
	}
	if w.req.Paged || list.GetContinue() != "" {
		// One page of many: add what it holds, remove nothing.
		for _, it := range items {
			if err := w.store.Put(w.req.Resource, it); err != nil {
				w.result(err, "Caching a list page")
				return
			}
		}
	} else if err := w.store.Replace(w.req.Resource, w.req.Namespace, w.matches, items); err != nil {
		w.result(err, "Caching a list response")
		return
	}
	w.result(w.store.PutListMeta(w.req.Resource, cache.ListMeta{
		APIVersion: list.GetAPIVersion(), Kind: list.GetKind(), ResourceVersion: list.GetResourceVersion(),
	}), "Caching a list's resourceVersion")
}

// consumeWatch applies a watch stream's events. A watch list (sendInitialEvents) is a list in
// disguise: its initial events replace the covered objects once the end bookmark arrives.
func (w *cacheWriter) consumeWatch(r io.Reader, contentType string) {
	apply := w.applyWatch()
	dec := codec.NewWatchDecoder(r, contentType)
	for {
		ev, err := dec.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				w.logger.V(2).Info("Stopped caching a watch stream", "err", err)
			}
			return
		}
		w.queue.enqueue(w.req.Resource, func() { apply(ev) })
	}
}

// applyWatch returns a function that applies one watch event to the cache; calls must be in
// stream order (the write queue runs them so).
func (w *cacheWriter) applyWatch() func(codec.Event) {
	initial := w.req.SendInitialEvents
	var initialItems []*unstructured.Unstructured
	return func(ev codec.Event) {
		if ev.Object == nil {
			return // ERROR events change nothing
		}
		obj := ev.Object
		meta := cache.ListMeta{APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind() + "List", ResourceVersion: obj.GetResourceVersion()}
		switch ev.Type {
		case "ADDED", "MODIFIED":
			if initial {
				initialItems = append(initialItems, obj)
				return
			}
			w.result(w.store.Put(w.req.Resource, obj), "Caching a watch event")
		case "DELETED":
			w.result(w.store.Delete(w.req.Resource, obj.GetNamespace(), obj.GetName()), "Caching a watch event")
		case "BOOKMARK":
			if initial && obj.GetAnnotations()[codec.InitialEventsEndAnnotation] == "true" {
				initial = false
				w.result(w.store.Replace(w.req.Resource, w.req.Namespace, w.matches, initialItems), "Caching a watch list")
				initialItems = nil
			} else if initial {
				return
			}
		default:
			return
		}
		if strings.HasSuffix(meta.Kind, "List") && meta.ResourceVersion != "" {
			w.result(w.store.PutListMeta(w.req.Resource, meta), "Caching a watch's resourceVersion")
		}
	}
}
