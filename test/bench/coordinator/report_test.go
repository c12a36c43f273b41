// Package coordinator_test benchmarks the coordinator client library (pkg/coordinator) against
// plain clientv3 on the same embedded etcd, and the memory of an embedded etcd member holding a
// pool's workload under churn. Nothing here runs during a plain `go test`: all work is in
// Benchmark functions (`make bench`). Results also go to _output/bench/coordinator.md.
package coordinator_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// report collects markdown sections written by the benchmarks; TestMain writes them out.
var report = struct {
	sync.Mutex
	sections map[string]string
}{sections: map[string]string{}}

func addSection(name, body string) {
	report.Lock()
	report.sections[name] = body
	report.Unlock()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if err := writeReport(); err != nil {
		fmt.Fprintln(os.Stderr, "writing the coordinator benchmark report:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func writeReport() error {
	report.Lock()
	defer report.Unlock()
	if len(report.sections) == 0 {
		return nil // plain go test, or benchmarks filtered out
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	dir := filepath.Join(root, "_output", "bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# yurt-coordinator benchmarks\n\n%s, %s/%s, %d CPUs, %s.\nProduced by `make bench` (test/bench/coordinator).\n\n",
		time.Now().UTC().Format(time.RFC3339), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	names := make([]string, 0, len(report.sections))
	for n := range report.sections {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b.WriteString(report.sections[n])
		b.WriteString("\n")
	}
	return os.WriteFile(filepath.Join(dir, "coordinator.md"), []byte(b.String()), 0o644)
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
