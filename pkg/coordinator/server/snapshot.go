package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"
)

// SaveSnapshot streams a snapshot of one member (the first endpoint) to out, using the pool
// CA and a client certificate when given.
func SaveSnapshot(ctx context.Context, endpoints []string, certFile, keyFile, caFile, out string) (string, error) {
	if len(endpoints) == 0 {
		return "", fmt.Errorf("--endpoints: at least one endpoint is required")
	}
	if out == "" {
		return "", fmt.Errorf("--out: a file is required")
	}
	cfg := clientv3.Config{Endpoints: endpoints[:1], DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
	if caFile != "" || certFile != "" {
		info := transport.TLSInfo{CertFile: certFile, KeyFile: keyFile, TrustedCAFile: caFile}
		var tc *tls.Config
		var err error
		if tc, err = info.ClientConfig(); err != nil {
			return "", fmt.Errorf("loading TLS files: %w", err)
		}
		cfg.TLS = tc
	}
	v, err := snapshot.NewV3(zap.NewNop()).Save(ctx, cfg, out)
	if err != nil {
		return "", fmt.Errorf("saving a snapshot of %s to %s: %w", endpoints[0], out, err)
	}
	return v, nil
}

// RestoreSnapshot makes a new member data directory from a snapshot file. Every member of the
// restored cluster is restored from the same file with its own name and peer URLs.
func RestoreSnapshot(file, dataDir, name, initialCluster, token string, peerURLs []string) error {
	switch {
	case file == "":
		return fmt.Errorf("a snapshot file is required")
	case dataDir == "":
		return fmt.Errorf("--data-dir: required")
	case name == "":
		return fmt.Errorf("--name: required")
	case len(peerURLs) == 0:
		return fmt.Errorf("--initial-advertise-peer-urls: required")
	}
	if initialCluster == "" {
		initialCluster = name + "=" + peerURLs[0]
	}
	if _, err := parseInitialCluster(initialCluster); err != nil {
		return err
	}
	err := snapshot.NewV3(zap.NewNop()).Restore(snapshot.RestoreConfig{
		SnapshotPath:        file,
		Name:                name,
		OutputDataDir:       dataDir,
		PeerURLs:            peerURLs,
		InitialCluster:      initialCluster,
		InitialClusterToken: token,
	})
	if err != nil {
		return fmt.Errorf("restoring %s into %s: %w", file, dataDir, err)
	}
	return nil
}
