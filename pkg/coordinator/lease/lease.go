// Package lease keeps the pool's node heartbeats in the coordinator: each hub writes its node's
// coordination/v1 Lease under /yurt/pools/<pool>/leases/<node>, attached to an etcd lease with a
// TTL. Every write also renews that etcd lease, so the entry disappears TTL after the hub's last
// heartbeat — a dead or stuck hub is not vouched for. A hub that cannot reach the cloud writes
// its Lease with openyurt.io/delegate-heartbeat: "true", and the pool's leader renews those
// nodes' Leases in the cloud (ListDelegated).
package lease

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/yurt-edge/yurt/pkg/coordinator"
	"github.com/yurt-edge/yurt/pkg/coordinator/codec"
	"github.com/yurt-edge/yurt/pkg/coordinator/store"
)

// DelegateHeartbeatAnnotation on a Lease asks the pool's leader to renew it in the cloud.
const DelegateHeartbeatAnnotation = "openyurt.io/delegate-heartbeat"

// DefaultTTL matches the kubelet's node lease duration (40s).
const DefaultTTL = 40 * time.Second

// ErrNotFound is returned by Get when the node has no live lease in the coordinator.
var ErrNotFound = errors.New("node lease not found in the coordinator")

// IsDelegated reports whether a Lease asks for delegated heartbeats.
func IsDelegated(l *coordinationv1.Lease) bool {
	return l != nil && l.Annotations[DelegateHeartbeatAnnotation] == "true"
}

// Store reads and writes the pool's node leases. It is safe for concurrent use.
type Store struct {
	client *coordinator.Client
	codec  *codec.Codec
	ttl    time.Duration

	// Prover, if set, signs the Leases this store writes delegated (see ProofVerifier).
	Prover *Prover

	mu     sync.Mutex
	leases map[string]clientv3.LeaseID // node → etcd lease this store renews
}

// New returns a lease store of client's pool; ttl <= 0 means DefaultTTL (rounded up to seconds).
func New(client *coordinator.Client, ttl time.Duration) *Store {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Store{client: client, codec: codec.New(nil), ttl: ttl, leases: map[string]clientv3.LeaseID{}}
}

// Renew writes the node's Lease (l.Name is the node name) with the delegate annotation set
// when delegated and removed otherwise, and renews its etcd lease. l is not modified.
func (s *Store) Renew(ctx context.Context, l *coordinationv1.Lease, delegated bool) (int64, error) {
	if l == nil || l.Name == "" {
		return 0, fmt.Errorf("writing a node lease: metadata.name (the node name) is required")
	}
	node := l.Name
	l = l.DeepCopy()
	if delegated {
		if l.Annotations == nil {
			l.Annotations = map[string]string{}
		}
		l.Annotations[DelegateHeartbeatAnnotation] = "true"
		if s.Prover != nil {
			if err := s.Prover.prove(l); err != nil {
				return 0, fmt.Errorf("writing lease of node %s: %w", node, err)
			}
		}
	} else {
		delete(l.Annotations, DelegateHeartbeatAnnotation)
		delete(l.Annotations, ProofSignatureAnnotation)
		delete(l.Annotations, ProofCertificateAnnotation)
	}
	value, err := s.codec.Encode(l)
	if err != nil {
		return 0, fmt.Errorf("writing lease of node %s: %w", node, err)
	}
	id, err := s.liveLease(ctx, node)
	if err != nil {
		return 0, err
	}
	key := coordinator.LeaseKey(s.client.Pool, node)
	resp, err := s.client.Etcd.Put(ctx, key, string(value), clientv3.WithLease(id))
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		// Expired between the keep-alive and the put; start over with a fresh etcd lease.
		s.forget(node, id)
		if id, err = s.liveLease(ctx, node); err == nil {
			resp, err = s.client.Etcd.Put(ctx, key, string(value), clientv3.WithLease(id))
		}
	}
	if err != nil {
		return 0, fmt.Errorf("writing lease of node %s: %w", node, err)
	}
	return resp.Header.Revision, nil
}

// liveLease renews the node's etcd lease, or grants a new one when there is none or it expired.
func (s *Store) liveLease(ctx context.Context, node string) (clientv3.LeaseID, error) {
	s.mu.Lock()
	id, ok := s.leases[node]
	s.mu.Unlock()
	if ok {
		_, err := s.client.Etcd.KeepAliveOnce(ctx, id)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return 0, fmt.Errorf("renewing the etcd lease of node %s: %w", node, err)
		}
		s.forget(node, id)
	}
	grant, err := s.client.Etcd.Grant(ctx, int64(math.Ceil(s.ttl.Seconds())))
	if err != nil {
		return 0, fmt.Errorf("granting an etcd lease for node %s: %w", node, err)
	}
	s.mu.Lock()
	s.leases[node] = grant.ID
	s.mu.Unlock()
	return grant.ID, nil
}

