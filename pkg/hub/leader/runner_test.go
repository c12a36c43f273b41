package leader

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yurt-edge/yurt/pkg/coordinator/coordinatortest"
	"github.com/yurt-edge/yurt/pkg/coordinator/election"
)

// TestRunnerHandsOverWhenIneligible: of two hubs exactly one leads and runs the task; when the
// leader loses the cloud its task ends and the other hub takes over at once (resign, no TTL wait).
func TestRunnerHandsOverWhenIneligible(t *testing.T) {
	e := coordinatortest.Start(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	type hub struct {
		r        *Runner
		eligible atomic.Bool
		running  atomic.Int32
	}
	hubs := make([]*hub, 2)
	done := make(chan struct{}, 2)
	for i, name := range []string{"node-a", "node-b"} {
		h := &hub{}
		h.eligible.Store(i == 0) // node-b may lead only later
		h.r = &Runner{
			Elector:       election.New(e.NewClient(t, "pool-a", name, nil), 5*time.Second),
			Eligible:      h.eligible.Load,
			RetryInterval: 100 * time.Millisecond,
		}
		h.r.Add(func(ctx context.Context, l *election.Leadership) {
			if l.Identity() != name {
				t.Errorf("task of %s got leadership of %s", name, l.Identity())
			}
			h.running.Add(1)
			<-ctx.Done()
			h.running.Add(-1)
		})
		hubs[i] = h
		go func() { h.r.Run(ctx); done <- struct{}{} }()
	}
	waitFor(t, "node-a leads", func() bool { return hubs[0].r.Leading() && hubs[0].running.Load() == 1 })
	hubs[1].eligible.Store(true)
	hubs[1].r.EligibilityChanged()
	time.Sleep(500 * time.Millisecond)
	if hubs[1].r.Leading() {
		t.Fatal("node-b leads while node-a still does")
	}

	start := time.Now()
	hubs[0].eligible.Store(false)
	hubs[0].r.EligibilityChanged()
	waitFor(t, "node-b takes over", func() bool { return hubs[1].r.Leading() && hubs[1].running.Load() == 1 })
	if hubs[0].r.Leading() || hubs[0].running.Load() != 0 {
		t.Fatal("node-a still leads or runs its task after losing eligibility")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("handover took %s; a resign should not wait for the 5s TTL", d)
	}
	cancel()
	for range hubs {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
	}
	if hubs[1].running.Load() != 0 {
		t.Fatal("task still running after Run returned")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
