package proxy

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/coordinator/store"
	"github.com/yurt-edge/yurt/pkg/hub/codec"
)

// CoordinatorResourceVersionPrefix marks resourceVersions issued by the pool coordinator
// source: "yurthub-coordinator.<epoch>.<etcd revision>", where epoch is the coordinator's etcd
// cluster ID. Lists, watch events (every object's metadata.resourceVersion) and bookmarks all
// carry this form, so an informer's next watch is always from a coordinator revision:
//   - the cloud never sees it (not an integer, so the cloud source answers a watch from it
//     with 410 Gone) and the coordinator never resumes from a cloud resourceVersion;
//   - a coordinator replaced by a fresh one (new cluster ID, revisions from 1 again) does not
//     own the old revisions either, so a client cannot resume in the middle of another history.
//
// The objects' own cloud resourceVersions stay in the coordinator; they are not served,
// because the leader's relist writes in key order, not cloud order, so "the client has seen
// cloud RV X" would not mean "the client has every change up to X".
const CoordinatorResourceVersionPrefix = "yurthub-coordinator."

// CoordinatorResourceVersion is the resourceVersion for etcd revision rev of coordinator epoch.
func CoordinatorResourceVersion(epoch string, rev int64) string {
	return CoordinatorResourceVersionPrefix + epoch + "." + strconv.FormatInt(rev, 10)
}

// ParseCoordinatorResourceVersion splits a coordinator resourceVersion.
func ParseCoordinatorResourceVersion(rv string) (epoch string, rev int64, ok bool) {
	rest, found := strings.CutPrefix(rv, CoordinatorResourceVersionPrefix)
	if !found {
		return "", 0, false
	}
	epoch, revStr, found := strings.Cut(rest, ".")
	if !found || epoch == "" {
		return "", 0, false
	}
	rev, err := strconv.ParseInt(revStr, 10, 64)
	if err != nil || rev <= 0 {
		return "", 0, false
	}
	return epoch, rev, true
}

// IsCoordinatorResourceVersion reports whether rv has the coordinator's form (of any epoch).
func IsCoordinatorResourceVersion(rv string) bool {
	_, _, ok := ParseCoordinatorResourceVersion(rv)
	return ok
}

// BuiltinKind returns the kind of a resource that client-go's scheme knows (services →
// Service, endpointslices → EndpointSlice…); false for custom resources. It scans the scheme's
// type table; CoordinatorSource remembers its answers.
func BuiltinKind(gvr schema.GroupVersionResource) (schema.GroupVersionKind, bool) {
	return findBuiltinKind(gvr)
}

func findBuiltinKind(gvr schema.GroupVersionResource) (schema.GroupVersionKind, bool) {
	for gvk := range scheme.Scheme.AllKnownTypes() {
		if gvk.GroupVersion() != gvr.GroupVersion() || strings.HasSuffix(gvk.Kind, "List") {
			continue
		}
		if plural, _ := meta.UnsafeGuessKindToResource(gvk); plural.Resource == gvr.Resource {
			return gvk, true
		}
	}
	return schema.GroupVersionKind{}, false
}

// CoordinatorSource answers list and watch of pool-scoped resources from the pool's
// coordinator (pkg/coordinator/store), which the pool leader keeps in sync with the cloud.
// Objects are encoded in the client's content type (protobuf for built-in kinds when asked,
// JSON otherwise), label and field selectors are applied, and watches are filtered the way the
// API server filters them (an object that stops matching is DELETED, one that starts is ADDED).
type CoordinatorSource struct {
	Store *store.Store
	// Epoch returns the coordinator's identity (its etcd cluster ID), "" while unknown.
	Epoch func() string
	// Fallback answers what this source cannot: requests for transformed responses (Table,
	// PartialObjectMetadata), and a list whose coordinator read failed.
	Fallback Router
	// CacheTo, if set, is the cloud source whose on-disk cache (and ordered write queue)
	// also receives what cached agents get from the coordinator, so that a hub that later
	// loses both the coordinator and the cloud serves data as recent as the pool's.
	CacheTo *CloudSource
	// OnUnavailable is told when the coordinator failed to answer, so the router stops
	// choosing it before its next health check.
	OnUnavailable func(error)
	// Observe, if set, is told of every list and watch served ("list", "watch" with initial
	// state, i.e. a relist, and "rewatch" from a revision) and when a watch opens (+1) and
	// ends (-1), for metrics.
	Observe func(kind string, openWatches int)
	// ReadTimeout bounds one coordinator list (default 5s); MaxWatchTimeout bounds a watch
	// that asked for no timeoutSeconds (default 30 minutes).
	ReadTimeout, MaxWatchTimeout time.Duration

	kinds sync.Map // schema.GroupVersionResource → builtinKind
}

