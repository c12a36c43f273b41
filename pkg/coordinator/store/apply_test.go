package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/watch"

	ct "github.com/yurt-edge/yurt/pkg/coordinator/coordinatortest"
	"github.com/yurt-edge/yurt/pkg/coordinator/store"
)

// Apply writes every change in order, several per transaction: a key repeated starts a new
// transaction (watchers see both of its changes), and etcd's per-transaction limits split
// long runs. Changes of one transaction share its revision, so the distinct revisions the
// watch reports count the transactions.
func TestApply(t *testing.T) {
	s, c, _ := newStore(t)
	ctx := ctxT(t)
	w, err := s.Watch(ctx, ct.ServicesGVR, "", 0, store.WatchOptions{Buffer: 500})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	for _, tc := range []struct {
		name    string
		changes []store.Change
		want    []string
		txns    int
	}{
		{
			name: "a repeated key splits the transaction",
			changes: []store.Change{
				{Object: ct.Service("default", "a", "1")}, {Object: ct.Service("default", "b", "2")},
				{Object: ct.Service("default", "a", "3")}, {Namespace: "default", Name: "b"},
				{Namespace: "default", Name: "never-there"},
			},
			want: []string{"ADDED default/a@1", "ADDED default/b@2", "MODIFIED default/a@3", "DELETED default/b@2"},
			txns: 2,
		},
		{
			name: "more changes than one transaction takes",
			changes: func() []store.Change {
				var out []store.Change
				for i := range 150 {
					out = append(out, store.Change{Object: ct.Service("bulk", fmt.Sprintf("s-%03d", i), fmt.Sprint(i))})
				}
				return out
			}(),
			want: func() []string {
				var out []string
				for i := range 150 {
					out = append(out, fmt.Sprintf("ADDED bulk/s-%03d@%d", i, i))
				}
				return out
			}(),
			txns: 2,
		},
		{name: "nothing", txns: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rev, err := s.Apply(ctx, ct.ServicesGVR, tc.changes)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			revs := map[int64]bool{}
			timeout := time.After(30 * time.Second)
			for len(got) < len(tc.want) {
				select {
				case ev, ok := <-w.ResultChan():
					if !ok {
						t.Fatalf("watch ended: %v", w.Err())
					}
					if ev.Type == watch.Bookmark {
						continue
					}
					got = append(got, string(ev.Type)+" "+nameOf(ev.Object))
					revs[ev.Revision] = true
					if ev.Revision > rev {
						t.Errorf("event at revision %d after Apply returned %d", ev.Revision, rev)
					}
				case <-timeout:
					t.Fatalf("timed out; have %v", got)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("events:\n got %v\nwant %v", got, tc.want)
			}
			if len(revs) != tc.txns {
				t.Errorf("%d transactions, want %d", len(revs), tc.txns)
			}
		})
	}

	// Refused input and a failing guard write nothing.
	if _, err := s.Apply(ctx, ct.ServicesGVR, []store.Change{{Namespace: "default"}}); err == nil {
		t.Error("a delete without a name was accepted")
	}
	if _, err := c.Etcd.Put(ctx, "/guard", "x"); err != nil {
		t.Fatal(err)
	}
	fails := s.WithGuard(clientv3.Compare(clientv3.Value("/guard"), "=", "y"))
	if _, err := fails.Apply(ctx, ct.ServicesGVR, []store.Change{{Object: ct.Service("default", "c", "9")}}); !errors.Is(err, store.ErrGuardFailed) {
		t.Errorf("Apply with a failing guard: %v, want ErrGuardFailed", err)
	}
	if _, _, err := s.Get(ctx, ct.ServicesGVR, "default", "c"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("written despite the failing guard: %v", err)
	}
}
