// Package store keeps a pool's shared Kubernetes objects in the coordinator: put, delete, get,
// list, watch and replace (the leader's relist) per group/version/resource, plus the leader's
// per-resource sync markers that tell readers whether the data is fresh. Keys and value format
// are described in package coordinator.
//
// Writes can be guarded (WithGuard) by the leader's election key, so a hub that lost the
// leadership cannot overwrite its successor's data.
package store

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/coordinator"
	"github.com/yurt-edge/yurt/pkg/coordinator/codec"
)

// ErrGuardFailed is returned by a guarded write whose guard no longer holds: this client is
// not (or no longer) the leader.
var ErrGuardFailed = errors.New("coordinator write refused: the guard (leadership) no longer holds")

// ErrNotFound is returned by Get for a missing object.
var ErrNotFound = errors.New("object not found in the coordinator")

// Store reads and writes a pool's objects. It is safe for concurrent use.
type Store struct {
	client *coordinator.Client
	codec  *codec.Codec
	guard  []clientv3.Cmp
}

// New returns a store of client's pool. codec may be nil (client-go's scheme).
func New(client *coordinator.Client, c *codec.Codec) *Store {
	if c == nil {
		c = codec.New(nil)
	}
	return &Store{client: client, codec: c}
}

// WithGuard returns a store whose writes only happen while every cmp holds (typically
// election.Leadership.Guard()); otherwise they fail with ErrGuardFailed.
func (s *Store) WithGuard(cmps ...clientv3.Cmp) *Store {
	cp := *s
	cp.guard = append(append([]clientv3.Cmp(nil), s.guard...), cmps...)
	return &cp
}

// Skipped is a value that could not be decoded and was left out of a result.
type Skipped struct {
	Key string
	// ModRevision is the etcd revision the bad value was written at.
	ModRevision int64
	Err         error
}

func (s Skipped) String() string {
	return fmt.Sprintf("%s (revision %d): %v", s.Key, s.ModRevision, s.Err)
}

// ReportSkipped logs and counts a skipped value.
func ReportSkipped(ctx context.Context, m *coordinator.Metrics, kind string, sk Skipped) {
	klog.FromContext(ctx).Error(sk.Err, "Skipping a coordinator value that cannot be decoded", "kind", kind, "key", sk.Key, "modRevision", sk.ModRevision)
	m.CorruptValue(kind)
}

// txn runs ops if the guard holds.
func (s *Store) txn(ctx context.Context, ops ...clientv3.Op) (*clientv3.TxnResponse, error) {
	resp, err := s.client.Etcd.Txn(ctx).If(s.guard...).Then(ops...).Commit()
	if err != nil {
		return nil, err
	}
	if !resp.Succeeded {
		return nil, ErrGuardFailed
	}
	return resp, nil
}

// Put writes obj (as it is, with its cloud metadata.resourceVersion) under its namespace and
// name and returns the etcd revision of the write.
func (s *Store) Put(ctx context.Context, gvr schema.GroupVersionResource, obj runtime.Object) (int64, error) {
	key, value, err := s.encode(gvr, obj)
	if err != nil {
		return 0, err
	}
	if len(s.guard) == 0 {
		// Unguarded, a plain put is one request without a transaction's compare step.
		resp, err := s.client.Etcd.Put(ctx, key, string(value))
		if err != nil {
			return 0, fmt.Errorf("writing %s to the coordinator: %w", key, err)
		}
		return resp.Header.Revision, nil
	}
	resp, err := s.txn(ctx, clientv3.OpPut(key, string(value)))
	if err != nil {
		return 0, fmt.Errorf("writing %s to the coordinator: %w", key, err)
	}
	return resp.Header.Revision, nil
}

func (s *Store) encode(gvr schema.GroupVersionResource, obj runtime.Object) (string, []byte, error) {
	if err := coordinator.ValidateGVR(gvr); err != nil {
		return "", nil, err
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return "", nil, fmt.Errorf("writing a %s: %w", gvr.Resource, err)
	}
	if m.GetName() == "" {
		return "", nil, fmt.Errorf("writing a %s: metadata.name is required", gvr.Resource)
	}
	value, err := s.codec.Encode(obj)
	if err != nil {
		return "", nil, fmt.Errorf("writing %s %s/%s: %w", gvr.Resource, m.GetNamespace(), m.GetName(), err)
	}
	return coordinator.ObjectKey(s.client.Pool, gvr, m.GetNamespace(), m.GetName()), value, nil
}

// Delete removes an object; namespace "" is cluster-scoped. It reports whether it existed.
func (s *Store) Delete(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (bool, error) {
	if err := coordinator.ValidateGVR(gvr); err != nil {
		return false, err
	}
	key := coordinator.ObjectKey(s.client.Pool, gvr, namespace, name)
	resp, err := s.txn(ctx, clientv3.OpDelete(key))
	if err != nil {
		return false, fmt.Errorf("deleting %s from the coordinator: %w", key, err)
	}
	return resp.Responses[0].GetResponseDeleteRange().Deleted > 0, nil
}

// Get reads one object. A value that cannot be decoded is reported and returned as an error,
// never as an object.
func (s *Store) Get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (runtime.Object, int64, error) {
	if err := coordinator.ValidateGVR(gvr); err != nil {
		return nil, 0, err
	}
	key := coordinator.ObjectKey(s.client.Pool, gvr, namespace, name)
	resp, err := s.client.Etcd.Get(ctx, key)
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s from the coordinator: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, resp.Header.Revision, fmt.Errorf("%s %s/%s: %w", gvr.Resource, namespace, name, ErrNotFound)
	}
	kv := resp.Kvs[0]
	obj, err := s.decode(coordinator.ObjectsPrefix(s.client.Pool, gvr, ""), kv.Key, kv.Value)
	if err != nil {
		sk := Skipped{Key: key, ModRevision: kv.ModRevision, Err: err}
		ReportSkipped(ctx, s.client.Metrics, "object", sk)
		return nil, resp.Header.Revision, fmt.Errorf("reading %s: corrupt value: %w", key, err)
	}
	return obj, resp.Header.Revision, nil
}

// decode decodes a value and checks it belongs under its key.
func (s *Store) decode(resourcePrefix string, key, value []byte) (runtime.Object, error) {
	ns, name, err := coordinator.ParseObjectKey(resourcePrefix, string(key))
	if err != nil {
		return nil, err
	}
	obj, err := s.codec.Decode(value)
	if err != nil {
		return nil, err
	}
	m, _ := meta.Accessor(obj) // Decode guarantees object metadata.
	if m.GetNamespace() != ns || m.GetName() != name {
		return nil, fmt.Errorf("value holds %s/%s, not the object its key names", m.GetNamespace(), m.GetName())
	}
	return obj, nil
}
