package local

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func runDown(t *testing.T, dir string) string {
	t.Helper()
	var out bytes.Buffer
	o := NewDownOptions()
	o.Dir, o.Out = dir, &out
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	if errs := o.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if err := o.Run(context.Background()); err != nil {
		t.Fatalf("down: %v", err)
	}
	return out.String()
}

func TestDownWithNothingRunning(t *testing.T) {
	if out := runDown(t, t.TempDir()); !strings.Contains(out, "No local control plane is running") {
		t.Errorf("output: %q", out)
	}
}

func TestDownRemovesStalePIDFile(t *testing.T) {
	dir := t.TempDir()
	// A process that has exited and been reaped.
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, pidFileName)
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := runDown(t, dir); !strings.Contains(out, "stale pid file") {
		t.Errorf("output: %q", out)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("stale pid file left behind: %v", err)
	}
}

func TestDownDoesNotSignalAnUnrelatedProcess(t *testing.T) {
	dir := t.TempDir()
	sleeper := exec.Command("sleep", "30")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	if err := os.WriteFile(filepath.Join(dir, pidFileName), []byte(strconv.Itoa(sleeper.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	runDown(t, dir)
	if !processAlive(sleeper.Process.Pid) {
		t.Error("down signaled a process that is not yurtctl local up")
	}
}

func TestWritePIDFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), pidFileName)
	if err := writePIDFile(path); err != nil {
		t.Fatal(err)
	}
	pid, err := readPIDFile(path)
	if err != nil || pid != os.Getpid() {
		t.Fatalf("readPIDFile = %d, %v; want %d", pid, err, os.Getpid())
	}
	// Rewriting our own pid file is fine.
	if err := writePIDFile(path); err != nil {
		t.Fatal(err)
	}
}
