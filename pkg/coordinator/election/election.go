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

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
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
	client   *clientv3.Client
	session  *concurrency.Session
	election *concurrency.Election
	identity string
}

// Campaign blocks until this client (as client.Identity) leads the pool, or ctx ends. The
// returned leadership lasts until Resign, or until its session is lost (Done closes): the
// leader must then stop acting as leader at once and may campaign again.
//
// It returns as soon as ctx ends, even when the coordinator is unreachable. That is why it
// does not use concurrency.NewSession's lease grant (made with the session's context, which
// must outlive ctx and so cannot be cancelled) nor concurrency.Election.Campaign (which, once
// interrupted, resigns with the client's own context and so waits for the coordinator until
// the client is closed): it grants the lease and waits for its turn with ctx, the way etcd's
// Campaign does, and hands the key to concurrency.ResumeElection once it leads.
func (e *Elector) Campaign(ctx context.Context) (*Leadership, error) {
	cli := e.client.Etcd
	ttl := int64(math.Ceil(e.ttl.Seconds()))
	grant, err := cli.Grant(ctx, ttl)
	if err != nil {
		return nil, fmt.Errorf("creating an election session in pool %s: %w", e.client.Pool, err)
	}
	// With a lease given, NewSession only starts keeping it alive; the session outlives ctx
	// on success, so it gets its own context, and Resign ends it.
	session, err := concurrency.NewSession(cli, concurrency.WithTTL(int(ttl)), concurrency.WithLease(grant.ID),
		concurrency.WithContext(context.WithoutCancel(ctx)))
	if err != nil {
		e.abandon(ctx, nil, grant.ID)
		return nil, fmt.Errorf("creating an election session in pool %s: %w", e.client.Pool, err)
	}
	key := fmt.Sprintf("%s/%x", e.prefix, grant.ID)
	resp, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, e.client.Identity, clientv3.WithLease(grant.ID))).Commit()
	if err == nil && !resp.Succeeded {
		err = fmt.Errorf("the fresh election key %s exists already", key)
	}
	if err == nil {
		err = waitOlderGone(ctx, cli, e.prefix+"/", resp.Header.Revision-1)
	}
	if err != nil {
		e.abandon(ctx, session, grant.ID)
		return nil, fmt.Errorf("campaigning for leader of pool %s: %w", e.client.Pool, err)
	}
	select {
	case <-session.Done():
		// Elected with a lease that expired meanwhile; the key is gone already.
		return nil, fmt.Errorf("campaigning for leader of pool %s: session expired while waiting", e.client.Pool)
	default:
	}
	klog.FromContext(ctx).Info("Became the pool's leader", "pool", e.client.Pool, "identity", e.client.Identity, "lease", session.Lease())
	return &Leadership{client: cli, session: session, election: concurrency.ResumeElection(session, e.prefix, key, resp.Header.Revision),
		identity: e.client.Identity}, nil
}

// abandon ends a campaign that did not win: it stops keeping the lease alive and revokes it
// (which deletes the candidate's key) in the background, bounded by the TTL (by then the
// lease has expired anyway), so an unreachable coordinator never holds the caller.
func (e *Elector) abandon(ctx context.Context, session *concurrency.Session, lease clientv3.LeaseID) {
	if session != nil {
		session.Orphan()
	}
	logger := klog.FromContext(ctx)
	go func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.ttl)
		defer cancel()
		if _, err := e.client.Etcd.Revoke(rctx, lease); err != nil {
			logger.V(2).Info("Revoking an abandoned election lease", "pool", e.client.Pool, "err", err)
		}
	}()
}

// waitOlderGone waits until no key under prefix was created at or before maxCreateRev: the
// candidates ahead of this one have all gone (as etcd's Campaign waits).
func waitOlderGone(ctx context.Context, cli *clientv3.Client, prefix string, maxCreateRev int64) error {
	opts := append(clientv3.WithLastCreate(), clientv3.WithMaxCreateRev(maxCreateRev))
	for {
		resp, err := cli.Get(ctx, prefix, opts...)
		if err != nil {
			return err
		}
		if len(resp.Kvs) == 0 {
			return nil
		}
		if err := waitDeleted(ctx, cli, string(resp.Kvs[0].Key), resp.Header.Revision); err != nil {
			return err
		}
	}
}

// waitDeleted waits until key is deleted after revision rev.
func waitDeleted(ctx context.Context, cli *clientv3.Client, key string, rev int64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for wr := range cli.Watch(clientv3.WithRequireLeader(wctx), key, clientv3.WithRev(rev+1)) {
		if err := wr.Err(); err != nil {
			return err
		}
		for _, ev := range wr.Events {
			if ev.Type == mvccpb.DELETE {
				return nil
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("the election watch ended (client closed?)")
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
// the TTL) and ends the session, within ctx: the lease is revoked with ctx, not with
// Session.Close's own TTL-long wait.
func (l *Leadership) Resign(ctx context.Context) error {
	err := l.election.Resign(ctx)
	l.session.Orphan()
	_, rerr := l.client.Revoke(ctx, l.session.Lease())
	if err == nil && rerr != nil && !errors.Is(rerr, context.Canceled) && !errors.Is(rerr, rpctypes.ErrLeaseNotFound) {
		err = rerr
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
