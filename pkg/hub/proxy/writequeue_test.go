package proxy

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestWriteQueueKeepsResponseOrder(t *testing.T) {
	var q writeQueue
	var mu sync.Mutex
	var order []string
	record := func(s string) func() { return func() { mu.Lock(); order = append(order, s); mu.Unlock() } }

	list := q.reserve(servicesRes)          // a list response started
	q.enqueue(servicesRes, record("event")) // an event of a watch started after it
	aborted := q.reserve(servicesRes)       // a response cut short
	q.enqueue(servicesRes, record("event2"))
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	if len(order) != 0 {
		t.Fatalf("work ran before the list's slot was filled: %v", order)
	}
	mu.Unlock()
	list(record("list"))
	list(record("twice")) // ignored
	aborted(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := q.wait(ctx); err != nil {
		t.Fatal(err)
	}
	if got := order; len(got) != 3 || got[0] != "list" || got[1] != "event" || got[2] != "event2" {
		t.Fatalf("order %v, want [list event event2]", got)
	}
}