type builtinKind struct {
	gvk schema.GroupVersionKind
	ok  bool
}

// kindOf is BuiltinKind, remembered per resource (the scheme's type table is copied on every scan).
func (s *CoordinatorSource) kindOf(gvr schema.GroupVersionResource) (schema.GroupVersionKind, bool) {
	if k, ok := s.kinds.Load(gvr); ok {
		return k.(builtinKind).gvk, k.(builtinKind).ok
	}
	gvk, ok := findBuiltinKind(gvr)
	s.kinds.Store(gvr, builtinKind{gvk, ok})
	return gvk, ok
}

var _ Source = &CoordinatorSource{}

// CoordinatorSourceName is the name of the coordinator source (Handler.SourceChanged).
const CoordinatorSourceName = "coordinator"

// Name implements Source.
func (s *CoordinatorSource) Name() string { return CoordinatorSourceName }

// OwnsResourceVersion implements Source: revisions of the coordinator it talks to now.
func (s *CoordinatorSource) OwnsResourceVersion(rv string) bool {
	epoch, _, ok := ParseCoordinatorResourceVersion(rv)
	return ok && s.Epoch != nil && epoch == s.Epoch()
}

func (s *CoordinatorSource) readTimeout() time.Duration {
	if s.ReadTimeout > 0 {
		return s.ReadTimeout
	}
	return 5 * time.Second
}

func (s *CoordinatorSource) unavailable(err error) {
	if s.OnUnavailable != nil {
		s.OnUnavailable(err)
	}
}

// Serve implements Source.
func (s *CoordinatorSource) Serve(w http.ResponseWriter, r *http.Request, req *Request) {
	logger := klog.FromContext(r.Context())
	if !req.IsResourceRequest || (req.Verb != "list" && req.Verb != "watch") || req.Subresource != "" || req.As != "" {
		s.fallback(w, r, req)
		return
	}
	q := r.URL.Query()
	if q.Get("continue") != "" {
		// A continue token can only come from another source (this one never pages).
		writeStatus(w, http.StatusGone, metav1.StatusReasonExpired, "the continue token is not from the hub's current source (coordinator); relist")
		return
	}
	if q.Get("resourceVersionMatch") == string(metav1.ResourceVersionMatchExact) {
		// Reading at an exact revision is not offered; the client relists without it.
		writeStatus(w, http.StatusGone, metav1.StatusReasonExpired, "resourceVersion "+req.ResourceVersion+" cannot be read exactly from the pool coordinator; relist")
		return
	}
	gvr := req.Resource.GroupVersionResource
	gvk, builtin := s.kindOf(gvr)
	enc := newObjectEncoder(gvr, gvk, builtin, req.WantProtobuf)
	switch req.Verb {
	case "list":
		s.list(w, r, req, enc, logger)
	case "watch":
		s.watch(w, r, req, enc, logger)
	}
}

func (s *CoordinatorSource) fallback(w http.ResponseWriter, r *http.Request, req *Request) {
	if s.Fallback == nil {
		writeStatus(w, http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, describe(req)+" is not served by the pool coordinator")
		return
	}
	s.Fallback(req).Serve(w, r, req)
}

// read lists the resource in the request's namespace and keeps the items the request selects;
// their resourceVersions become coordinator revisions.
func (s *CoordinatorSource) read(ctx context.Context, req *Request, epoch string) ([]runtime.Object, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.readTimeout())
	defer cancel()
	res, err := s.Store.List(ctx, req.Resource.GroupVersionResource, req.Namespace)
	if err != nil {
		return nil, 0, err
	}
	items := res.Items[:0]
	for i, obj := range res.Items {
		if !matches(req, obj) {
			continue
		}
		setResourceVersion(obj, CoordinatorResourceVersion(epoch, res.ModRevisions[i]))
		items = append(items, obj)
	}
	return items, res.Revision, nil
}

