package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/yurt-edge/yurt/pkg/coordinator"
	ct "github.com/yurt-edge/yurt/pkg/coordinator/coordinatortest"
	"github.com/yurt-edge/yurt/pkg/coordinator/store"
)

func TestSyncMarker(t *testing.T) {
	s, c, _ := newStore(t)
	ctx := ctxT(t)
	if _, err := s.SyncMarker(ctx, ct.ServicesGVR); !errors.Is(err, store.ErrNoSyncMarker) {
		t.Fatalf("marker before any write: %v, want ErrNoSyncMarker", err)
	}
	start := time.Now()
	rev, err := s.MarkSynced(ctx, ct.ServicesGVR, "4242")
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.SyncMarker(ctx, ct.ServicesGVR)
	if err != nil {
		t.Fatal(err)
	}
	if m.Holder != "hub-1" || m.CloudResourceVersion != "4242" || m.Revision != rev || m.Time.Before(start.Add(-time.Second)) {
		t.Errorf("marker %+v", m)
	}
	if _, err := s.SyncMarker(ctx, ct.EndpointSlicesGVR); !errors.Is(err, store.ErrNoSyncMarker) {
		t.Errorf("another resource's marker: %v, want ErrNoSyncMarker", err)
	}
	if !m.Fresh(time.Minute) {
		t.Error("a marker just written is not fresh")
	}
	for _, tc := range []struct {
		name   string
		m      *store.SyncMarker
		age    time.Duration
		maxAge time.Duration
		fresh  bool
	}{
		{"young", m, 5 * time.Second, 30 * time.Second, true},
		{"old", m, 31 * time.Second, 30 * time.Second, false},
		{"exactly max age", m, 30 * time.Second, 30 * time.Second, false},
		{"nil marker", nil, 0, time.Hour, false},
		{"zero time", &store.SyncMarker{Holder: "x"}, 0, time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Now()
			if tc.m != nil {
				now = tc.m.Time.Add(tc.age)
			}
			if got := tc.m.FreshAt(now, tc.maxAge); got != tc.fresh {
				t.Errorf("FreshAt = %v, want %v", got, tc.fresh)
			}
		})
	}

	// A corrupt marker is an error (so: not fresh), logged and counted.
	before := testutil.ToFloat64(c.Metrics.CorruptValues.WithLabelValues("syncmarker"))
	for _, bad := range []string{"garbage", `{"holder":"x"}`, `{"time":"2026-01-01T00:00:00Z"}`} {
		if _, err := c.Etcd.Put(ctx, coordinator.SyncKey(pool, ct.ServicesGVR), bad); err != nil {
			t.Fatal(err)
		}
		if m, err := s.SyncMarker(ctx, ct.ServicesGVR); err == nil {
			t.Errorf("corrupt marker %q read as %+v", bad, m)
		}
	}
	if got := testutil.ToFloat64(c.Metrics.CorruptValues.WithLabelValues("syncmarker")) - before; got != 3 {
		t.Errorf("corrupt marker counter rose by %v, want 3", got)
	}
}
