package localstack

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"k8s.io/klog/v2"
)

// TestStartCoordinator starts bin/yurt-coordinator with mTLS and writes through it with the
// returned hub certificate.
func TestStartCoordinator(t *testing.T) {
	bin, _ := filepath.Abs(filepath.Join("..", "..", "bin"))
	if _, err := os.Stat(filepath.Join(bin, "yurt-coordinator")); err != nil {
		t.Fatalf("bin/yurt-coordinator is missing: go build -o bin/ ./cmd/yurt-coordinator (%v)", err)
	}
	s := &Stack{Dir: t.TempDir(), opts: Options{YurtBinDir: bin, StartTimeout: time.Minute, StopTimeout: 10 * time.Second},
		logger: klog.Background(), failed: make(chan error, 4), stopped: make(chan struct{})}
	t.Cleanup(func() { _ = s.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := s.StartCoordinator(ctx, "pool-a")
	if err != nil {
		t.Fatal(err)
	}
	tc, err := (transport.TLSInfo{CertFile: c.ClientCertFile, KeyFile: c.ClientKeyFile, TrustedCAFile: c.CAFile}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints, TLS: tc, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Put(ctx, "/k", "v"); err != nil {
		t.Fatalf("write with the hub certificate: %v", err)
	}
	if st, err := os.Stat(c.ClientKeyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("client key mode: %v %v", st, err)
	}
}
