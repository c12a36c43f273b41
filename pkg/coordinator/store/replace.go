package store

import (
	"bytes"
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/yurt-edge/yurt/pkg/coordinator"
)

// Batch limits of one transaction, below etcd's defaults (--max-txn-ops 128,
// --max-request-bytes 1.5 MiB) so a relist never trips them.
const (
	maxTxnOps   = 100
	maxTxnBytes = 1 << 20
)

// ReplaceResult counts what a Replace changed.
type ReplaceResult struct {
	Written, Deleted, Unchanged int
	// Revision is the etcd revision after the last write (the sync marker's).
	Revision int64
}

// Replace makes the stored objects of a resource (all namespaces) exactly items — the
// leader's relist — and then writes the sync marker with cloudResourceVersion (the cloud
// list's resourceVersion). Unchanged objects are not rewritten, so watchers see only real
// changes. Writes go in batches that fit etcd's transaction limits; the replace as a whole is
// not atomic, which is why the sync marker is written last: readers see the new cloud
// resourceVersion only once every object is in.
func (s *Store) Replace(ctx context.Context, gvr schema.GroupVersionResource, items []runtime.Object, cloudResourceVersion string) (*ReplaceResult, error) {
	if err := coordinator.ValidateGVR(gvr); err != nil {
		return nil, err
	}
	want := make(map[string][]byte, len(items))
	order := make([]string, 0, len(items))
	for _, obj := range items {
		key, value, err := s.encode(gvr, obj)
		if err != nil {
			return nil, fmt.Errorf("replacing %s: %w", gvr.Resource, err)
		}
		if _, dup := want[key]; !dup {
			order = append(order, key)
		}
		want[key] = value
	}
	prefix := coordinator.ObjectsPrefix(s.client.Pool, gvr, "")
	res := &ReplaceResult{}
	var stale []string
	have := make(map[string]bool, len(items))
	err := rangePages(ctx, s.client.Etcd, prefix, func(_ int64, key, value []byte, _ int64) {
		k := string(key)
		have[k] = true
		w, ok := want[k]
		switch {
		case !ok:
			stale = append(stale, k)
		case bytes.Equal(w, value):
			delete(want, k)
			res.Unchanged++
		}
	}, func(int64) {})
	if err != nil {
		return nil, fmt.Errorf("replacing %s: reading the stored objects: %w", gvr.Resource, err)
	}

	var ops []clientv3.Op
	size := 0
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		resp, err := s.txn(ctx, ops...)
		if err != nil {
			return fmt.Errorf("replacing %s: %w", gvr.Resource, err)
		}
		res.Revision = resp.Header.Revision
		ops, size = ops[:0], 0
		return nil
	}
	add := func(op clientv3.Op, n int) error {
		if len(ops) > 0 && (len(ops) >= maxTxnOps || size+n > maxTxnBytes) {
			if err := flush(); err != nil {
				return err
			}
		}
		ops = append(ops, op)
		size += n
		return nil
	}
	for _, key := range order {
		value, ok := want[key]
		if !ok {
			continue // unchanged
		}
		if err := add(clientv3.OpPut(key, string(value)), len(key)+len(value)); err != nil {
			return res, err
		}
		res.Written++
	}
	for _, key := range stale {
		if err := add(clientv3.OpDelete(key), len(key)); err != nil {
			return res, err
		}
		res.Deleted++
	}
	if err := flush(); err != nil {
		return res, err
	}
	rev, err := s.MarkSynced(ctx, gvr, cloudResourceVersion)
	if err != nil {
		return res, err
	}
	res.Revision = rev
	return res, nil
}
