package responsefilter

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"reflect"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/klog/v2"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
	"github.com/yurt-edge/yurt/pkg/filter"
	"github.com/yurt-edge/yurt/pkg/hub/codec"
	"github.com/yurt-edge/yurt/pkg/hub/proxy"
)

// serviceNameLabel names an EndpointSlice's Service.
const serviceNameLabel = "kubernetes.io/service-name"

// session filters one response.
type session struct {
	m           *Manager
	req         filter.Request
	chain       *filter.Chain
	node        filter.Node
	verb        string
	usesService bool
	// usesNodePool: the filters call nodePool(); objects are kept for a re-filter when pools change.
	usesNodePool bool
	continued    bool
	chainID      string
	relist       bool
	logger       klog.Logger

	view  *view  // nil for a get
	watch *watch // set for a watch
	// filtered says FilterBody ran (a list's view was updated from its items).
	filtered bool
	// sent hashes what a watch that may re-filter last sent per object, so a re-filter that
	// changes nothing sends nothing. Only FilterWatch's goroutine uses it.
	sent map[string]uint64
}

var _ proxy.FilterSession = &session{}

func (s *session) Active() bool { return !s.chain.Empty() }

func (s *session) Relist() bool { return s.relist }

func (s *session) Ended() <-chan struct{} {
	if s.watch == nil {
		return nil
	}
	return s.watch.ended
}

