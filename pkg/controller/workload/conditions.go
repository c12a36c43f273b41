package workload

import (
	"fmt"
	"strings"
	"sync"
)

// maxListed bounds how many pools a condition message or event names; the rest are counted.
const maxListed = 10

// ListPools renders pool names for a message: "a, b, c" or "a, b, … (and 40 more)".
func ListPools(pools []string) string {
	if len(pools) <= maxListed {
		return strings.Join(pools, ", ")
	}
	return fmt.Sprintf("%s (and %d more)", strings.Join(pools[:maxListed], ", "), len(pools)-maxListed)
}

// DescribeRenderErrors joins per-pool render errors for a condition message.
func DescribeRenderErrors(errs []PoolError) string {
	parts := make([]string, 0, len(errs))
	for i, e := range errs {
		if i == maxListed {
			parts = append(parts, fmt.Sprintf("and %d more pools", len(errs)-maxListed))
			break
		}
		parts = append(parts, e.Error())
	}
	return strings.Join(parts, "; ")
}

// Reported remembers the last message reported per key, so a controller emits an event once
// per change even when its cache still shows the status from before its last write (the
// condition alone would let a quick second sync repeat the event).
type Reported struct {
	mu   sync.Mutex
	last map[string]string
}

// Changed records msg for key and says whether it differs from the last one recorded.
func (r *Reported) Changed(key, msg string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]string{}
	}
	prev, ok := r.last[key]
	r.last[key] = msg
	return !ok || prev != msg
}

// Forget drops what was recorded for key.
func (r *Reported) Forget(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.last, key)
}
