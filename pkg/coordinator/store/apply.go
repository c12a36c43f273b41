package store

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/yurt-edge/yurt/pkg/coordinator"
)

// Change is one write of Apply: Object is put under its namespace and name, or, when Object
// is nil, the object Namespace/Name ("" namespace = cluster-scoped) is deleted.
type Change struct {
	Object          runtime.Object
	Namespace, Name string
}

// Apply writes changes of one resource in order, in as few (guarded) transactions as it can:
// consecutive changes share a transaction up to etcd's limits (maxTxnOps, maxTxnBytes), and a
// change of a key the transaction already holds starts the next one, because etcd refuses a
// key twice in one transaction and every change must reach watchers, in order. One
// transaction costs the coordinator one commit (one fsync) however many changes it carries,
// which is what lets the leader keep up with a busy cloud on a slow disk. It returns the
// revision of the last transaction. After an error, the transactions before it stay written.
func (s *Store) Apply(ctx context.Context, gvr schema.GroupVersionResource, changes []Change) (int64, error) {
	if err := coordinator.ValidateGVR(gvr); err != nil {
		return 0, err
	}
	var rev int64
	var ops []clientv3.Op
	keys := map[string]bool{}
	size := 0
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		resp, err := s.txn(ctx, ops...)
		if err != nil {
			return fmt.Errorf("writing %d %s changes to the coordinator: %w", len(ops), gvr.Resource, err)
		}
		rev = resp.Header.Revision
		ops, size = ops[:0], 0
		clear(keys)
		return nil
	}
	for _, c := range changes {
		var key string
		var op clientv3.Op
		n := 0
		if c.Object != nil {
			k, value, err := s.encode(gvr, c.Object)
			if err != nil {
				return rev, err
			}
			key, op, n = k, clientv3.OpPut(k, string(value)), len(k)+len(value)
		} else {
			if c.Name == "" {
				return rev, fmt.Errorf("deleting a %s: the name is required", gvr.Resource)
			}
			key = coordinator.ObjectKey(s.client.Pool, gvr, c.Namespace, c.Name)
			op, n = clientv3.OpDelete(key), len(key)
		}
		if len(ops) > 0 && (keys[key] || len(ops) >= maxTxnOps || size+n > maxTxnBytes) {
			if err := flush(); err != nil {
				return rev, err
			}
		}
		ops = append(ops, op)
		keys[key] = true
		size += n
	}
	if err := flush(); err != nil {
		return rev, err
	}
	return rev, nil
}
