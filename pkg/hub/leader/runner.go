// Package leader runs a hub's part in its pool's leader election. A hub campaigns only while
// it can reach the cloud (a leader that cannot reach the cloud can neither sync pool data nor
// renew other nodes' heartbeats), and while it leads it runs the leader's tasks, each with a
// context that ends the moment the leadership is lost, resigned or the hub loses the cloud.
package leader

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/coordinator/election"
)

// Task is work only the leader does. It must return soon after ctx ends; l.Guard() makes its
// coordinator writes conditional on still leading (store.WithGuard).
type Task func(ctx context.Context, l *election.Leadership)

// Runner campaigns for the pool's leadership and runs the tasks while leading.
type Runner struct {
	Elector *election.Elector
	// Eligible reports whether this hub may lead now (the cloud is reachable). Call
	// EligibilityChanged when it may have changed; it is also polled every RetryInterval.
	Eligible func() bool
	// RetryInterval spaces out campaigns after an error; default 1s.
	RetryInterval time.Duration
	// OnLeading, if set, is told when leading starts (true) and stops (false).
	OnLeading func(bool)

	tasks   []Task
	leading atomic.Bool
	wakeMu  sync.Mutex
	wake    chan struct{}
}

// Add registers a task; call before Run.
func (r *Runner) Add(t Task) { r.tasks = append(r.tasks, t) }

// Leading reports whether this hub leads its pool now.
func (r *Runner) Leading() bool { return r.leading.Load() }

// EligibilityChanged wakes the runner to re-check Eligible.
func (r *Runner) EligibilityChanged() {
	select {
	case r.wakeCh() <- struct{}{}:
	default:
	}
}

func (r *Runner) wakeCh() chan struct{} {
	r.wakeMu.Lock()
	defer r.wakeMu.Unlock()
	if r.wake == nil {
		r.wake = make(chan struct{}, 1)
	}
	return r.wake
}

func (r *Runner) retry() time.Duration {
	if r.RetryInterval > 0 {
		return r.RetryInterval
	}
	return time.Second
}

// waitEligible blocks until Eligible() holds; false when ctx ended first.
func (r *Runner) waitEligible(ctx context.Context) bool {
	for !r.eligible() {
		t := time.NewTimer(r.retry())
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-r.wakeCh():
		case <-t.C:
		}
		t.Stop()
	}
	return ctx.Err() == nil
}

func (r *Runner) eligible() bool { return r.Eligible == nil || r.Eligible() }

// cancelWhenIneligible cancels when Eligible() stops holding, until ctx ends.
func (r *Runner) cancelWhenIneligible(ctx context.Context, cancel context.CancelFunc) {
	for {
		t := time.NewTimer(r.retry())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-r.wakeCh():
		case <-t.C:
		}
		t.Stop()
		if !r.eligible() {
			cancel()
			return
		}
	}
}

// Run campaigns and leads until ctx ends, then resigns.
func (r *Runner) Run(ctx context.Context) {
	logger := klog.FromContext(ctx)
	for r.waitEligible(ctx) {
		termCtx, cancel := context.WithCancel(ctx)
		go r.cancelWhenIneligible(termCtx, cancel)
		l, err := r.Elector.Campaign(termCtx)
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return
			}
			logger.V(2).Info("Campaigning for pool leader", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(r.retry()):
			}
			continue
		}
		r.lead(termCtx, cancel, l)
	}
}

// lead runs the tasks until the leadership is lost or termCtx ends, then resigns.
func (r *Runner) lead(termCtx context.Context, cancel context.CancelFunc, l *election.Leadership) {
	logger := klog.FromContext(termCtx)
	r.leading.Store(true)
	if r.OnLeading != nil {
		r.OnLeading(true)
	}
	var wg sync.WaitGroup
	for _, t := range r.tasks {
		wg.Add(1)
		go func() { defer wg.Done(); t(termCtx, l) }()
	}
	select {
	case <-l.Done():
		logger.Info("Lost the pool leadership (coordinator session ended)")
	case <-termCtx.Done():
	}
	cancel()
	wg.Wait()
	r.leading.Store(false)
	if r.OnLeading != nil {
		r.OnLeading(false)
	}
	// Resign even when stopping, so a follower takes over at once instead of after the TTL.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(termCtx), 2*time.Second)
	defer rcancel()
	if err := l.Resign(rctx); err != nil {
		logger.V(2).Info("Resigning the pool leadership", "err", err)
	} else {
		logger.Info("Resigned the pool leadership")
	}
}
