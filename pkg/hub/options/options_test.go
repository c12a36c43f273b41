package options

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	file := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	crt, key, ca, kc := file("node.crt"), file("node.key"), file("ca.crt"), file("kubeconfig")
	valid := func() *Options {
		o := NewOptions()
		o.ServerAddr = []string{"https://10.0.0.1:6443"}
		o.NodeName, o.NodePool = "edge-1", "pool-a"
		o.ClientCertificate, o.ClientKey, o.CertificateAuthority = crt, key, ca
		o.CacheDir = dir
		return o
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Options)
		want   []string // substrings of the errors, in any order; none = valid
	}{
		{"valid", func(*Options) {}, nil},
		{"two servers", func(o *Options) { o.ServerAddr = append(o.ServerAddr, "https://10.0.0.2:6443") }, nil},
		{"no server", func(o *Options) { o.ServerAddr = nil }, []string{"--server-addr: at least one"}},
		{"http server", func(o *Options) { o.ServerAddr = []string{"http://10.0.0.1:8080"} }, []string{"must be https"}},
		{"not a URL", func(o *Options) { o.ServerAddr = []string{"::::"} }, []string{"is not a URL"}},
		{"no node", func(o *Options) { o.NodeName = "" }, []string{"--node-name is required"}},
		{"bad node", func(o *Options) { o.NodeName = "Edge_1" }, []string{"--node-name \"Edge_1\""}},
		{"bad pool", func(o *Options) { o.NodePool = "-x" }, []string{"--nodepool"}},
		{"cert without key", func(o *Options) { o.ClientKey = "" }, []string{"must be given together"}},
		{"missing cert file", func(o *Options) { o.ClientCertificate = filepath.Join(dir, "nope") }, []string{"--client-certificate:", "no such file"}},
		{"no credentials", func(o *Options) { o.ClientCertificate, o.ClientKey = "", "" }, []string{"node credentials are required"}},
		{"two credential forms", func(o *Options) { o.Kubeconfig = kc }, []string{"give only one"}},
		{"kubeconfig only", func(o *Options) { o.ClientCertificate, o.ClientKey, o.Kubeconfig = "", "", kc }, nil},
		{"bootstrap token", func(o *Options) {
			o.ClientCertificate, o.ClientKey, o.BootstrapToken = "", "", "abcdef.0123456789abcdef"
		}, nil},
		{"bad bootstrap token", func(o *Options) { o.ClientCertificate, o.ClientKey, o.BootstrapToken = "", "", "abc.secret" }, []string{"--bootstrap-token", "abc.<redacted>"}},
		{"bootstrap without CA", func(o *Options) {
			o.ClientCertificate, o.ClientKey, o.CertificateAuthority, o.BootstrapToken = "", "", "", "abcdef.0123456789abcdef"
		}, []string{"needs --certificate-authority"}},
		{"no cache agents", func(o *Options) { o.CacheAgents = nil }, []string{"--cache-agents: name at least one"}},
		{"bad cache agent", func(o *Options) { o.CacheAgents = []string{"kubelet", "../x"} }, []string{"--cache-agents: \"../x\""}},
		{"all agents", func(o *Options) { o.CacheAgents = []string{"*"} }, nil},
		{"non-loopback proxy", func(o *Options) { o.ProxyAddress = "0.0.0.0:10261" }, []string{"--proxy-address", "--allow-non-loopback-proxy"}},
		{"non-loopback proxy allowed", func(o *Options) { o.ProxyAddress, o.AllowNonLoopbackBind = "0.0.0.0:10261", true }, nil},
		{"ipv6 loopback proxy", func(o *Options) { o.ProxyAddress = "[::1]:10261" }, nil},
		{"proxy without port", func(o *Options) { o.ProxyAddress = "127.0.0.1" }, []string{"--proxy-address", "not host:port"}},
		{"non-loopback server", func(o *Options) { o.ServerAddress = "10.1.1.1:10267" }, []string{"--server-address"}},
		{"zero interval", func(o *Options) { o.HeartbeatInterval = 0 }, []string{"--heartbeat-interval must be positive"}},
		{"threshold 0", func(o *Options) { o.HeartbeatHealthyThreshold = 0 }, []string{"--heartbeat-healthy-threshold"}},
		{"backoff below interval", func(o *Options) { o.HeartbeatMaxBackoff = 1 }, []string{"--heartbeat-max-backoff"}},
		{"coordinator https needs certs", func(o *Options) { o.Coordinator.Endpoints = []string{"https://10.0.0.5:2379"} },
			[]string{"--coordinator-ca-file is required", "--coordinator-cert-file is required"}},
		{"coordinator https with certs", func(o *Options) {
			o.Coordinator.Endpoints = []string{"https://10.0.0.5:2379"}
			o.Coordinator.CAFile, o.Coordinator.CertFile, o.Coordinator.KeyFile = ca, crt, key
		}, nil},
		{"coordinator cert file missing", func(o *Options) {
			o.Coordinator.Endpoints = []string{"https://10.0.0.5:2379"}
			o.Coordinator.CAFile, o.Coordinator.CertFile, o.Coordinator.KeyFile = ca, crt+".missing", key
		}, []string{"--coordinator-cert-file: stat"}},
		{"coordinator http loopback", func(o *Options) { o.Coordinator.Endpoints = []string{"http://127.0.0.1:2379"} }, nil},
		{"coordinator http remote", func(o *Options) { o.Coordinator.Endpoints = []string{"http://10.0.0.5:2379"} }, []string{"--coordinator-endpoints", "plain http to a non-loopback host"}},
		{"coordinator certs without endpoints", func(o *Options) { o.Coordinator.CAFile = ca }, []string{"need --coordinator-endpoints"}},
		{"coordinator without pool", func(o *Options) {
			o.Coordinator.Endpoints, o.NodePool = []string{"http://127.0.0.1:2379"}, ""
		}, []string{"--nodepool is required with --coordinator-endpoints"}},
		{"short election ttl", func(o *Options) {
			o.Coordinator.Endpoints, o.ElectionTTL = []string{"http://127.0.0.1:2379"}, time.Second
		}, []string{"--coordinator-election-ttl must be at least 2s"}},
		{"bad pool scope resource", func(o *Options) {
			o.Coordinator.Endpoints, o.PoolScopeResources = []string{"http://127.0.0.1:2379"}, []string{"services"}
		}, []string{"--pool-scope-resources: \"services\" is not group/version/resource"}},
		{"lease proxy certificate", func(o *Options) {
			o.Coordinator.Endpoints = []string{"http://127.0.0.1:2379"}
			o.LeaseProxyClientCertificate, o.LeaseProxyClientKey = crt, key
		}, nil},
		{"lease proxy kubeconfig", func(o *Options) {
			o.Coordinator.Endpoints, o.LeaseProxyKubeconfig = []string{"http://127.0.0.1:2379"}, kc
		}, nil},
		{"lease proxy certificate without key", func(o *Options) {
			o.Coordinator.Endpoints, o.LeaseProxyClientCertificate = []string{"http://127.0.0.1:2379"}, crt
		}, []string{"--lease-proxy-client-certificate and --lease-proxy-client-key must be given together"}},
		{"lease proxy both forms", func(o *Options) {
			o.Coordinator.Endpoints = []string{"http://127.0.0.1:2379"}
			o.LeaseProxyClientCertificate, o.LeaseProxyClientKey, o.LeaseProxyKubeconfig = crt, key, kc
		}, []string{"give only one of --lease-proxy-client-certificate"}},
		{"lease proxy without coordinator", func(o *Options) {
			o.LeaseProxyClientCertificate, o.LeaseProxyClientKey = crt, key
		}, []string{"--lease-proxy-* credentials need --coordinator-endpoints"}},
		{"lease proxy key missing", func(o *Options) {
			o.Coordinator.Endpoints = []string{"http://127.0.0.1:2379"}
			o.LeaseProxyClientCertificate, o.LeaseProxyClientKey = crt, key+".missing"
		}, []string{"--lease-proxy-client-key: stat"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := valid()
			tc.mutate(o)
			errs := o.Validate()
			var msgs []string
			for _, e := range errs {
				msgs = append(msgs, e.Error())
			}
			all := strings.Join(msgs, "\n")
			if len(tc.want) == 0 && len(errs) > 0 {
				t.Fatalf("unexpected errors:\n%s", all)
			}
			if len(tc.want) > 0 && len(errs) == 0 {
				t.Fatalf("no errors, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("errors lack %q:\n%s", w, all)
				}
			}
		})
	}
}

