package store

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/yurt-edge/yurt/pkg/coordinator"
)

// listPageSize bounds one etcd range response, so a large resource does not need one huge message.
const listPageSize = 500

// ListResult is a consistent snapshot of a resource.
type ListResult struct {
	// Items in key order (namespace, then name).
	Items []runtime.Object
	// ModRevisions are the etcd revisions the items were last written at (parallel to Items).
	ModRevisions []int64
	// Revision is the etcd revision of the snapshot; Watch from it to follow changes.
	Revision int64
	// Skipped are values that could not be decoded (already logged and counted).
	Skipped []Skipped
}

// List reads every object of a resource in a namespace ("" = all namespaces and cluster-scoped
// ones) at one etcd revision, in pages.
func (s *Store) List(ctx context.Context, gvr schema.GroupVersionResource, namespace string) (*ListResult, error) {
	if err := coordinator.ValidateGVR(gvr); err != nil {
		return nil, err
	}
	resourcePrefix := coordinator.ObjectsPrefix(s.client.Pool, gvr, "")
	prefix := coordinator.ObjectsPrefix(s.client.Pool, gvr, namespace)
	out := &ListResult{}
	err := rangePages(ctx, s.client.Etcd, prefix, func(rev int64, key, value []byte, modRev int64) {
		out.Revision = rev
		obj, err := s.decode(resourcePrefix, key, value)
		if err != nil {
			sk := Skipped{Key: string(key), ModRevision: modRev, Err: err}
			ReportSkipped(ctx, s.client.Metrics, "object", sk)
			out.Skipped = append(out.Skipped, sk)
			return
		}
		out.Items = append(out.Items, obj)
		out.ModRevisions = append(out.ModRevisions, modRev)
	}, func(rev int64) { out.Revision = rev })
	if err != nil {
		return nil, fmt.Errorf("listing %s in the coordinator: %w", prefix, err)
	}
	return out, nil
}

// rangePages calls each for every key under prefix at one revision, reading listPageSize keys
// at a time; atRev is called with the snapshot revision once it is known.
func rangePages(ctx context.Context, cli *clientv3.Client, prefix string, each func(rev int64, key, value []byte, modRev int64), atRev func(int64)) error {
	end := clientv3.GetPrefixRangeEnd(prefix)
	start := prefix
	var rev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(listPageSize)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := cli.Get(ctx, start, opts...)
		if err != nil {
			return err
		}
		if rev == 0 {
			rev = resp.Header.Revision
			atRev(rev)
		}
		for _, kv := range resp.Kvs {
			each(rev, kv.Key, kv.Value, kv.ModRevision)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}