func (s *CoordinatorSource) list(w http.ResponseWriter, r *http.Request, req *Request, enc *objectEncoder, logger klog.Logger) {
	epoch := s.epoch()
	if epoch == "" {
		s.fallback(w, r, req)
		return
	}
	items, rev, err := s.read(r.Context(), req, epoch)
	if err != nil {
		if r.Context().Err() != nil {
			return
		}
		logger.Info("Listing from the pool coordinator failed; answering from the next source", "err", err, "resource", req.Resource.GroupVersionResource)
		s.unavailable(err)
		s.fallback(w, r, req)
		return
	}
	data, err := enc.list(items, CoordinatorResourceVersion(epoch, rev))
	if err != nil {
		logger.Error(err, "Encoding a list from the pool coordinator", "resource", req.Resource.GroupVersionResource)
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, "encoding the coordinator's list failed")
		return
	}
	s.observe("list", 0)
	if cw := s.cacheWriter(r.Context(), req); cw != nil {
		ct := enc.contentType()
		s.CacheTo.writes.reserve(req.Resource)(func() { cw.store1(data, ct) })
	}
	w.Header().Set("Content-Type", enc.contentType())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// cacheWriter returns the cache writer for a cached agent's request, or nil.
func (s *CoordinatorSource) cacheWriter(ctx context.Context, req *Request) *cacheWriter {
	if s.CacheTo == nil || s.CacheTo.Store == nil || !req.Cached {
		return nil
	}
	logger := klog.FromContext(ctx).WithValues("resource", req.Resource.String())
	return &cacheWriter{store: s.CacheTo.Store, metrics: s.CacheTo.Metrics, logger: logger, req: req, queue: &s.CacheTo.writes}
}

// cacheEvent queues one watch event for the cache, in stream order.
func (s *CoordinatorSource) cacheEvent(req *Request, apply func(codec.Event), typ watch.EventType, obj runtime.Object) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return
		}
		u = &unstructured.Unstructured{Object: content}
	} else {
		u = u.DeepCopy()
	}
	s.CacheTo.writes.enqueue(req.Resource, func() { apply(codec.Event{Type: string(typ), Object: u}) })
}

func (s *CoordinatorSource) observe(kind string, delta int) {
	if s.Observe != nil {
		s.Observe(kind, delta)
	}
}

func (s *CoordinatorSource) epoch() string {
	if s.Epoch == nil {
		return ""
	}
	return s.Epoch()
}

// watch streams the coordinator's changes from the request's revision (or from a list it takes
// first, for a watch from "" or "0" and for a watch list).
func (s *CoordinatorSource) watch(w http.ResponseWriter, r *http.Request, req *Request, enc *objectEncoder, logger klog.Logger) {
	epoch := s.epoch()
	if epoch == "" {
		writeStatus(w, http.StatusGone, metav1.StatusReasonExpired, "the pool coordinator is not available; relist")
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	ended := ctx.Done()
	go func() {
		select {
		case <-req.Done: // the router stopped choosing the coordinator
			cancel()
		case <-ended:
		}
	}()
	timeout := req.Timeout
	maxTimeout := s.MaxWatchTimeout
	if maxTimeout <= 0 {
		maxTimeout = 30 * time.Minute
	}
	if timeout <= 0 || timeout > maxTimeout {
		timeout = maxTimeout
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	defer cancelTimeout()

	var initial []runtime.Object
	var from int64
	sendInitial := isUnsetResourceVersion(req.ResourceVersion) || req.SendInitialEvents
	if sendInitial {
		items, rev, err := s.read(ctx, req, epoch)
		if err != nil {
			if r.Context().Err() != nil {
				return
			}
			logger.Info("Listing from the pool coordinator for a watch failed", "err", err, "resource", req.Resource.GroupVersionResource)
			s.unavailable(err)
			writeStatus(w, http.StatusGone, metav1.StatusReasonExpired, "the pool coordinator did not answer; relist")
			return
		}
		initial, from = items, rev
	} else {
		_, rev, _ := ParseCoordinatorResourceVersion(req.ResourceVersion) // the handler checked it is ours
		from = rev
	}
	wt, err := s.Store.Watch(ctx, req.Resource.GroupVersionResource, req.Namespace, from,
		store.WatchOptions{ProgressNotify: req.AllowBookmarks, WithPrev: !req.Selector.Empty() || req.Name != ""})
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, "watching the pool coordinator: "+err.Error())
		return
	}
	defer wt.Stop()
	if sendInitial {
		s.observe("watch", 1)
	} else {
		s.observe("rewatch", 1)
	}
	defer s.observe("", -1)

	send := func(typ watch.EventType, obj runtime.Object) error { return enc.event(w, typ, obj) }
	if cw := s.cacheWriter(r.Context(), req); cw != nil {
		apply := cw.applyWatch()
		send = func(typ watch.EventType, obj runtime.Object) error {
			if err := enc.event(w, typ, obj); err != nil {
				return err
			}
			s.cacheEvent(req, apply, typ, obj)
			return nil
		}
	}
	w.Header().Set("Content-Type", enc.watchContentType())
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	flush(w)
	for _, obj := range initial {
		if err := send(watch.Added, obj); err != nil {
			return
		}
	}
	if req.SendInitialEvents && req.AllowBookmarks {
		if err := send(watch.Bookmark, enc.bookmark(CoordinatorResourceVersion(epoch, from), true)); err != nil {
			return
		}
	}
	flush(w)
	for {
		ev, ok := <-wt.ResultChan()
		if !ok {
			break
		}
		rv := CoordinatorResourceVersion(epoch, ev.Revision)
		var typ watch.EventType
		var obj runtime.Object
		if ev.Type == watch.Bookmark {
			if !req.AllowBookmarks {
				continue
			}
			typ, obj = watch.Bookmark, enc.bookmark(rv, false)
		} else if typ, obj = filterEvent(req, ev); obj == nil {
			continue
		} else {
			setResourceVersion(obj, rv)
		}
		if err := send(typ, obj); err != nil {
			return
		}
		if len(wt.ResultChan()) == 0 {
			flush(w)
		}
	}
	if err := wt.Err(); err != nil {
		if errors.Is(err, store.ErrCompacted) {
			// As the API server does: an ERROR event with 410, and the client relists.
			_ = enc.errorEvent(w, http.StatusGone, metav1.StatusReasonExpired, "the requested revision was compacted in the pool coordinator; relist")
		} else {
			logger.Info("Watch from the pool coordinator ended", "err", err, "resource", req.Resource.GroupVersionResource)
			s.unavailable(err)
		}
		flush(w)
	}
}

