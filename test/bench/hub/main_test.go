// Package hub_test benchmarks bin/yurthub against the real kube-apiserver of a local stack
// (pkg/localstack through test/e2e/framework), side by side in one run:
//
//   - BenchmarkHubLatency: p50/p99 of a get of one EndpointSlice and of a list of 1,000
//     EndpointSlices (protobuf, User-Agent kube-proxy), through the hub and directly to
//     kube-apiserver with the same node credentials, interleaved so both see the same load.
//   - BenchmarkHubRSS: the hub's resident memory once ready with nothing cached, and with the
//     anchor workload (1,000 Services × one 50-endpoint EndpointSlice each) listed and watched
//     by a client that does what kube-proxy does (client-go informers from the same release,
//     protobuf, kube-proxy's User-Agent and label selectors).
//   - BenchmarkPoolEgress: the bytes kube-apiserver sends to a pool of 20 hubs (counted by a TCP
//     forwarder in front of it) while EndpointSlices churn and every hub has a kube-proxy-like
//     watcher, without and with the pool's yurt-coordinator.
//
// Hubs run on the host's loopback, each with its own ports, certificate and cache directory.
// TestMain starts the stack only when benchmarks were asked for (-test.bench), so
// `go test ./...` stays fast here. The report goes to _output/bench/hub.md.
package hub_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

// serviceCIDR replaces the stack's /24 service range, which cannot hold 1,000 ClusterIPs.
const serviceCIDR = "10.96.0.0/16"

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run())
	}
	code := framework.Setup(m, func(o *localstack.Options) {
		o.KubeAPIServerArgs = append(o.KubeAPIServerArgs, "--service-cluster-ip-range="+serviceCIDR)
	})
	if err := writeReport(); err != nil {
		fmt.Fprintln(os.Stderr, "writing the hub benchmark report:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// report collects the markdown sections the benchmarks produce, written out by TestMain.
var report = struct {
	sync.Mutex
	sections map[string]string
}{sections: map[string]string{}}

func addSection(key, body string) {
	report.Lock()
	report.sections[key] = body
	report.Unlock()
}

func writeReport() error {
	report.Lock()
	defer report.Unlock()
	if len(report.sections) == 0 {
		return nil
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
	fmt.Fprintf(&b, "# yurthub benchmarks\n\n%s, %s/%s, %d CPUs, %s.\n", time.Now().UTC().Format(time.RFC3339),
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	b.WriteString("Produced by `make bench` (test/bench/hub); this package alone: " +
		"`go test -run '^$' -bench . -benchtime 1x -timeout 30m ./test/bench/hub/`.\n" +
		"Real kube-apiserver (bin/kube) on the project's embedded etcd, bin/yurthub, bin/yurt-coordinator, all on loopback.\n\n")
	// Sections in the order the benchmarks are declared.
	for _, key := range []string{"1-latency", "2-rss", "3-egress"} {
		if s, ok := report.sections[key]; ok {
			b.WriteString(s)
			b.WriteString("\n")
		}
	}
	return os.WriteFile(filepath.Join(dir, "hub.md"), []byte(b.String()), 0o644)
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
