// Package election elects one leader per node pool among the pool's hubs, with
// go.etcd.io/etcd/client/v3/concurrency. Every candidate holds an etcd session (a lease kept
// alive by its process); the candidate whose key under /yurt/pools/<pool>/election is oldest
// leads. A leader that resigns hands over at once; a leader that crashes or loses the
// coordinator stops renewing its session, its lease expires within the TTL, and the next
// candidate's Campaign returns.
package election

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/coordinator"
)

// DefaultTTL is the default session TTL: how long a crashed leader can go unnoticed.
const DefaultTTL = 15 * time.Second

// ErrNoLeader is returned by Leader when nobody leads.
var ErrNoLeader = errors.New("the pool has no leader")

// Elector campaigns for and observes the leadership of the client's pool.
type Elector struct {
	client *coordinator.Client
	ttl    time.Duration
	prefix string
}

// New returns an elector; ttl <= 0 means DefaultTTL. etcd rounds the TTL up to whole seconds
// and to its minimum lease TTL (about 2s with default member settings).
func New(client *coordinator.Client, ttl time.Duration) *Elector {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Elector{client: client, ttl: ttl, prefix: coordinator.ElectionPrefix(client.Pool)}
}

// Leadership is held by the leader until Resign or until Done is closed.
type Leadership struct {
	session  *concurrency.Session
	election *concurrency.Election
	identity string
}

// Campaign blocks until this client (as client.Identity) leads the pool, or ctx ends. The
// returned leadership lasts until Resign, or until its session is lost (Done closes): the
// leader must then stop acting as leader at once and may campaign again.
func (e *Elector) Campaign(ctx context.Context) (*Leadership, error) {
	// The session outlives ctx on success, so it gets its own context; Resign ends it.
	session, err := concurrency.NewSession(e.client.Etcd, concurrency.WithTTL(int(math.Ceil(e.ttl.Seconds()))),
		concurrency.WithContext(context.WithoutCancel(ctx)))
	if err != nil {
		return nil, fmt.Errorf("creating an election session in pool %s: %w", e.client.Pool, err)
	}
	el := concurrency.NewElection(session, e.prefix)
	if err := el.Campaign(ctx, e.client.Identity); err != nil {
		closeSession(ctx, session)
		return nil, fmt.Errorf("campaigning for leader of pool %s: %w", e.client.Pool, err)
	}
	select {
	case <-session.Done():
		// Elected with a lease that expired meanwhile; the key is gone already.
		return nil, fmt.Errorf("campaigning for leader of pool %s: session expired while waiting", e.client.Pool)
	default:
	}
	klog.FromContext(ctx).Info("Became the pool's leader", "pool", e.client.Pool, "identity", e.client.Identity, "lease", session.Lease())
	return &Leadership{session: session, election: el, identity: e.client.Identity}, nil
}

func closeSession(ctx context.Context, s *concurrency.Session) {
	if err := s.Close(); err != nil {
		klog.FromContext(ctx).V(2).Info("Closing election session", "err", err)
	}
}

// Done is closed when the leadership is lost: the session's lease expired or was revoked, or
// the client was closed.
func (l *Leadership) Done() <-chan struct{} { return l.session.Done() }

// Guard holds while this leadership's election key exists; pass it to store.WithGuard so a
// deposed leader's writes are refused by etcd itself.
func (l *Leadership) Guard() clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(l.election.Key()), "=", l.election.Rev())
}

// Key is the leader's election key.
func (l *Leadership) Key() string { return l.election.Key() }

// Identity is the leader's identity.
func (l *Leadership) Identity() string { return l.identity }

// Resign gives up the leadership at once (the next candidate takes over without waiting for
// the TTL) and ends the session.
func (l *Leadership) Resign(ctx context.Context) error {
	err := l.election.Resign(ctx)
	if cerr := l.session.Close(); err == nil && cerr != nil && !errors.Is(cerr, context.Canceled) {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("resigning leadership: %w", err)
	}
	return nil
}

// Leader returns the current leader's identity, or ErrNoLeader.
func (e *Elector) Leader(ctx context.Context) (string, error) {
	id, _, err := e.leader(ctx)
	return id, err
}

func (e *Elector) leader(ctx context.Context) (string, int64, error) {
	resp, err := e.client.Etcd.Get(ctx, e.prefix+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return "", 0, fmt.Errorf("reading the leader of pool %s: %w", e.client.Pool, err)
	}
	if len(resp.Kvs) == 0 {
		return "", resp.Header.Revision, ErrNoLeader
	}
	return string(resp.Kvs[0].Value), resp.Header.Revision, nil
}

// Observe sends the leader's identity now and each time it changes ("" while nobody leads),
// until ctx ends; then the channel is closed. Errors are retried after a second; a slow reader
// only ever misses intermediate values, never the latest.
func (e *Elector) Observe(ctx context.Context) <-chan string {
	out := make(chan string, 1)
	go func() {
		defer close(out)
		last, sent := "", false
		for ctx.Err() == nil {
			id, rev, err := e.leader(ctx)
			if err != nil && !errors.Is(err, ErrNoLeader) {
				klog.FromContext(ctx).V(2).Info("Observing the pool's leader", "pool", e.client.Pool, "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
				continue
			}
			if !sent || id != last {
				select {
				case <-out: // drop a value the reader has not taken; the newest wins
				default:
				}
				out <- id
				last, sent = id, true
			}
			// Any change of the candidates may change the leader; re-read after one.
			wctx, cancel := context.WithCancel(ctx)
			wch := e.client.Etcd.Watch(clientv3.WithRequireLeader(wctx), e.prefix+"/", clientv3.WithPrefix(), clientv3.WithRev(rev+1))
			for resp := range wch {
				if resp.Err() != nil || len(resp.Events) > 0 {
					break
				}
			}
			cancel()
		}
	}()
	return out
}