// filterEvent turns a coordinator event into what a client with the request's selectors sees,
// or a nil object when it sees nothing.
func filterEvent(req *Request, ev store.Event) (watch.EventType, runtime.Object) {
	switch ev.Type {
	case watch.Deleted:
		if matches(req, ev.Object) {
			return watch.Deleted, ev.Object
		}
	case watch.Added:
		if matches(req, ev.Object) {
			return watch.Added, ev.Object
		}
	case watch.Modified:
		cur := matches(req, ev.Object)
		// Without the previous value (not asked for, or undecodable), assume the client had
		// the object if it matches now: an informer treats MODIFIED of an unknown object as ADDED.
		prev := cur
		if ev.Prev != nil {
			prev = matches(req, ev.Prev)
		}
		switch {
		case cur && prev:
			return watch.Modified, ev.Object
		case cur:
			return watch.Added, ev.Object
		case prev:
			return watch.Deleted, ev.Prev
		}
	}
	return "", nil
}

// matches applies the request's name, label and field selectors.
func matches(req *Request, obj runtime.Object) bool {
	m, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	if req.Name != "" && m.GetName() != req.Name {
		return false
	}
	if req.Selector.Labels != nil && !req.Selector.Labels.Empty() && !req.Selector.Labels.Matches(labelSet(m.GetLabels())) {
		return false
	}
	if req.Selector.Fields == nil || req.Selector.Fields.Empty() {
		return true
	}
	// Field selectors are rare on pool-scoped resources; evaluate them on the unstructured form.
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return false
		}
		u = &unstructured.Unstructured{Object: content}
	}
	return req.Selector.Matches(u)
}

type labelSet map[string]string

func (l labelSet) Has(k string) bool   { _, ok := l[k]; return ok }
func (l labelSet) Get(k string) string { return l[k] }
func (l labelSet) Lookup(k string) (string, bool) {
	v, ok := l[k]
	return v, ok
}

func setResourceVersion(obj runtime.Object, rv string) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetResourceVersion(rv)
	}
}

// coordProto encodes built-in kinds in Kubernetes' protobuf envelope.
var coordProto = protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)

// objectEncoder writes the objects of one resource (typed built-in kinds from the coordinator,
// or unstructured ones) as lists and watch events, in protobuf when asked and possible.
type objectEncoder struct {
	gvk      schema.GroupVersionKind // the item kind; Kind is "" when unknown
	builtin  bool
	protobuf bool
}

func newObjectEncoder(gvr schema.GroupVersionResource, gvk schema.GroupVersionKind, builtin, wantProtobuf bool) *objectEncoder {
	if !builtin {
		gvk = gvr.GroupVersion().WithKind("")
	}
	return &objectEncoder{gvk: gvk, builtin: builtin, protobuf: wantProtobuf && builtin}
}

