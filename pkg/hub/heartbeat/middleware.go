// Package heartbeat keeps a node heartbeating while its hub cannot reach the cloud.
//
// Kubelet renews its Lease kube-node-lease/<node> through the hub every 10s. Middleware sits in
// front of the hub's proxy and watches those requests:
//   - while the cloud is reachable it forwards them (stripping openyurt.io/delegate-heartbeat, so
//     a direct heartbeat always ends a delegation) and mirrors each renewed Lease to the pool's
//     coordinator with delegated=false;
//   - while the cloud is unreachable it answers them itself, as OpenYurt's hub does, so kubelet
//     keeps renewing at its normal pace instead of backing off, and mirrors each renewal with
//     delegated=true. A heartbeat the cloud does not take in time (a cut the health checker has
//     not noticed yet) is handled the same way, so the pool leader picks it up within one
//     renewal instead of kubelet losing it.
//
// Renewer is the pool leader's task: it follows the coordinator's delegated Leases and renews
// those nodes' Leases in the cloud (annotation kept) with its own identity, since neither the
// Node authorizer nor the NodeRestriction admission plugin lets one node write another's Lease.
package heartbeat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/coordinator/lease"
	"github.com/yurt-edge/yurt/pkg/hub/codec"
)

// leasesPath is the collection of node Leases.
const leasesPath = "/apis/coordination.k8s.io/v1/namespaces/" + corev1.NamespaceNodeLease + "/leases"

// DefaultForwardTimeout is how long a heartbeat may take to reach the cloud before the hub
// answers it locally and delegates it.
const DefaultForwardTimeout = 4 * time.Second

// maxLeaseBody bounds what is read of a Lease request or response; a Lease is well under 1 KiB.
const maxLeaseBody = 1 << 20

// Middleware handles the node's own Lease requests in front of the proxy (Next).
type Middleware struct {
	// NodeName is this hub's node; only its Lease is handled, everything else goes to Next.
	NodeName string
	// Healthy reports whether the cloud is reachable now.
	Healthy func() bool
	// Ready, if set, is waited for (up to ReadyWait) before the first decision, so that the
	// first health probe has decided between cloud and local answers.
	Ready     <-chan struct{}
	ReadyWait time.Duration
	// Mirror, if set (a coordinator is configured), receives every renewed Lease.
	Mirror *Mirror
	// ForwardTimeout bounds a heartbeat's trip to the cloud (default DefaultForwardTimeout);
	// it must be shorter than kubelet's own request timeout (10s) to leave time for a local answer.
	ForwardTimeout time.Duration
	// OnUndelivered, if set, is told when a heartbeat sent to the cloud got no answer in time
	// or a 5xx: the health checker re-probes at once instead of at its next interval, so a
	// pool leader cut from the cloud hands over within seconds (healthcheck.ReportFailure).
	OnUndelivered func()
	// Next is the proxy.
	Next    http.Handler
	Metrics *Metrics
	Logger  klog.Logger

	mu   sync.Mutex
	last *coordinationv1.Lease // the node's Lease as last written or read
}

// ServeHTTP implements http.Handler.
func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	collection, named := m.match(r)
	if !collection && !named {
		m.Next.ServeHTTP(w, r)
		return
	}
	m.waitReady()
	var body []byte
	if r.Method != http.MethodGet {
		var err error
		if body, err = readBody(r.Body); err != nil {
			writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
			return
		}
	}
	cloudTried := false
	if m.Healthy() {
		if m.forward(w, r, body) {
			return
		}
		cloudTried = true
	}
	if r.Method == http.MethodGet {
		m.localGet(w, r, cloudTried)
	} else {
		m.localWrite(w, r, body)
	}
}

// match tells whether r is a create of a Lease (collection) or a get/update of the node's own
// Lease (named). Watches and lists, and other nodes' Leases, are not handled.
func (m *Middleware) match(r *http.Request) (collection, named bool) {
	// The path first: every proxied request passes here, and few are Lease requests.
	rest, ok := strings.CutPrefix(r.URL.Path, leasesPath)
	switch {
	case !ok || r.URL.Query().Get("watch") != "":
		return false, false
	case rest == "" || rest == "/":
		return r.Method == http.MethodPost, false
	default:
		return false, rest == "/"+m.NodeName && (r.Method == http.MethodGet || r.Method == http.MethodPut)
	}
}

