package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/hub/codec"
)

// ResponseFilters shape the responses the hub returns to local components (the ResponseFilters
// of pkg/hub/responsefilter). The Handler asks for a session per read request; every source's
// response passes through it, and the cloud source filters before it tees into the cache, so
// the cache holds what the component was given.
type ResponseFilters interface {
	// Begin starts the filtering of one request's response; nil leaves the response untouched.
	Begin(ctx context.Context, r *http.Request, req *Request) FilterSession
}

// FilterSession filters one response.
type FilterSession interface {
	// Active says whether any filter applies; if not, the body passes untouched (the session
	// still learns that the request happened).
	Active() bool
	// Relist says that a watch must be refused with 410 Gone: the filters that shaped what
	// the client listed have changed, so it must list again to see the objects they now let
	// through or drop.
	Relist() bool
	// Ended closes when an open watch must end (the filters applying to it changed); the
	// client then watches again and is told to relist.
	Ended() <-chan struct{}
	// FilterBody filters a whole get or list response body of the given Content-Type and
	// returns the body to send in the same Content-Type. ErrDropped: a get's object was dropped.
	FilterBody(ctx context.Context, body []byte, contentType string) ([]byte, error)
	// FilterWatch copies a watch stream from in to out, filtered, calling flush (if not nil)
	// after each event. It returns at the end of in, when out fails, or when it ends the stream
	// itself (a failurePolicy: Fail error, sent to the client as an ERROR event).
	FilterWatch(ctx context.Context, in io.Reader, out io.Writer, flush func(), contentType string) error
	// FilterObject filters one object as the response's objects are (no watch conversions).
	FilterObject(ctx context.Context, obj *unstructured.Unstructured) (out *unstructured.Unstructured, keep bool, err error)
	// Finish is called once the response is complete.
	Finish()
}

// CacheFilter is for sources that write the cache themselves from objects rather than from
// a response body (the coordinator's): it returns the object to store for one they send on
// r — as filtered for the requesting component — or keep=false when the component is not
// given it (do not store it; for a watch MODIFIED, delete it from the cache). It returns nil
// when no filter applies to r. The cloud source needs none: it tees the filtered body.
func CacheFilter(r *http.Request) func(ctx context.Context, obj *unstructured.Unstructured) (out *unstructured.Unstructured, keep bool, err error) {
	f := filteringOf(r)
	if f == nil || !f.session.Active() {
		return nil
	}
	return f.session.FilterObject
}

// ErrDropped is returned by FilterSession.FilterBody when the object of a get was dropped.
var ErrDropped = errors.New("dropped by a response filter")

// responseFiltering is a request's filter session plus whether a source already applied it.
type responseFiltering struct {
	session FilterSession
	applied atomic.Bool
}

// filterResponse filters a response from upstream in place (the cloud source's), before the
// body is teed into the cache; it marks the session applied so the Handler's writer passes
// the result through. A get or list is read whole and answered 404 (dropped) or 500
// (failurePolicy: Fail) here, before the status line is sent.
func (f *responseFiltering) filterResponse(ctx context.Context, resp *http.Response, req *Request) {
	f.applied.Store(true)
	if resp.StatusCode != http.StatusOK || !f.session.Active() {
		return
	}
	ct := resp.Header.Get("Content-Type")
	if req.Verb == "watch" {
		pr, pw := io.Pipe()
		upstream := resp.Body
		go func() {
			err := f.session.FilterWatch(ctx, upstream, pw, nil, ct)
			_ = pw.CloseWithError(err)
			_ = upstream.Close() // ends the read loop of FilterWatch's decoder, if still reading
		}()
		resp.Body = &pipeBody{PipeReader: pr, upstream: upstream}
		return
	}
	data, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		// The client sees the body cut short, as it would have without filtering.
		resp.Body = io.NopCloser(&errReader{err: err})
		return
	}
	out, code, err := filterBody(ctx, f.session, data, ct)
	if err != nil {
		replaceWithStatus(resp, code, err)
		return
	}
	resp.Body = io.NopCloser(bytes.NewReader(out))
	resp.ContentLength = int64(len(out))
	resp.Header.Set("Content-Length", strconv.Itoa(len(out)))
}

// filterBody runs FilterBody and maps its errors to the status to answer.
func filterBody(ctx context.Context, s FilterSession, data []byte, ct string) ([]byte, int, error) {
	out, err := s.FilterBody(ctx, data, ct)
	switch {
	case errors.Is(err, ErrDropped):
		return nil, http.StatusNotFound, err
	case err != nil:
		klog.FromContext(ctx).Info("A response filter failed; failing the request", "err", err)
		return nil, http.StatusInternalServerError, err
	}
	return out, http.StatusOK, nil
}

