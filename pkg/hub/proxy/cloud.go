package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/hub/cache"
	"github.com/yurt-edge/yurt/pkg/hub/metrics"
)

// CloudSource forwards requests to a healthy cloud API server with the node's credentials and
// writes the responses of cached agents to the cache as they stream through.
type CloudSource struct {
	// Server returns the cloud API server to use now (nil when none is healthy).
	Server func() *url.URL
	// Transport carries the node's credentials; UpgradeTransport is the same over HTTP/1.1
	// only, for exec/attach/port-forward upgrades (which HTTP/2 cannot carry).
	Transport, UpgradeTransport http.RoundTripper
	// ShortTransport, if set, carries the requests that are not watches or upgrades (gets,
	// lists, writes) over HTTP/1.1 keep-alive connections of their own: on a short request
	// HTTP/2's per-stream machinery costs more than it saves, and a get is not queued on one
	// TCP connection behind a large list or a burst of watch events. Watches stay multiplexed
	// on Transport.
	ShortTransport http.RoundTripper
	Store          *cache.Store
	Metrics        *metrics.Metrics
	// Fallback answers a get or list that failed to reach the cloud (usually the cache).
	Fallback Source

	writes writeQueue
}

// WaitForCacheWrites returns once the cache updates of responses so far are on disk, or ctx
// ends (for shutdown and tests).
func (s *CloudSource) WaitForCacheWrites(ctx context.Context) error { return s.writes.wait(ctx) }

var _ Source = &CloudSource{}

// Name implements Source.
func (s *CloudSource) Name() string { return "cloud" }

// OwnsResourceVersion implements Source: kube-apiserver's resourceVersions are integers.
func (s *CloudSource) OwnsResourceVersion(rv string) bool { return IsCloudResourceVersion(rv) }