func (e *objectEncoder) contentType() string {
	if e.protobuf {
		return codec.MediaTypeProtobuf
	}
	return codec.MediaTypeJSON
}

func (e *objectEncoder) watchContentType() string {
	if e.protobuf {
		return codec.MediaTypeProtobuf + ";stream=watch"
	}
	return codec.MediaTypeJSON
}

// encode writes one object (or list); a typed object without its kind set gets it.
func (e *objectEncoder) encode(obj runtime.Object) ([]byte, error) {
	if e.protobuf {
		if _, typed := obj.(*unstructured.Unstructured); !typed {
			var buf bytes.Buffer
			if err := coordProto.Encode(obj, &buf); err != nil {
				return nil, fmt.Errorf("encoding %s as protobuf: %w", e.gvk.Kind, err)
			}
			return buf.Bytes(), nil
		}
	}
	return json.Marshal(obj)
}

func (e *objectEncoder) list(items []runtime.Object, rv string) ([]byte, error) {
	if e.builtin {
		listGVK := e.gvk.GroupVersion().WithKind(e.gvk.Kind + "List")
		if list, err := scheme.Scheme.New(listGVK); err == nil {
			typedItems := true
			for _, it := range items {
				if _, u := it.(*unstructured.Unstructured); u {
					typedItems = false
					break
				}
			}
			if typedItems {
				if err := meta.SetList(list, items); err != nil {
					return nil, fmt.Errorf("building a %s: %w", listGVK.Kind, err)
				}
				list.GetObjectKind().SetGroupVersionKind(listGVK)
				if lm, err := meta.ListAccessor(list); err == nil {
					lm.SetResourceVersion(rv)
				}
				return e.encode(list)
			}
		}
	}
	kind := e.gvk.Kind
	if kind == "" && len(items) > 0 {
		kind = items[0].GetObjectKind().GroupVersionKind().Kind
	}
	ul := &unstructured.UnstructuredList{Object: map[string]any{}}
	ul.SetAPIVersion(e.gvk.GroupVersion().String())
	ul.SetKind(kind + "List")
	ul.SetResourceVersion(rv)
	for _, it := range items {
		content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(it)
		if err != nil {
			return nil, err
		}
		ul.Items = append(ul.Items, unstructured.Unstructured{Object: content})
	}
	return ul.MarshalJSON()
}

// bookmark returns a BOOKMARK object at rv, marking the end of a watch list's initial events
// when initialEnd is set.
func (e *objectEncoder) bookmark(rv string, initialEnd bool) runtime.Object {
	if e.builtin {
		if obj, err := scheme.Scheme.New(e.gvk); err == nil {
			obj.GetObjectKind().SetGroupVersionKind(e.gvk)
			m, _ := meta.Accessor(obj)
			m.SetResourceVersion(rv)
			if initialEnd {
				m.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
			}
			return obj
		}
	}
	return codec.Bookmark(e.gvk, rv, initialEnd)
}

// event writes one watch event in the stream framing of the content type.
func (e *objectEncoder) event(w io.Writer, typ watch.EventType, obj runtime.Object) error {
	raw, err := e.encode(obj)
	if err != nil {
		return err
	}
	return e.frame(w, string(typ), raw)
}

func (e *objectEncoder) frame(w io.Writer, typ string, raw []byte) error {
	if e.protobuf {
		ev := metav1.WatchEvent{Type: typ, Object: runtime.RawExtension{Raw: raw}}
		data, err := ev.Marshal()
		if err != nil {
			return fmt.Errorf("encoding a protobuf watch event: %w", err)
		}
		var size [4]byte
		binary.BigEndian.PutUint32(size[:], uint32(len(data)))
		if _, err := w.Write(size[:]); err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	data, err := json.Marshal(struct {
		Type   string          `json:"type"`
		Object json.RawMessage `json:"object"`
	}{typ, raw})
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

// errorEvent writes an ERROR event carrying a Status.
func (e *objectEncoder) errorEvent(w io.Writer, code int32, reason metav1.StatusReason, message string) error {
	st := &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure, Code: code, Reason: reason, Message: message}
	var raw []byte
	var err error
	if e.protobuf {
		var buf bytes.Buffer
		err = coordProto.Encode(st, &buf)
		raw = buf.Bytes()
	} else {
		raw, err = json.Marshal(st)
	}
	if err != nil {
		return err
	}
	return e.frame(w, string(watch.Error), raw)
}
