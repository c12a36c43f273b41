package heartbeat

import (
	"context"
	"strconv"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/coordinator/lease"
)

// maxRetryInterval caps the mirror's backoff: kubelet renews every 10s anyway.
const maxRetryInterval = 10 * time.Second

// Mirror writes the node's Lease to the pool's coordinator in the background, so kubelet's
// heartbeat never waits for the coordinator. Only the newest Lease matters: a write still
// pending when a newer one arrives is replaced, and a failed write is retried until a newer
// one replaces it.
type Mirror struct {
	leases  *lease.Store
	metrics *Metrics
	// Timeout bounds one coordinator write (default 5s); RetryInterval is the first retry's delay
	// after a failed write (default 1s), doubling up to 10s while writes keep failing.
	Timeout       time.Duration
	RetryInterval time.Duration

	mu        sync.Mutex
	pending   *coordinationv1.Lease
	delegated bool
	wake      chan struct{}
}

// NewMirror returns a mirror writing to leases; metrics may be nil.
func NewMirror(leases *lease.Store, metrics *Metrics) *Mirror {
	return &Mirror{leases: leases, metrics: metrics, wake: make(chan struct{}, 1)}
}

// Record queues l (the node's Lease) to be written with the delegate annotation set or
// removed. It never blocks.
func (m *Mirror) Record(l *coordinationv1.Lease, delegated bool) {
	m.mu.Lock()
	m.pending, m.delegated = l.DeepCopy(), delegated
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Get reads a node's Lease from the coordinator (lease.ErrNotFound when it has none).
func (m *Mirror) Get(ctx context.Context, node string) (*coordinationv1.Lease, error) {
	ctx, cancel := context.WithTimeout(ctx, m.timeout())
	defer cancel()
	return m.leases.Get(ctx, node)
}

func (m *Mirror) timeout() time.Duration {
	if m.Timeout > 0 {
		return m.Timeout
	}
	return 5 * time.Second
}

func (m *Mirror) retryInterval() time.Duration {
	if m.RetryInterval > 0 {
		return m.RetryInterval
	}
	return time.Second
}

// Run writes queued Leases until ctx ends.
func (m *Mirror) Run(ctx context.Context) {
	logger := klog.FromContext(ctx)
	var retry <-chan time.Time
	backoff := m.retryInterval()
	wasDelegated := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		case <-retry:
		}
		retry = nil
		m.mu.Lock()
		l, delegated := m.pending, m.delegated
		m.mu.Unlock()
		if l == nil {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, m.timeout())
		_, err := m.leases.Renew(wctx, l, delegated)
		cancel()
		if m.metrics != nil {
			result := "ok"
			if err != nil {
				result = "error"
			}
			m.metrics.MirrorWrites.WithLabelValues(strconv.FormatBool(delegated), result).Inc()
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// Without the coordinator nobody renews this node's Lease in the cloud while it is
			// cut off; say so, retrying with a backoff up to kubelet's renewal interval (a newer
			// Lease from kubelet retries at once).
			logger.Error(err, "Mirroring the node's Lease to the coordinator", "node", l.Name, "delegated", delegated, "retryIn", backoff)
			retry = time.After(backoff)
			backoff = min(2*backoff, maxRetryInterval)
			continue
		}
		backoff = m.retryInterval()
		if delegated != wasDelegated {
			if delegated {
				logger.Info("The cloud is unreachable: the node's Lease in the coordinator asks the pool leader to renew it", "node", l.Name)
			} else {
				logger.Info("The node heartbeats directly again: delegation ended in the coordinator", "node", l.Name)
			}
			wasDelegated = delegated
		}
		m.mu.Lock()
		if m.pending == l {
			m.pending = nil
		}
		m.mu.Unlock()
	}
}