func statusFor(code int, err error) []byte {
	reason := metav1.StatusReasonInternalError
	msg := "the hub's response filters failed: " + err.Error()
	if code == http.StatusNotFound {
		reason, msg = metav1.StatusReasonNotFound, "the object is not visible to this component (dropped by a response filter)"
	}
	return codec.Status(int32(code), reason, msg)
}

func replaceWithStatus(resp *http.Response, code int, err error) {
	body := statusFor(code, err)
	resp.StatusCode = code
	resp.Status = strconv.Itoa(code) + " " + http.StatusText(code)
	resp.Header.Set("Content-Type", codec.MediaTypeJSON)
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	resp.ContentLength = int64(len(body))
	resp.Body = io.NopCloser(bytes.NewReader(body))
}

type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }

// pipeBody is a filtered watch body; closing it also closes the upstream body, so a client
// that goes away stops the filtering goroutine.
type pipeBody struct {
	*io.PipeReader
	upstream io.Closer
}

func (p *pipeBody) Close() error {
	_ = p.PipeReader.Close()
	return p.upstream.Close()
}

// filterWriter filters what a source writes (sources other than the cloud, which filter
// nothing themselves: the cache, the coordinator, the cloud's fallback to the cache). Get and
// list bodies are buffered and filtered when the source is done; watch streams go through a
// pipe to a goroutine that filters them event by event.
type filterWriter struct {
	http.ResponseWriter
	ctx  context.Context
	f    *responseFiltering
	verb string

	mode    int // 0 before the header, 1 pass through, 2 buffer, 3 stream
	code    int
	buf     bytes.Buffer
	pw      *io.PipeWriter
	streamc chan struct{}
}

const (
	fwUndecided = iota
	fwPass
	fwBuffer
	fwStream
)

func newFilterWriter(ctx context.Context, w http.ResponseWriter, f *responseFiltering, verb string) *filterWriter {
	return &filterWriter{ResponseWriter: w, ctx: ctx, f: f, verb: verb}
}

func (w *filterWriter) WriteHeader(code int) {
	if w.mode != fwUndecided {
		if w.mode == fwPass {
			w.ResponseWriter.WriteHeader(code)
		}
		return
	}
	w.code = code
	switch {
	case w.f.applied.Load() || code != http.StatusOK || !w.f.session.Active():
		w.mode = fwPass
		w.ResponseWriter.WriteHeader(code)
	case w.verb == "watch":
		w.mode = fwStream
		h := w.Header()
		h.Del("Content-Length")
		ct := h.Get("Content-Type")
		w.ResponseWriter.WriteHeader(code)
		pr, pw := io.Pipe()
		w.pw, w.streamc = pw, make(chan struct{})
		out := w.ResponseWriter
		go func() {
			defer close(w.streamc)
			err := w.f.session.FilterWatch(w.ctx, pr, out, func() { flush(out) }, ct)
			_ = pr.CloseWithError(errOr(err, io.ErrClosedPipe))
		}()
	default:
		w.mode = fwBuffer
	}
}

func errOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

func (w *filterWriter) Write(p []byte) (int, error) {
	if w.mode == fwUndecided {
		w.WriteHeader(http.StatusOK)
	}
	switch w.mode {
	case fwBuffer:
		return w.buf.Write(p)
	case fwStream:
		return w.pw.Write(p)
	}
	return w.ResponseWriter.Write(p)
}

// Flush passes flushes through except while the body is being held back: a filtered watch
// flushes after each event it writes.
func (w *filterWriter) Flush() {
	if w.mode == fwPass || w.mode == fwUndecided {
		flush(w.ResponseWriter)
	}
}

// Unwrap lets http.ResponseController reach the underlying writer's other abilities.
func (w *filterWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish writes a buffered body, filtered, or waits for a watch stream's filtering to end.
func (w *filterWriter) finish() {
	switch w.mode {
	case fwBuffer:
		out, code, err := filterBody(w.ctx, w.f.session, w.buf.Bytes(), w.Header().Get("Content-Type"))
		if err != nil {
			body := statusFor(code, err)
			w.Header().Set("Content-Type", codec.MediaTypeJSON)
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.ResponseWriter.WriteHeader(code)
			_, _ = w.ResponseWriter.Write(body)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(out)))
		w.ResponseWriter.WriteHeader(w.code)
		_, _ = w.ResponseWriter.Write(out)
	case fwStream:
		_ = w.pw.Close()
		<-w.streamc
	}
}

// mergeDone returns a channel closed when either a or b closes, and a func to stop watching.
func mergeDone(a, b <-chan struct{}) (<-chan struct{}, func()) {
	if b == nil {
		return a, func() {}
	}
	if a == nil {
		return b, func() {}
	}
	out := make(chan struct{})
	stop := make(chan struct{})
	var once sync.Once
	go func() {
		select {
		case <-a:
		case <-b:
		case <-stop:
			return
		}
		close(out)
	}()
	return out, func() { once.Do(func() { close(stop) }) }
}
