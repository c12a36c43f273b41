// Package coordinatortest starts a real embedded etcd (pkg/embeddedetcd) on free loopback ports
// in a temporary directory, for tests and benchmarks of the coordinator client library.
package coordinatortest

import (
	"context"
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/yurt-edge/yurt/pkg/coordinator"
	"github.com/yurt-edge/yurt/pkg/embeddedetcd"
)

// Etcd is a running member and how to reach it.
type Etcd struct {
	Server    *embeddedetcd.Server
	Endpoints []string
}

// Start starts a single-member etcd that is stopped (and its directory removed) when tb ends.
// tune, when not nil, adjusts the options before start.
func Start(tb testing.TB, tune func(*embeddedetcd.Options)) *Etcd {
	tb.Helper()
	o := embeddedetcd.NewOptions(tb.TempDir())
	o.UnsafeNoFsync = true // throwaway data
	o.LogLevel = "error"
	if tune != nil {
		tune(o)
	}
	if err := o.Complete(); err != nil {
		tb.Fatalf("embedded etcd options: %v", err)
	}
	if errs := o.Validate(); len(errs) > 0 {
		tb.Fatalf("embedded etcd options: %v", errors.Join(errs...))
	}
	cfg, err := o.Config()
	if err != nil {
		tb.Fatalf("embedded etcd config: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := embeddedetcd.Start(ctx, cfg)
	if err != nil {
		tb.Fatalf("starting embedded etcd: %v", err)
	}
	tb.Cleanup(srv.Close)
	return &Etcd{Server: srv, Endpoints: srv.Endpoints()}
}

// NewEtcdClient returns a plain etcd client of e, closed when tb ends (closing it earlier is fine).
func (e *Etcd) NewEtcdClient(tb testing.TB) *clientv3.Client {
	tb.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: e.Endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		tb.Fatalf("etcd client: %v", err)
	}
	tb.Cleanup(func() { _ = cli.Close() })
	return cli
}

// NewClient returns a coordinator client of e for pool and identity, through New and its
// options (plain http on loopback), closed when tb ends.
func (e *Etcd) NewClient(tb testing.TB, pool, identity string, m *coordinator.Metrics) *coordinator.Client {
	tb.Helper()
	o := coordinator.NewOptions()
	o.Endpoints, o.Pool, o.Identity = e.Endpoints, pool, identity
	c, err := coordinator.New(o, m)
	if err != nil {
		tb.Fatalf("coordinator client: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}
