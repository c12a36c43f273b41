package heartbeat

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/klog/v2/ktesting"

	"github.com/yurt-edge/yurt/pkg/coordinator"
	ct "github.com/yurt-edge/yurt/pkg/coordinator/coordinatortest"
	"github.com/yurt-edge/yurt/pkg/coordinator/lease"
)

// TestMirrorKeepsNewestAndRetries: only the newest Lease is written, and a write the
// coordinator refuses (here: its connection is closed) is retried rather than dropped.
func TestMirrorKeepsNewestAndRetries(t *testing.T) {
	etcd := ct.Start(t, nil)
	client := etcd.NewClient(t, pool, node, coordinator.NewMetrics(nil))
	leases := lease.New(client, 0)
	met, _ := NewMetrics(nil)
	m := NewMirror(leases, met)
	m.RetryInterval, m.Timeout = 50*time.Millisecond, 500*time.Millisecond
	_, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })

	// Queued before Run: the first two are replaced by the third.
	base := time.Now().Truncate(time.Microsecond)
	m.Record(ct.Lease(node, "1", base), false)
	m.Record(ct.Lease(node, "2", base.Add(time.Second)), false)
	m.Record(ct.Lease(node, "3", base.Add(2*time.Second)), true)
	go func() { defer close(done); m.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := leases.Get(ctx, node)
		if err == nil && got.ResourceVersion == "3" && lease.IsDelegated(got) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("coordinator copy: %+v, %v; want the newest Lease, delegated", got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := testutil.ToFloat64(met.MirrorWrites.WithLabelValues("true", "ok")) + testutil.ToFloat64(met.MirrorWrites.WithLabelValues("false", "ok")); n != 1 {
		t.Errorf("%v writes, want 1 (older pending Leases replaced)", n)
	}

	// The coordinator connection goes away: the write fails and is retried.
	_ = client.Close()
	m.Record(ct.Lease(node, "4", base.Add(3*time.Second)), true)
	deadline = time.Now().Add(20 * time.Second)
	for testutil.ToFloat64(met.MirrorWrites.WithLabelValues("true", "error")) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("failed writes: %v, want retries", testutil.ToFloat64(met.MirrorWrites.WithLabelValues("true", "error")))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