func (s *Store) forget(node string, id clientv3.LeaseID) {
	s.mu.Lock()
	if s.leases[node] == id {
		delete(s.leases, node)
	}
	s.mu.Unlock()
}

// Release removes the node's lease now (revoking its etcd lease), e.g. when the hub shuts down
// cleanly or the node leaves the pool.
func (s *Store) Release(ctx context.Context, node string) error {
	s.mu.Lock()
	id, ok := s.leases[node]
	delete(s.leases, node)
	s.mu.Unlock()
	if ok {
		if _, err := s.client.Etcd.Revoke(ctx, id); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return fmt.Errorf("revoking the etcd lease of node %s: %w", node, err)
		}
	}
	if _, err := s.client.Etcd.Delete(ctx, coordinator.LeaseKey(s.client.Pool, node)); err != nil {
		return fmt.Errorf("deleting lease of node %s: %w", node, err)
	}
	return nil
}

// decode decodes a lease value and checks it is the Lease of the node its key names.
func (s *Store) decode(key, value []byte) (runtime.Object, error) {
	node, err := s.nodeOf(key)
	if err != nil {
		return nil, err
	}
	obj, err := s.codec.Decode(value)
	if err != nil {
		return nil, err
	}
	l, ok := obj.(*coordinationv1.Lease)
	if !ok {
		return nil, fmt.Errorf("value is a %T, not a coordination/v1 Lease", obj)
	}
	if l.Name != node {
		return nil, fmt.Errorf("value is the lease of %q, not of node %q", l.Name, node)
	}
	return l, nil
}

func (s *Store) nodeOf(key []byte) (string, error) {
	prefix := coordinator.LeasesPrefix(s.client.Pool)
	k := string(key)
	if len(k) <= len(prefix) || k[:len(prefix)] != prefix {
		return "", fmt.Errorf("key %q is not under %q", k, prefix)
	}
	return k[len(prefix):], nil
}

// Get reads a node's lease; ErrNotFound when it has none (never written, released or expired).
func (s *Store) Get(ctx context.Context, node string) (*coordinationv1.Lease, error) {
	key := coordinator.LeaseKey(s.client.Pool, node)
	resp, err := s.client.Etcd.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading lease of node %s: %w", node, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("node %s: %w", node, ErrNotFound)
	}
	obj, err := s.decode(resp.Kvs[0].Key, resp.Kvs[0].Value)
	if err != nil {
		store.ReportSkipped(ctx, s.client.Metrics, "lease", store.Skipped{Key: key, ModRevision: resp.Kvs[0].ModRevision, Err: err})
		return nil, fmt.Errorf("reading lease of node %s: corrupt value: %w", node, err)
	}
	return obj.(*coordinationv1.Lease), nil
}

// ListResult is the pool's live leases at one revision.
type ListResult struct {
	Items    []*coordinationv1.Lease
	Revision int64
	Skipped  []store.Skipped
}

// List returns every live lease of the pool.
func (s *Store) List(ctx context.Context) (*ListResult, error) {
	return s.list(ctx, func(*coordinationv1.Lease) bool { return true })
}

// ListDelegated returns the leases that ask for delegated heartbeats: the leader renews these
// nodes' Leases in the cloud.
func (s *Store) ListDelegated(ctx context.Context) (*ListResult, error) {
	return s.list(ctx, IsDelegated)
}

func (s *Store) list(ctx context.Context, keep func(*coordinationv1.Lease) bool) (*ListResult, error) {
	prefix := coordinator.LeasesPrefix(s.client.Pool)
	// Leases are small and a pool has at most a few thousand; one range is enough.
	resp, err := s.client.Etcd.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("listing node leases of pool %s: %w", s.client.Pool, err)
	}
	out := &ListResult{Revision: resp.Header.Revision}
	for _, kv := range resp.Kvs {
		obj, err := s.decode(kv.Key, kv.Value)
		if err != nil {
			sk := store.Skipped{Key: string(kv.Key), ModRevision: kv.ModRevision, Err: err}
			store.ReportSkipped(ctx, s.client.Metrics, "lease", sk)
			out.Skipped = append(out.Skipped, sk)
			continue
		}
		if l := obj.(*coordinationv1.Lease); keep(l) {
			out.Items = append(out.Items, l)
		}
	}
	return out, nil
}

// Watch follows the pool's leases from after fromRevision (a List's Revision; 0 = now). An
// expired or released lease is a Deleted event with the last Lease written. Events' Name is
// the node name and Namespace is empty (the Lease object carries its own namespace).
func (s *Store) Watch(ctx context.Context, fromRevision int64, opts store.WatchOptions) *store.Watcher {
	return store.WatchPrefix(ctx, s.client, coordinator.LeasesPrefix(s.client.Pool), fromRevision, opts, "lease", s.decode,
		func(key []byte) (string, string) {
			node, _ := s.nodeOf(key)
			return "", node
		})
}