// Serve implements Source.
func (s *CloudSource) Serve(w http.ResponseWriter, r *http.Request, req *Request) {
	logger := klog.FromContext(r.Context())
	target := s.Server()
	if target == nil {
		if s.Fallback != nil && ((req.IsRead() && req.Verb != "watch") || req.RawKey != "") {
			s.Fallback.Serve(w, r, req)
			return
		}
		writeStatus(w, http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, "no cloud API server is healthy")
		return
	}
	transport := s.Transport
	clientCtx := r.Context()
	upgrade := isUpgrade(r)
	if s.ShortTransport != nil && req.Verb != "watch" {
		transport = s.ShortTransport
	}
	// -1: flush every write, so watch events and log lines reach the client at once.
	flushInterval, out := time.Duration(-1), w
	ends := !upgrade && req.Verb != "watch" && req.Subresource == ""
	if ends {
		// A response that ends when the upstream's does (a get, a list, a write's answer,
		// discovery): flushing every read sent the headers and each piece of the body in a
		// write of their own, the headers first from a timer goroutine ReverseProxy starts for
		// -1; the server's buffer sends them together, and at the end of the handler.
		flushInterval, out = 0, unflushed{w}
	}
	switch {
	case upgrade:
		transport = s.UpgradeTransport
	case req.Verb != "watch" && req.Done != nil:
		// A request in flight when the cloud turns unhealthy may sit on a dead connection:
		// cancel it, and a get or list is then answered from the cache (ErrorHandler).
		ctx, cancel := context.WithCancel(clientCtx)
		defer cancel()
		go func() {
			select {
			case <-req.Done:
				cancel()
			case <-ctx.Done():
			}
		}()
		r = r.WithContext(ctx)
	}
	p := &httputil.ReverseProxy{
		Transport:     transport,
		FlushInterval: flushInterval,
		// Without a pool every request allocates (and the collector clears) a 32 KiB buffer.
		BufferPool: copyBuffers,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			// The hub speaks for the node with its own credentials, never a local client's.
			pr.Out.Header.Del("Authorization")
			// Let the transport negotiate (and undo) compression, so the cache sees plain bytes.
			pr.Out.Header.Del("Accept-Encoding")
			if req.IsResourceRequest && !isUnsetResourceVersion(req.ResourceVersion) && !s.OwnsResourceVersion(req.ResourceVersion) && req.Verb == "list" {
				// A list from a cached resourceVersion: the cloud cannot know it; read the latest.
				q := pr.Out.URL.Query()
				q.Del("resourceVersion")
				q.Del("resourceVersionMatch")
				pr.Out.URL.RawQuery = q.Encode()
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			if ends && r.Method == http.MethodGet && resp.StatusCode == http.StatusOK && resp.ContentLength < 0 {
				readAhead(resp, readAheadLimit)
			}
			if req.Verb == "watch" && req.Done != nil {
				resp.Body = newEndOnDone(resp.Body, req.Done)
			}
			// Filtered before the tee, so the cache holds what the component was given.
			if f := filteringOf(r); f != nil {
				f.filterResponse(r.Context(), resp, req)
			}
			if req.Cached {
				s.teeIntoCache(r.Context(), resp, req)
			} else if req.RawKey != "" && resp.StatusCode == http.StatusOK {
				s.teeRaw(r.Context(), resp, req)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, out *http.Request, err error) {
			if clientCtx.Err() != nil {
				return // the client went away
			}
			if s.Fallback != nil && ((req.Cached && (req.Verb == "get" || req.Verb == "list")) || req.RawKey != "") {
				logger.Info("Cloud request failed; answering from the cache", "err", err, "request", describe(req))
				s.Fallback.Serve(w, r.WithContext(clientCtx), req)
				return
			}
			logger.Info("Cloud request failed", "err", err, "request", describe(req))
			writeStatus(w, http.StatusBadGateway, metav1.StatusReasonServiceUnavailable, "the hub could not reach the cloud: "+err.Error())
		},
		ErrorLog: nil,
	}
	p.ServeHTTP(out, r)
}

// readAheadLimit bounds what readAhead holds of one body: more than most single objects.
const readAheadLimit = 128 << 10

// readAhead reads a response body of unknown length (kube-apiserver sends objects of more than
// 2 KiB chunked over HTTP/1.1) up to limit. A body that ends within it is passed on with its
// Content-Length: the client gets it unchunked, and ReverseProxy, which flushes every write of
// a body of unknown length from a timer goroutine of its own, just copies it. A longer body
// (a list) is passed on as it comes, after the part read.
func readAhead(resp *http.Response, limit int) {
	buf := make([]byte, 0, 8<<10)
	for len(buf) < limit {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(cap(buf), limit-len(buf)))
		}
		n, err := resp.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case errors.Is(err, io.EOF):
			_ = resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(buf))
			resp.ContentLength = int64(len(buf))
			resp.Header.Set("Content-Length", strconv.Itoa(len(buf)))
			return
		case err != nil:
			// The client sees the body cut short, as it would have without reading ahead.
			resp.Body = readAheadBody{Reader: io.MultiReader(bytes.NewReader(buf), &errReader{err: err}), Closer: resp.Body}
			return
		}
	}
	resp.Body = readAheadBody{Reader: io.MultiReader(bytes.NewReader(buf), resp.Body), Closer: resp.Body}
}

type readAheadBody struct {
	io.Reader
	io.Closer
}

// unflushed hides a ResponseWriter's Flush (and its other optional abilities) from
// ReverseProxy, which flushes every write of a response of unknown length whatever its
// FlushInterval.
type unflushed struct{ http.ResponseWriter }

// teeIntoCache makes the response body also feed the cache: whole get and list bodies once
// they have been read to the end, watch events one by one.
func (s *CloudSource) teeIntoCache(ctx context.Context, resp *http.Response, req *Request) {
	logger := klog.FromContext(ctx).WithValues("resource", req.Resource.String())
	w := &cacheWriter{store: s.Store, metrics: s.Metrics, logger: logger, req: req, queue: &s.writes}
	ct := resp.Header.Get("Content-Type")
	switch {
	case req.Verb == "get" && resp.StatusCode == http.StatusNotFound:
		s.writes.enqueue(req.Resource, w.forget)
	case resp.StatusCode != http.StatusOK:
	case req.Verb == "watch":
		resp.Body = newWatchTee(resp.Body, func(r io.Reader) { w.consumeWatch(r, ct) })
	default:
		// The slot is taken now, before the client has the body and can send its next request.
		release := s.writes.reserve(req.Resource)
		size := resp.ContentLength
		if size < 0 && !req.Paged {
			// A list, usually: as long as the last one, give or take, not grown by doubling.
			size = int64(s.writes.bodies.sizeHint(memoKeyOf(req)))
			size += size / 8
		}
		resp.Body = &bufferedTee{body: resp.Body, buf: sized(size), release: release, done: func(data []byte) func() {
			return func() { w.store1(data, ct) }
		}}
	}
}