func TestLeaseProxyRESTConfig(t *testing.T) {
	o := NewOptions()
	o.CertificateAuthority = "/ca.crt"
	if cfg, err := o.LeaseProxyRESTConfig("https://10.0.0.1:6443"); err != nil || cfg != nil {
		t.Fatalf("without lease-proxy credentials: %v, %v; want nil, nil", cfg, err)
	}
	o.LeaseProxyClientCertificate, o.LeaseProxyClientKey = "/lp.crt", "/lp.key"
	cfg, err := o.LeaseProxyRESTConfig("https://10.0.0.1:6443")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://10.0.0.1:6443" || cfg.CertFile != "/lp.crt" || cfg.KeyFile != "/lp.key" || cfg.CAFile != "/ca.crt" {
		t.Fatalf("lease-proxy config: host %q cert %q key %q ca %q", cfg.Host, cfg.CertFile, cfg.KeyFile, cfg.CAFile)
	}
	if !o.LeaseProxyEnabled() {
		t.Fatal("LeaseProxyEnabled is false with a certificate")
	}
}

func TestCompleteTakesServerFromKubeconfig(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	data := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://10.9.9.9:6443/"}}]
users: [{name: u, user: {token: abc}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`
	if err := os.WriteFile(kc, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	o := NewOptions()
	o.Kubeconfig = kc
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	if len(o.ServerAddr) != 1 || o.ServerAddr[0] != "https://10.9.9.9:6443" {
		t.Fatalf("server from kubeconfig: %v", o.ServerAddr)
	}
}
