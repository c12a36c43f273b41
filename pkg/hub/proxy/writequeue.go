package proxy

import (
	"context"
	"sync"

	"github.com/yurt-edge/yurt/pkg/hub/cache"
)

// queueDepth bounds the cache updates waiting per resource; beyond it the response stream
// that produces them waits (backpressure) rather than memory growing without bound.
const queueDepth = 1024

// writeQueue applies cache updates off the response path, in order per resource: a slot is
// reserved when a response starts (before the client can see it and send its next request),
// and its work runs only after every earlier slot's. So a list's replacement can never land
// after the events of the watch the client started once the list arrived.
type writeQueue struct {
	mu      sync.Mutex
	queues  map[cache.Resource]chan chan func()
	pending sync.WaitGroup
	// bodies lets the work of a repeated response be skipped; it relies on the queue being
	// the only writer of each resource's cache entries.
	bodies bodyMemo
}

// reserve takes the next slot for r; the returned func must be called exactly once, with the
// work to do, or nil to give the slot up.
func (q *writeQueue) reserve(r cache.Resource) func(func()) {
	q.mu.Lock()
	if q.queues == nil {
		q.queues = map[cache.Resource]chan chan func(){}
	}
	slots, ok := q.queues[r]
	if !ok {
		slots = make(chan chan func(), queueDepth)
		q.queues[r] = slots
		go func() {
			for slot := range slots {
				if work := <-slot; work != nil {
					work()
				}
				q.pending.Done()
			}
		}()
	}
	q.pending.Add(1)
	q.mu.Unlock()
	slot := make(chan func(), 1)
	slots <- slot
	var once sync.Once
	return func(work func()) { once.Do(func() { slot <- work }) }
}

// enqueue runs work after everything already queued for r.
func (q *writeQueue) enqueue(r cache.Resource, work func()) { q.reserve(r)(work) }

// wait returns once every slot reserved so far has been handled, or ctx ends.
func (q *writeQueue) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { q.pending.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
