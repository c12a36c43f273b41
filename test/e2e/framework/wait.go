package framework

import (
	"testing"
	"time"
)

// pollInterval is how often WaitFor checks its condition.
const pollInterval = 200 * time.Millisecond

// WaitFor polls cond until it returns true, failing t when timeout passes first. An error
// from cond does not end the wait (servers are often briefly unavailable in e2e tests); the
// last one is reported on timeout.
func WaitFor(t testing.TB, timeout time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ok, err := cond()
		if err == nil && ok {
			return
		}
		if err != nil {
			lastErr = err
		}
		if time.Now().After(deadline) {
			if lastErr != nil {
				t.Fatalf("condition not met within %s; last error: %v", timeout, lastErr)
			}
			t.Fatalf("condition not met within %s", timeout)
		}
		time.Sleep(pollInterval)
	}
}
