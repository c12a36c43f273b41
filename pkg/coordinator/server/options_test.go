package server

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "x.pem")
	if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		mod  func(*Options)
		want string // "" = valid
	}{
		{"defaults", func(*Options) {}, ""},
		{"no pool", func(o *Options) { o.Pool = "" }, "--pool"},
		{"no data dir", func(o *Options) { o.Etcd.DataDir = "" }, "--data-dir"},
		{"plain http non-loopback", func(o *Options) { o.Etcd.ListenClientURLs = []string{"http://10.0.0.1:2379"} }, `--listen-client-urls: refusing plain http on non-loopback address "10.0.0.1:2379"`},
		{"plain http peer non-loopback", func(o *Options) { o.Etcd.ListenPeerURLs = []string{"http://0.0.0.0:2380"} }, "--listen-peer-urls"},
		{"https without certs", func(o *Options) { o.Etcd.ListenClientURLs = []string{"https://10.0.0.1:2379"} }, "--cert-file/--key-file/--trusted-ca-file are not set"},
		{"https with certs", func(o *Options) {
			o.Etcd.ListenClientURLs = []string{"https://10.0.0.1:2379"}
			o.AdvertiseClientURLs = o.Etcd.ListenClientURLs
			o.CertFile, o.KeyFile, o.TrustedCAFile = f, f, f
		}, ""},
		{"partial tls", func(o *Options) { o.CertFile = f }, "--key-file: required"},
		{"missing ca file", func(o *Options) { o.CertFile, o.KeyFile, o.TrustedCAFile = f, f, "/nonexistent/ca.crt" }, "--trusted-ca-file"},
		{"bad initial cluster", func(o *Options) { o.InitialCluster = "a" }, "--initial-cluster"},
		{"name not in cluster", func(o *Options) { o.InitialCluster = "other=http://127.0.0.1:2380" }, "no entry for this member"},
		{"two members", func(o *Options) {
			o.InitialCluster = "default=http://127.0.0.1:2380,b=http://127.0.0.1:2381"
		}, "2 members"},
		{"three members", func(o *Options) {
			o.InitialCluster = "default=http://127.0.0.1:2380,b=http://127.0.0.1:2381,c=http://127.0.0.1:2382"
		}, ""},
		{"bad cluster state", func(o *Options) { o.InitialClusterState = "old" }, "--initial-cluster-state"},
		{"zero quota", func(o *Options) { o.Etcd.QuotaBackendBytes = 0 }, "--quota-backend-bytes"},
		{"bad compaction", func(o *Options) { o.Etcd.AutoCompactionMode = "never" }, "--auto-compaction-mode"},
		{"bad retention", func(o *Options) { o.Etcd.AutoCompactionRetention = "-1s" }, "--auto-compaction-retention"},
		{"bad health", func(o *Options) { o.HealthAddress = "nowhere" }, "--health-address"},
		{"bad ratio", func(o *Options) { o.RecoverBelowRatio = 1.5 }, "--recover-below-ratio"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOptions()
			o.Pool, o.Etcd.DataDir = "pool-a", dir
			o.Etcd.ListenClientURLs = []string{"http://127.0.0.1:2379"}
			o.Etcd.ListenPeerURLs = []string{"http://127.0.0.1:2380"}
			tc.mod(o)
			if err := o.Complete(); err != nil {
				t.Fatal(err)
			}
			err := errors.Join(o.Validate()...)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				if _, err := o.Config(); err != nil {
					t.Fatalf("Config: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestConfigTLS(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "x.pem")
	_ = os.WriteFile(f, []byte("x"), 0o600)
	o := NewOptions()
	o.Pool, o.Etcd.DataDir = "pool-a", dir
	o.Etcd.ListenClientURLs = []string{"https://127.0.0.1:2379"}
	o.Etcd.ListenPeerURLs = []string{"https://127.0.0.1:2380"}
	o.CertFile, o.KeyFile, o.TrustedCAFile = f, f, f
	o.PeerCertFile, o.PeerKeyFile, o.PeerTrustedCAFile = f, f, f
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	c, err := o.Config()
	if err != nil {
		t.Fatal(err)
	}
	if !c.Etcd.ClientTLSInfo.ClientCertAuth || !c.Etcd.PeerTLSInfo.ClientCertAuth {
		t.Error("client certificate authentication must be on for clients and peers")
	}
	if c.Etcd.InitialClusterToken != "yurt-coordinator-pool-a" || c.Etcd.InitialCluster != "default=https://127.0.0.1:2380" {
		t.Errorf("token %q cluster %q", c.Etcd.InitialClusterToken, c.Etcd.InitialCluster)
	}
	if c.Etcd.UnsafeNoFsync {
		t.Error("fsync must be on")
	}
}