// Finish forgets the watch; a list that passed unfiltered leaves a view whose seen objects
// are unknown.
func (s *session) Finish() {
	if s.view == nil {
		return
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if s.watch != nil {
		delete(s.view.watches, s.watch)
		return
	}
	if s.verb == "list" && !s.filtered && !s.continued {
		s.view.listed, s.view.chainID, s.view.known = true, s.chainID, false
		s.view.seen, s.view.objects, s.view.lists = nil, nil, nil
	}
}

// resetView starts the client's copy afresh (a list, or a watch that lists); m.mu held.
func (s *session) resetView(known bool) {
	v := s.view
	v.listed, v.chainID, v.known = true, s.chainID, known
	v.seen = map[string]struct{}{}
	v.objects, v.lists = nil, nil
	if s.usesService || s.usesNodePool {
		v.objects = map[string]storedObject{}
	}
}

func objectKey(o *unstructured.Unstructured) string { return o.GetNamespace() + "/" + o.GetName() }

// apply runs the chain on one object, logging and counting Ignore errors.
func (s *session) apply(ctx context.Context, obj *unstructured.Unstructured) (filter.Outcome, error) {
	out, err := s.chain.Apply(ctx, obj, s.req, s.node)
	s.noteIgnored(out.Ignored, obj)
	return out, err
}

func (s *session) noteIgnored(errs []error, obj *unstructured.Unstructured) {
	if len(errs) == 0 {
		return
	}
	s.m.ignored.Add(int64(len(errs)))
	name := ""
	if obj != nil {
		name = objectKey(obj)
	}
	s.logger.V(2).Info("Response filters failed and were ignored (failurePolicy: Ignore)", "object", name, "errors", errs)
}

// FilterObject implements proxy.FilterSession.
func (s *session) FilterObject(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, bool, error) {
	out, err := s.apply(ctx, obj)
	if err != nil {
		return nil, false, err
	}
	return out.Object, out.Keep, nil
}

// FilterBody implements proxy.FilterSession.
func (s *session) FilterBody(ctx context.Context, body []byte, contentType string) ([]byte, error) {
	protobuf := codec.IsProtobuf(contentType)
	if s.verb == "get" {
		obj, err := codec.DecodeObject(body, contentType)
		if err != nil {
			return s.undecodable(body, fmt.Errorf("decoding the response to filter it: %w", err))
		}
		out, err := s.apply(ctx, obj)
		if err != nil {
			return nil, err
		}
		if !out.Keep {
			return nil, proxy.ErrDropped
		}
		if out.Object == obj {
			return body, nil
		}
		data, _, err := codec.EncodeObject(out.Object, protobuf)
		return data, err
	}
	list, err := codec.DecodeList(body, contentType)
	if err != nil {
		return s.undecodable(body, fmt.Errorf("decoding the list to filter it: %w", err))
	}
	lout, err := s.chain.ApplyList(ctx, list, s.req, s.node)
	if err != nil {
		return nil, err
	}
	s.noteIgnored(lout.Ignored, nil)
	s.recordList(body, contentType, lout)
	if unchanged(list, lout.List) {
		return body, nil
	}
	content := make(map[string]any, len(lout.List.Object)+1)
	for k, v := range lout.List.Object {
		content[k] = v
	}
	items := make([]any, len(lout.List.Items))
	for i := range lout.List.Items {
		items[i] = lout.List.Items[i].Object
	}
	content["items"] = items
	data, _, err := codec.EncodeObject(&unstructured.Unstructured{Object: content}, protobuf)
	if err != nil {
		return nil, fmt.Errorf("encoding the filtered list: %w", err)
	}
	return data, nil
}

// ignoreOnly says every filter that applies has failurePolicy: Ignore.
func (s *session) ignoreOnly() bool {
	for _, f := range s.chain.Filters() {
		if f.FailurePolicy != appsv1alpha1.Ignore {
			return false
		}
	}
	return true
}

// undecodable handles a body the hub cannot decode (e.g. protobuf of a kind client-go's
// scheme lacks): like a filter's runtime error, it passes unchanged when every filter that
// applies says Ignore and fails the request otherwise.
func (s *session) undecodable(body []byte, err error) ([]byte, error) {
	if s.ignoreOnly() {
		s.m.ignored.Add(1)
		s.logger.Info("Passing a response the filters cannot read unfiltered (failurePolicy: Ignore)", "err", err)
		return body, nil
	}
	return nil, err
}

// unchanged says the filters kept every item as it was, so the original body can be sent.
func unchanged(in, out *unstructured.UnstructuredList) bool {
	if len(in.Items) != len(out.Items) {
		return false
	}
	for i := range in.Items {
		if reflect.ValueOf(in.Items[i].Object).UnsafePointer() != reflect.ValueOf(out.Items[i].Object).UnsafePointer() {
			return false
		}
	}
	return true
}

// recordList makes the list's kept items what the client has seen.
func (s *session) recordList(body []byte, contentType string, out filter.ListOutcome) {
	s.filtered = true
	if s.view == nil {
		return
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	v := s.view
	if !s.continued {
		s.resetView(true)
	}
	if v.seen == nil {
		v.seen = map[string]struct{}{}
	}
	for i := range out.List.Items {
		v.seen[objectKey(&out.List.Items[i])] = struct{}{}
	}
	if v.objects != nil {
		v.lists = append(v.lists, encodedList{data: body, contentType: contentType})
	}
}

func store(obj *unstructured.Unstructured, data []byte, contentType string) storedObject {
	return storedObject{namespace: obj.GetNamespace(), name: obj.GetName(), serviceName: obj.GetLabels()[serviceNameLabel],
		data: data, contentType: contentType}
}

// watchWriter writes a filtered watch stream.
type watchWriter struct {
	out      io.Writer
	flush    func()
	protobuf bool
}

func (w *watchWriter) raw(typ string, object []byte) error {
	if err := writeEvent(w.out, w.protobuf, typ, object); err != nil {
		return err
	}
	if w.flush != nil {
		w.flush()
	}
	return nil
}

func (w *watchWriter) object(typ string, obj *unstructured.Unstructured) error {
	data, _, err := codec.EncodeObject(obj, w.protobuf)
	if err != nil {
		return fmt.Errorf("encoding a filtered watch event: %w", err)
	}
	return w.raw(typ, data)
}

// errFilterFailed ends a watch whose failurePolicy: Fail filter failed.
var errFilterFailed = errors.New("a response filter failed")

// FilterWatch implements proxy.FilterSession.
func (s *session) FilterWatch(ctx context.Context, in io.Reader, out io.Writer, flush func(), contentType string) error {
	w := &watchWriter{out: out, flush: flush, protobuf: codec.IsProtobuf(contentType)}
	type next struct {
		ev  rawEvent
		err error
	}
	events := make(chan next)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		dec := codec.NewWatchDecoder(in, contentType)
		for {
			ev, err := dec.NextRaw()
			select {
			case events <- next{ev, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var resync <-chan struct{}
	if s.watch != nil && (s.usesService || s.usesNodePool) {
		resync = s.watch.notify
		s.sent = map[string]uint64{}
	}
	for {
		select {
		case n := <-events:
			if n.err != nil {
				if errors.Is(n.err, io.EOF) {
					return nil
				}
				return n.err
			}
			if err := s.watchEvent(ctx, w, n.ev); err != nil {
				return err
			}
		case <-resync:
			if err := s.resync(ctx, w); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// seenState says whether the client has an object: seen, and whether that answer is certain.
func (s *session) seenState(key string) (seen, certain bool) {
	if s.view == nil {
		return false, false
	}
	_, seen = s.view.seen[key]
	return seen, s.view.known
}

func (s *session) setSeen(key string, seen bool) {
	if s.view == nil {
		return
	}
	if s.view.seen == nil {
		s.view.seen = map[string]struct{}{}
	}
	if seen {
		s.view.seen[key] = struct{}{}
	} else {
		delete(s.view.seen, key)
	}
}

func (s *session) watchEvent(ctx context.Context, w *watchWriter, ev rawEvent) error {
	switch ev.Type {
	case "ADDED", "MODIFIED", "DELETED":
	default:
		return w.raw(ev.Type, ev.Object) // BOOKMARK, ERROR: untouched
	}
	obj, err := codec.DecodeObject(ev.Object, w.contentType())
	if err != nil {
		if _, err := s.undecodable(nil, err); err != nil {
			_ = w.raw("ERROR", codec.Status(http.StatusInternalServerError, metav1.StatusReasonInternalError, "the hub's response filters cannot read the event: "+err.Error()))
			return fmt.Errorf("decoding a watch event to filter it: %w", err)
		}
		return w.raw(ev.Type, ev.Object)
	}
	key := objectKey(obj)
	if ev.Type == "DELETED" {
		s.m.mu.Lock()
		seen, certain := s.seenState(key)
		s.setSeen(key, false)
		delete(s.sent, key)
		if s.view != nil && s.view.objects != nil {
			if len(s.view.lists) > 0 {
				s.view.objects[key] = storedObject{deleted: true}
			} else {
				delete(s.view.objects, key)
			}
		}
		s.m.mu.Unlock()
		if seen || !certain {
			return w.raw(ev.Type, ev.Object)
		}
		return nil
	}
	out, err := s.apply(ctx, obj)
	if err != nil {
		s.logger.Info("A response filter failed on a watch event; ending the watch with an error", "object", key, "err", err)
		_ = w.raw("ERROR", codec.Status(http.StatusInternalServerError, metav1.StatusReasonInternalError, "the hub's response filters failed: "+err.Error()))
		return fmt.Errorf("%w: %v", errFilterFailed, err)
	}
	s.m.mu.Lock()
	seen, certain := s.seenState(key)
	s.setSeen(key, out.Keep)
	if s.view != nil && s.view.objects != nil {
		s.view.objects[key] = store(obj, ev.Object, w.contentType())
	}
	s.m.mu.Unlock()
	return s.send(w, ev, obj, out, seen, certain, false)
}

// send writes the event for an object the filters kept or dropped, given what the client has.
func (s *session) send(w *watchWriter, ev rawEvent, obj *unstructured.Unstructured, out filter.Outcome, seen, certain, resync bool) error {
	key := objectKey(obj)
	if !out.Keep {
		// Dropped: take it away from a client that has it; an ADDED one it cannot have.
		if seen || (!certain && ev.Type == "MODIFIED") {
			delete(s.sent, key)
			if ev.Object != nil {
				return w.raw("DELETED", ev.Object)
			}
			return w.object("DELETED", obj)
		}
		return nil
	}
	typ := ev.Type
	if !seen && certain {
		typ = "ADDED" // new to this client, perhaps no longer dropped
	} else if seen && typ == "ADDED" {
		typ = "MODIFIED"
	}
	data := ev.Object
	if out.Object != obj || data == nil {
		var err error
		if data, _, err = codec.EncodeObject(out.Object, w.protobuf); err != nil {
			return fmt.Errorf("encoding a filtered watch event: %w", err)
		}
	}
	if s.sent != nil {
		h := fnv.New64a()
		_, _ = h.Write(data)
		sum := h.Sum64()
		// A re-filter that changes nothing the client was sent is not sent again (any change
		// to a Service triggers one).
		if resync && typ == "MODIFIED" && s.sent[key] == sum {
			return nil
		}
		s.sent[key] = sum
	}
	return w.raw(typ, data)
}

// resync re-filters the objects of the Services that changed (or all of them, when pools
// changed) and sends them again.
func (s *session) resync(ctx context.Context, w *watchWriter) error {
	for _, svc := range s.watch.takeResync() {
		ns, name, _ := strings.Cut(svc, "/")
		s.m.mu.Lock()
		var related []storedObject
		if s.view != nil && len(s.view.lists) > 0 {
			if err := s.view.materialize(); err != nil {
				s.logger.Error(err, "Preparing to re-filter a watch's objects")
			}
		}
		if s.view != nil {
			for _, o := range s.view.objects {
				if svc == resyncAll || o.relatedTo(ns, name) {
					related = append(related, o)
				}
			}
		}
		s.m.mu.Unlock()
		for _, stored := range related {
			obj, err := stored.decode()
			if err != nil {
				s.logger.Error(err, "Decoding a kept object to re-filter it", "object", stored.namespace+"/"+stored.name)
				continue
			}
			out, err := s.apply(ctx, obj)
			if err != nil {
				s.logger.Info("A response filter failed re-filtering after a Service change; ending the watch with an error", "object", objectKey(obj), "err", err)
				_ = w.raw("ERROR", codec.Status(http.StatusInternalServerError, metav1.StatusReasonInternalError, "the hub's response filters failed: "+err.Error()))
				return fmt.Errorf("%w: %v", errFilterFailed, err)
			}
			key := objectKey(obj)
			s.m.mu.Lock()
			seen, certain := s.seenState(key)
			s.setSeen(key, out.Keep)
			s.m.mu.Unlock()
			if err := s.send(w, rawEvent{Type: "MODIFIED"}, obj, out, seen, certain, true); err != nil {
				return err
			}
		}
		if len(related) > 0 {
			s.logger.V(2).Info("Re-sent objects after their Service changed", "service", svc, "objects", len(related))
		}
	}
	return nil
}

func (w *watchWriter) contentType() string {
	if w.protobuf {
		return codec.MediaTypeProtobuf
	}
	return codec.MediaTypeJSON
}
