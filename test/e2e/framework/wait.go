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

// HoldsFor checks cond every second for duration and fails t the first time it does not hold:
// for states that must persist (a node stays Ready through a cut), not ones to wait for.
func HoldsFor(t testing.TB, duration time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(duration)
	for {
		if ok, err := cond(); !ok {
			t.Fatalf("%s stopped holding after %s: %v", what, duration-time.Until(deadline), err)
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(time.Second)
	}
}
