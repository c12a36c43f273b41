package lease_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/watch"

	coordinationv1 "k8s.io/api/coordination/v1"

	"github.com/yurt-edge/yurt/pkg/coordinator"
	"github.com/yurt-edge/yurt/pkg/coordinator/certs"
	ct "github.com/yurt-edge/yurt/pkg/coordinator/coordinatortest"
	"github.com/yurt-edge/yurt/pkg/coordinator/lease"
	"github.com/yurt-edge/yurt/pkg/coordinator/store"
)

const pool = "pool-a"

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestRenewAndDelegation(t *testing.T) {
	e := ct.Start(t, nil)
	ctx := ctxT(t)
	c := e.NewClient(t, pool, "hub-1", coordinator.NewMetrics(nil))
	s := lease.New(c, 0)
	for _, tc := range []struct {
		node      string
		delegated bool
	}{
		{"node-1", true},
		{"node-2", false},
		{"node-3", true},
	} {
		l := ct.Lease(tc.node, "77", time.Now())
		l.Annotations = map[string]string{"keep": "me"}
		if _, err := s.Renew(ctx, l, tc.delegated); err != nil {
			t.Fatal(err)
		}
		if _, ok := l.Annotations[lease.DelegateHeartbeatAnnotation]; ok {
			t.Error("Renew modified the caller's Lease")
		}
		got, err := s.Get(ctx, tc.node)
		if err != nil {
			t.Fatal(err)
		}
		if lease.IsDelegated(got) != tc.delegated || got.Annotations["keep"] != "me" || got.ResourceVersion != "77" ||
			!got.Spec.RenewTime.Equal(l.Spec.RenewTime) {
			t.Errorf("%s: stored %+v", tc.node, got.ObjectMeta)
		}
	}
	if got := leaseNames(t, s.ListDelegated); got != "[node-1 node-3]" {
		t.Errorf("ListDelegated = %s", got)
	}
	if got := leaseNames(t, s.List); got != "[node-1 node-2 node-3]" {
		t.Errorf("List = %s", got)
	}
	// Direct heartbeats resume: the annotation goes away.
	if _, err := s.Renew(ctx, ct.Lease("node-1", "78", time.Now()), false); err != nil {
		t.Fatal(err)
	}
	if got := leaseNames(t, s.ListDelegated); got != "[node-3]" {
		t.Errorf("ListDelegated after node-1 resumed = %s", got)
	}
	if err := s.Release(ctx, "node-3"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "node-3"); !errors.Is(err, lease.ErrNotFound) {
		t.Errorf("Get after Release: %v", err)
	}
	if _, err := s.Renew(ctx, &coordinationv1.Lease{}, false); err == nil {
		t.Error("Renew accepted a Lease without a name")
	}

	// Corrupt values: skipped, reported, never returned.
	for node, value := range map[string]string{
		"node-bad":   "junk",
		"node-other": mustEncodedLease(t, c, "node-1"), // node-1's lease under node-other's key
	} {
		if _, err := c.Etcd.Put(ctx, coordinator.LeaseKey(pool, node), value); err != nil {
			t.Fatal(err)
		}
	}
	before := testutil.ToFloat64(c.Metrics.CorruptValues.WithLabelValues("lease"))
	l, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 2 || len(l.Skipped) != 2 {
		t.Errorf("List with corrupt values: %d items, %d skipped (%v)", len(l.Items), len(l.Skipped), l.Skipped)
	}
	if _, err := s.Get(ctx, "node-bad"); err == nil {
		t.Error("Get returned a corrupt lease")
	}
	if got := testutil.ToFloat64(c.Metrics.CorruptValues.WithLabelValues("lease")) - before; got != 3 {
		t.Errorf("corrupt counter rose by %v, want 3", got)
	}
}

func mustEncodedLease(t *testing.T, c *coordinator.Client, node string) string {
	resp, err := c.Etcd.Get(context.Background(), coordinator.LeaseKey(pool, node))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("reading %s: %v", node, err)
	}
	return string(resp.Kvs[0].Value)
}