func (m *Middleware) waitReady() {
	if m.Ready == nil {
		return
	}
	select {
	case <-m.Ready:
		return
	default:
	}
	t := time.NewTimer(m.ReadyWait)
	defer t.Stop()
	select {
	case <-m.Ready:
	case <-t.C:
	}
}

// forward sends the request to the cloud through Next and answers kubelet with the cloud's
// response; it returns false, having written nothing, when the cloud could not be reached
// (no answer within ForwardTimeout, or a 5xx), so that the heartbeat is answered locally and
// delegated instead of being lost while the health checker has not noticed the cut yet.
//
// A write has the delegate annotation removed first: kubelet heartbeating directly is exactly
// what ends a delegation, and kubelet carries over whatever annotations the Lease it last read
// had (the leader's included).
func (m *Middleware) forward(w http.ResponseWriter, r *http.Request, body []byte) bool {
	logger := m.Logger.WithValues("node", m.NodeName, "method", r.Method)
	var sent *coordinationv1.Lease
	if r.Method != http.MethodGet {
		if l, err := decodeLease(body); err != nil {
			// Not ours to judge: kube-apiserver answers a malformed body.
			logger.V(2).Info("Forwarding a Lease write the hub cannot decode", "err", err)
		} else if l.Name == m.NodeName {
			sent = l
			if lease.IsDelegated(l) {
				l = l.DeepCopy()
				delete(l.Annotations, lease.DelegateHeartbeatAnnotation)
				mt := codec.MediaTypeJSON
				if codec.IsProtobuf(r.Header.Get("Content-Type")) {
					mt = codec.MediaTypeProtobuf
				}
				if b, err := encode(mt, l); err == nil {
					body, sent = b, l
					logger.Info("Kubelet heartbeats directly again; removing the delegate annotation from its Lease")
				} else {
					logger.Error(err, "Re-encoding the node's Lease without the delegate annotation; forwarding it as sent")
				}
			}
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), m.forwardTimeout())
	defer cancel()
	fr := r.Clone(ctx)
	if r.Method != http.MethodGet {
		fr.Body = io.NopCloser(bytes.NewReader(body))
		fr.ContentLength = int64(len(body))
		fr.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	rec := &buffer{header: http.Header{}}
	m.Next.ServeHTTP(rec, fr)
	if (rec.code == 0 || rec.code >= 500) && r.Context().Err() == nil {
		logger.Info("Could not deliver the node's heartbeat to the cloud; answering it locally", "code", rec.code, "timeout", ctx.Err() != nil)
		if m.OnUndelivered != nil {
			m.OnUndelivered()
		}
		return false
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	if rec.code == 0 {
		rec.code = http.StatusBadGateway
	}
	w.WriteHeader(rec.code)
	_, _ = w.Write(rec.body.Bytes())
	if rec.code/100 != 2 {
		return true
	}
	got := sent
	if l, err := decodeLease(rec.body.Bytes()); err == nil && l.Name == m.NodeName {
		got = l // carries the cloud's resourceVersion
	}
	if got == nil {
		return true
	}
	m.remember(got)
	if r.Method != http.MethodGet && m.Mirror != nil {
		m.Mirror.Record(got, false)
	}
	return true
}

func (m *Middleware) forwardTimeout() time.Duration {
	if m.ForwardTimeout > 0 {
		return m.ForwardTimeout
	}
	return DefaultForwardTimeout
}

// localGet answers a GET of the node's Lease while the cloud is unreachable: the Lease last
// written or read, else the coordinator's copy, else 404 (kubelet then creates it). When the
// cloud was tried (it is thought healthy but did not answer) and nothing is known, the answer
// is 504: the Lease most likely exists, and a 404 would only earn kubelet a conflicting create.
func (m *Middleware) localGet(w http.ResponseWriter, r *http.Request, cloudTried bool) {
	l := m.lastLease()
	if l == nil && m.Mirror != nil {
		if got, err := m.Mirror.Get(r.Context(), m.NodeName); err == nil {
			l = got
			// The coordinator's copy says delegated; kubelet's own Lease must not.
			delete(l.Annotations, lease.DelegateHeartbeatAnnotation)
			m.remember(l)
		} else if !errors.Is(err, lease.ErrNotFound) {
			m.Logger.V(2).Info("Reading the node's Lease from the coordinator", "node", m.NodeName, "err", err)
		}
	}
	if l == nil && cloudTried {
		m.count("get", http.StatusGatewayTimeout)
		writeStatus(w, http.StatusGatewayTimeout, metav1.StatusReasonTimeout,
			fmt.Sprintf("the cloud did not answer for lease %q in time and the hub has no copy", m.NodeName))
		return
	}
	if l == nil {
		m.count("get", http.StatusNotFound)
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound,
			fmt.Sprintf("leases.coordination.k8s.io %q not found (the cloud is unreachable and the hub has no copy)", m.NodeName))
		return
	}
	m.writeLease(w, r, http.StatusOK, l)
	m.count("get", http.StatusOK)
}

// localWrite accepts kubelet's create or update of its Lease while the cloud is unreachable and
// hands it to the coordinator as delegated. The Lease is answered as sent: kubelet keeps its
// resourceVersion, and once the cloud is back a stale one costs it a conflict and a re-read.
func (m *Middleware) localWrite(w http.ResponseWriter, r *http.Request, body []byte) {
	verb, code := "update", http.StatusOK
	if r.Method == http.MethodPost {
		verb, code = "create", http.StatusCreated
	}
	l, err := decodeLease(body)
	if err != nil {
		m.count(verb, http.StatusBadRequest)
		writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
		return
	}
	if l.Name != m.NodeName || (l.Namespace != "" && l.Namespace != corev1.NamespaceNodeLease) {
		// The hub vouches only for its own node's heartbeat.
		m.count(verb, http.StatusForbidden)
		writeStatus(w, http.StatusForbidden, metav1.StatusReasonForbidden,
			fmt.Sprintf("the hub of node %s answers only that node's Lease %s/%s while the cloud is unreachable, not %s/%s",
				m.NodeName, corev1.NamespaceNodeLease, m.NodeName, l.Namespace, l.Name))
		return
	}
	l.Namespace = corev1.NamespaceNodeLease
	delete(l.Annotations, lease.DelegateHeartbeatAnnotation)
	m.remember(l)
	if m.Mirror != nil {
		m.Mirror.Record(l, true)
	}
	m.writeLease(w, r, code, l)
	m.count(verb, code)
}

func (m *Middleware) writeLease(w http.ResponseWriter, r *http.Request, code int, l *coordinationv1.Lease) {
	mt := mediaTypeFor(r.Header.Get("Accept"))
	b, err := encode(mt, l)
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error())
		return
	}
	w.Header().Set("Content-Type", mt)
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func (m *Middleware) count(verb string, code int) {
	if m.Metrics != nil {
		m.Metrics.LocalAnswers.WithLabelValues(verb, strconv.Itoa(code)).Inc()
	}
}

func (m *Middleware) remember(l *coordinationv1.Lease) {
	m.mu.Lock()
	m.last = l.DeepCopy()
	m.mu.Unlock()
}

func (m *Middleware) lastLease() *coordinationv1.Lease {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last == nil {
		return nil
	}
	return m.last.DeepCopy()
}

func readBody(body io.ReadCloser) ([]byte, error) {
	if body == nil {
		return nil, nil
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, maxLeaseBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	if len(b) > maxLeaseBody {
		return nil, fmt.Errorf("a Lease body over %d bytes", maxLeaseBody)
	}
	return b, nil
}

func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, message string) {
	w.Header().Set("Content-Type", codec.MediaTypeJSON)
	w.WriteHeader(code)
	_, _ = w.Write(codec.Status(int32(code), reason, message))
}

// buffer holds a response from the proxy until the middleware decides what kubelet gets.
type buffer struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *buffer) Header() http.Header { return b.header }

func (b *buffer) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}

func (b *buffer) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	if b.body.Len()+len(p) > maxLeaseBody {
		return 0, fmt.Errorf("a Lease response over %d bytes", maxLeaseBody)
	}
	return b.body.Write(p)
}

// Flush does nothing: the response is sent whole once complete.
func (b *buffer) Flush() {}