// sized returns an empty buffer for a body of the given length (-1: unknown), so that the
// copy kept for the cache grows once rather than by repeated doubling.
func sized(contentLength int64) []byte {
	if contentLength <= 0 || contentLength > 64<<20 {
		return nil
	}
	return make([]byte, 0, contentLength)
}

// copyBuffers are ReverseProxy's copy buffers, shared by all requests.
var copyBuffers httputil.BufferPool = &bufferPool{}

type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get() []byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, 32<<10)
}

func (p *bufferPool) Put(b []byte) { p.pool.Put(&b) }

// teeRaw keeps a discovery or /version response as received.
func (s *CloudSource) teeRaw(ctx context.Context, resp *http.Response, req *Request) {
	logger := klog.FromContext(ctx)
	ct := resp.Header.Get("Content-Type")
	key := cache.Resource{Component: req.Component, GroupVersionResource: schema.GroupVersionResource{Resource: "_nonresource"}}
	release := s.writes.reserve(key)
	resp.Body = &bufferedTee{body: resp.Body, release: release, done: func(data []byte) func() {
		return func() {
			if err := s.Store.PutRaw(req.Component, req.RawKey, cache.RawResponse{ContentType: ct, Body: data}); err != nil {
				logger.Error(err, "Caching a discovery response", "path", req.Path)
			}
		}
	}}
}

// isUpgrade reports a request that asks to switch protocols (exec, attach, port-forward).
func isUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

// bufferedTee keeps a copy of everything read and, once the body was read to its end, hands
// the work done makes of it to its queue slot; a body cut short gives the slot up uncached.
type bufferedTee struct {
	body     io.ReadCloser
	buf      []byte
	done     func([]byte) func()
	release  func(func())
	finished bool
}

func (t *bufferedTee) Read(p []byte) (int, error) {
	n, err := t.body.Read(p)
	t.buf = append(t.buf, p[:n]...)
	if errors.Is(err, io.EOF) && !t.finished {
		t.finished = true
		t.release(t.done(t.buf))
	}
	return n, err
}

func (t *bufferedTee) Close() error {
	if !t.finished {
		t.finished = true
		t.release(nil)
	}
	return t.body.Close()
}

// watchTee passes a watch stream through and feeds a copy to consume in another goroutine.
// If consume stops early the rest is discarded, so the client's stream never stalls on it.
type watchTee struct {
	body io.ReadCloser
	pw   *io.PipeWriter
}

func newWatchTee(body io.ReadCloser, consume func(io.Reader)) *watchTee {
	pr, pw := io.Pipe()
	go func() {
		consume(pr)
		_, _ = io.Copy(io.Discard, pr)
	}()
	return &watchTee{body: body, pw: pw}
}

func (t *watchTee) Read(p []byte) (int, error) {
	n, err := t.body.Read(p)
	if n > 0 {
		_, _ = t.pw.Write(p[:n])
	}
	if err != nil {
		_ = t.pw.Close()
	}
	return n, err
}

func (t *watchTee) Close() error {
	_ = t.pw.Close()
	return t.body.Close()
}

// endOnDone ends a watch body cleanly (io.EOF) when done closes, so the client sees the watch
// end normally and re-watches, instead of seeing a broken connection.
type endOnDone struct {
	body   io.ReadCloser
	done   <-chan struct{}
	closed chan struct{}
}

func newEndOnDone(body io.ReadCloser, done <-chan struct{}) *endOnDone {
	e := &endOnDone{body: body, done: done, closed: make(chan struct{})}
	go func() {
		select {
		case <-done:
			_ = body.Close() // unblocks a pending Read
		case <-e.closed:
		}
	}()
	return e
}

func (e *endOnDone) Read(p []byte) (int, error) {
	select {
	case <-e.done:
		return 0, io.EOF
	default:
	}
	n, err := e.body.Read(p)
	if err != nil {
		select {
		case <-e.done:
			return n, io.EOF
		default:
		}
	}
	return n, err
}

func (e *endOnDone) Close() error {
	select {
	case <-e.closed:
	default:
		close(e.closed)
	}
	return e.body.Close()
}