func leaseNames(t *testing.T, list func(context.Context) (*lease.ListResult, error)) string {
	t.Helper()
	l, err := list(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, i := range l.Items {
		out = append(out, i.Name)
	}
	return fmt.Sprint(out)
}

func TestLeaseExpiresWhenNotRenewed(t *testing.T) {
	e := ct.Start(t, nil)
	ctx := ctxT(t)
	const ttl = 2 * time.Second
	s := lease.New(e.NewClient(t, pool, "hub-1", nil), ttl)
	w := s.Watch(ctx, 0, store.WatchOptions{})
	defer w.Stop()

	// Renewed more often than the TTL, it stays for several TTLs.
	written := time.Now()
	for time.Since(written) < 3*ttl {
		if _, err := s.Renew(ctx, ct.Lease("node-1", "1", time.Now()), true); err != nil {
			t.Fatal(err)
		}
		time.Sleep(ttl / 4)
		if _, err := s.Get(ctx, "node-1"); err != nil {
			t.Fatalf("lease gone while renewed: %v", err)
		}
	}
	// Not renewed any more: gone after the TTL, with a Deleted event carrying the last Lease.
	stopped := time.Now()
	deadline := time.After(ttl + 5*time.Second)
	for {
		_, err := s.Get(ctx, "node-1")
		if errors.Is(err, lease.ErrNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-deadline:
			t.Fatalf("lease still there %s after the last renewal (TTL %s)", time.Since(stopped), ttl)
		case <-time.After(100 * time.Millisecond):
		}
	}
	gone := time.Since(stopped)
	if gone < ttl-ttl/4-500*time.Millisecond {
		t.Errorf("lease expired %s after the last renewal, before its TTL %s", gone, ttl)
	}
	t.Logf("lease expired %s after the last renewal (TTL %s)", gone.Round(time.Millisecond), ttl)
	var deleted bool
	timeout := time.After(10 * time.Second)
	for !deleted {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch ended: %v", w.Err())
			}
			if ev.Type == watch.Deleted {
				l := ev.Object.(*coordinationv1.Lease)
				if l.Name != "node-1" || !lease.IsDelegated(l) || ev.Name != "node-1" {
					t.Errorf("Deleted event with %+v", l.ObjectMeta)
				}
				deleted = true
			}
		case <-timeout:
			t.Fatal("no Deleted event for the expired lease")
		}
	}
	// A later heartbeat brings it back with a fresh etcd lease.
	if _, err := s.Renew(ctx, ct.Lease("node-1", "2", time.Now()), false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "node-1"); err != nil {
		t.Errorf("lease not back after a new heartbeat: %v", err)
	}
}

// TestProvenDelegationRoundTrip: a delegation written by a store with a Prover reads back from
// the coordinator with a proof the pool's verifier accepts (with a renewTime of nanosecond
// precision, which the stored Lease keeps only to the microsecond); a direct heartbeat drops it.
func TestProvenDelegationRoundTrip(t *testing.T) {
	e := ct.Start(t, nil)
	ctx := ctxT(t)
	c := e.NewClient(t, pool, "hub-1", coordinator.NewMetrics(nil))
	ca, err := certs.NewCA(pool, 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := certs.Files{Dir: dir}
	caCert, caKey := files.CA()
	if err := ca.Write(caCert, caKey); err != nil {
		t.Fatal(err)
	}
	hub, err := ca.SignHub(pool, "node-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	hc, hk := files.Hub("node-1")
	if err := hub.Write(hc, hk); err != nil {
		t.Fatal(err)
	}
	s := lease.New(c, 0)
	if s.Prover, err = lease.NewProver(pool, hc, hk); err != nil {
		t.Fatal(err)
	}
	v, err := lease.NewProofVerifier(pool, caCert)
	if err != nil {
		t.Fatal(err)
	}
	l := ct.Lease("node-1", "", time.Date(2026, 12, 1, 12, 0, 0, 123456789, time.UTC))
	if _, err := s.Renew(ctx, l, true); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "node-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(got); err != nil {
		t.Fatalf("the stored delegation does not verify: %v", err)
	}
	if _, err := s.Renew(ctx, l, false); err != nil {
		t.Fatal(err)
	}
	if got, err = s.Get(ctx, "node-1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Annotations[lease.ProofSignatureAnnotation]; ok || v.Verify(got) == nil {
		t.Errorf("a direct heartbeat kept a delegation proof: %v", got.Annotations)
	}
}
