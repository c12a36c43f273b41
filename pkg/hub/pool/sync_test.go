package pool

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2/ktesting"

	"github.com/yurt-edge/yurt/pkg/coordinator"
	ct "github.com/yurt-edge/yurt/pkg/coordinator/coordinatortest"
	"github.com/yurt-edge/yurt/pkg/coordinator/store"
)

// The leader's store queues the reflector's changes: those queued while the writer is busy go
// out together (fewer transactions than changes), every change reaches the coordinator's
// watchers in order, the cloud resourceVersion is recorded only once the changes before it
// are written, and a failed (deposed) write stops the queue.
func TestReflectorStoreBatchesInOrder(t *testing.T) {
	e := ct.Start(t, nil)
	logger, ctx := ktesting.NewTestContext(t)
	c := e.NewClient(t, testPool, "hub-1", coordinator.NewMetrics(nil))
	if _, err := c.Etcd.Put(ctx, "/guard", "leader"); err != nil {
		t.Fatal(err)
	}
	st := store.New(c, nil).WithGuard(clientv3.Compare(clientv3.Value("/guard"), "=", "leader"))
	w, err := store.New(c, nil).Watch(ctx, ct.ServicesGVR, "", 0, store.WatchOptions{Buffer: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rs := newReflectorStore(rctx, cancel, st, ct.ServicesGVR, logger, nil)
	// Queued before the writer starts, as if one write were in flight meanwhile.
	var want []string
	for i := range 60 {
		name := fmt.Sprintf("s-%d", i%10) // each key changes 6 times
		if err := rs.Update(ct.Service("default", name, fmt.Sprint(100+i))); err != nil {
			t.Fatal(err)
		}
		typ := "MODIFIED"
		if i < 10 {
			typ = "ADDED"
		}
		want = append(want, fmt.Sprintf("%s %s@%d", typ, name, 100+i))
		rs.UpdateResourceVersion(fmt.Sprint(100 + i))
	}
	if err := rs.Delete(ct.Service("default", "s-0", "160")); err != nil {
		t.Fatal(err)
	}
	want = append(want, "DELETED s-0@150")
	rs.UpdateResourceVersion("161")
	if rs.rv != "" {
		t.Fatalf("resourceVersion %q recorded before anything was written", rs.rv)
	}
	done := make(chan struct{})
	go func() { defer close(done); rs.writeLoop() }()
	if err := rs.flush(); err != nil {
		t.Fatal(err)
	}
	rs.mu.Lock()
	rv := rs.rv
	rs.mu.Unlock()
	if rv != "161" {
		t.Errorf("resourceVersion after the writes: %q, want 161", rv)
	}

	var got []string
	revs := map[int64]bool{}
	timeout := time.After(30 * time.Second)
	for len(got) < len(want) {
		select {
		case ev := <-w.ResultChan():
			if ev.Type == watch.Bookmark {
				continue
			}
			got = append(got, fmt.Sprintf("%s %s@%s", ev.Type, ev.Name, resourceVersionOf(ev)))
			revs[ev.Revision] = true
		case <-timeout:
			t.Fatalf("timed out; have %v", got)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events:\n got %v\nwant %v", got, want)
	}
	// 10 keys changing in turn: a transaction per round of 10 (a key never twice in one), and
	// one for the delete of a key the last round changed. One per change would be 61.
	if len(revs) != 7 {
		t.Errorf("%d transactions for %d changes, want 7", len(revs), len(want))
	}

	// Deposed: the next write fails, the sync stops, and the store refuses more.
	if _, err := c.Etcd.Put(ctx, "/guard", "someone else"); err != nil {
		t.Fatal(err)
	}
	_ = rs.Update(ct.Service("default", "s-1", "200"))
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the writer did not stop after a refused write")
	}
	if err := rs.failure(); !errors.Is(err, store.ErrGuardFailed) {
		t.Errorf("failure %v, want ErrGuardFailed", err)
	}
	if err := rs.Update(ct.Service("default", "s-2", "201")); !errors.Is(err, store.ErrGuardFailed) {
		t.Errorf("Update after the failure: %v, want ErrGuardFailed", err)
	}
}

func resourceVersionOf(ev store.Event) string {
	m, ok := ev.Object.(interface{ GetResourceVersion() string })
	if !ok {
		return "?"
	}
	return m.GetResourceVersion()
}
