package localstack

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestProcessStopsOnSIGTERM(t *testing.T) {
	log := filepath.Join(t.TempDir(), "logs", "sleeper.log")
	p, err := StartProcess("sleeper", "/bin/sh", []string{"-c", "echo sta''rted; exec sleep 60"}, log)
	if err != nil {
		t.Fatal(err)
	}
	// The quotes keep "started" out of the command line, which the log's first line repeats.
	waitForLog(t, log, "started")
	if err := p.Stop(5 * time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("Done is open after Stop")
	}
	if !p.Stopping() {
		t.Error("Stopping is false after Stop")
	}
	if err := syscall.Kill(p.Pid(), 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("pid %d still exists after Stop: %v", p.Pid(), err)
	}
	// A second Stop is a no-op.
	if err := p.Stop(time.Second); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	st, err := os.Stat(log)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v, want 0600", st.Mode().Perm())
	}
}

func TestProcessKilledAfterTimeout(t *testing.T) {
	log := filepath.Join(t.TempDir(), "stubborn.log")
	// The shell ignores SIGTERM, and so does its child sleep, which is in the same group.
	p, err := StartProcess("stubborn", "/bin/sh", []string{"-c", "trap '' TERM; echo sta''rted; sleep 60; echo done"}, log)
	if err != nil {
		t.Fatal(err)
	}
	waitForLog(t, log, "started")
	start := time.Now()
	err = p.Stop(300 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "was killed") {
		t.Fatalf("Stop = %v, want an error saying the process was killed", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Stop took %s", d)
	}
	// The whole group went: no sleep is left in it (once init has reaped the killed child).
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(-p.Pid(), 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still has members after SIGKILL", p.Pid())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestProcessExitIsReported(t *testing.T) {
	log := filepath.Join(t.TempDir(), "failing.log")
	p, err := StartProcess("failing", "/bin/sh", []string{"-c", "echo something went wrong; exit 3"}, log)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("process did not exit")
	}
	if p.ExitError() == nil || p.Stopping() {
		t.Errorf("ExitError = %v, Stopping = %v; want an error and false", p.ExitError(), p.Stopping())
	}
	msg := p.exitedError().Error()
	if !strings.Contains(msg, "exit status 3") || !strings.Contains(msg, "something went wrong") {
		t.Errorf("exit report lacks the status or the log: %s", msg)
	}
}

func TestTailFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("a\nb\nc\nd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := TailFile(path, 2); got != "c\nd" {
		t.Errorf("TailFile = %q, want %q", got, "c\nd")
	}
	if got := TailFile(filepath.Join(t.TempDir(), "missing"), 2); !strings.Contains(got, "cannot read") {
		t.Errorf("TailFile of a missing file = %q", got)
	}
}

func waitForLog(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if data, _ := os.ReadFile(path); strings.Contains(string(data), want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never contained %q", path, want)
}
