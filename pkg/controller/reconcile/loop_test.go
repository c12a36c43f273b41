package reconcile

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/component-base/metrics/testutil"
)

func TestLoopRetriesThenSucceeds(t *testing.T) {
	var calls atomic.Int32
	done := make(chan struct{})
	var once sync.Once
	l := NewLoop("test-retry", func(_ context.Context, key string) error {
		if calls.Add(1) < 3 {
			return errors.New("not yet")
		}
		once.Do(func() { close(done) })
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	go func() { l.Run(ctx, 2); close(finished) }()
	l.Add("a")
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("key not retried to success")
	}
	cancel()
	<-finished
	if got := calls.Load(); got != 3 {
		t.Errorf("sync called %d times, want 3", got)
	}
	errs, err := testutil.GetCounterMetricValue(reconcileTotal.WithLabelValues("test-retry", ResultError))
	if err != nil || errs != 2 {
		t.Errorf("error count = %v (%v), want 2", errs, err)
	}
	ok, err := testutil.GetCounterMetricValue(reconcileTotal.WithLabelValues("test-retry", ResultSuccess))
	if err != nil || ok != 1 {
		t.Errorf("success count = %v (%v), want 1", ok, err)
	}
}

func TestLoopCoalescesKeys(t *testing.T) {
	block := make(chan struct{})
	var calls atomic.Int32
	l := NewLoop("test-coalesce", func(context.Context, string) error {
		calls.Add(1)
		<-block
		return nil
	})
	// Added before the workers start: the three adds are one queue entry.
	l.Add("k")
	l.Add("k")
	l.Add("k")
	if l.Len() != 1 {
		t.Fatalf("queue length %d, want 1", l.Len())
	}
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	go func() { l.Run(ctx, 1); close(finished) }()
	close(block)
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-finished
	if calls.Load() != 1 {
		t.Errorf("sync called %d times, want 1", calls.Load())
	}
}
