// Package options holds yurthub's command-line options: NewOptions → AddFlags → Complete →
// Validate → Config.
package options

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/yurt-edge/yurt/pkg/coordinator"
	"github.com/yurt-edge/yurt/pkg/coordinator/election"
	"github.com/yurt-edge/yurt/pkg/hub/healthcheck"
)

// DefaultCacheAgents are the components whose responses are cached unless --cache-agents says otherwise.
var DefaultCacheAgents = []string{"kubelet", "kube-proxy", "coredns"}

// Options are yurthub's flags.
type Options struct {
	ServerAddr []string
	NodeName   string
	NodePool   string

	// Node credentials: a client certificate and key, or a kubeconfig, or a bootstrap token
	// (exchanged for a certificate written to CertDir).
	ClientCertificate    string
	ClientKey            string
	CertificateAuthority string
	Kubeconfig           string
	BootstrapToken       string
	CertDir              string

	CacheDir    string
	CacheAgents []string

	ProxyAddress         string
	AllowNonLoopbackBind bool
	ServerAddress        string

	HeartbeatInterval           time.Duration
	HeartbeatTimeout            time.Duration
	HeartbeatHealthyThreshold   int
	HeartbeatUnhealthyThreshold int
	HeartbeatMaxBackoff         time.Duration
	MaxWatchTimeout             time.Duration
	// ShortRequestsOverHTTP2 sends gets, lists and writes on the HTTP/2 connection the
	// watches use instead of HTTP/1.1 keep-alive connections of their own.
	ShortRequestsOverHTTP2 bool

	// Coordinator is how to reach the pool's yurt-coordinator (off without endpoints). Its
	// Pool and Identity are filled from --nodepool and --node-name by Complete.
	Coordinator *coordinator.Options
	// ElectionTTL is the pool-leader election session TTL: how long a crashed leader goes unnoticed.
	ElectionTTL time.Duration
	// PoolScopeResources are the resources (group/version/resource; core group as "v1/services")
	// the pool leader syncs into the coordinator and every hub serves from it.
	PoolScopeResources []string
	// PoolSyncMaxAge is how old the leader's sync marker may be before hubs stop trusting the
	// coordinator's copy and go to the cloud.
	PoolSyncMaxAge time.Duration

	// Heartbeat delegation: the identity the pool leader renews other nodes' Leases in the
	// cloud with (a client certificate and key, or a kubeconfig's credentials). Not the node's
	// own: the Node authorizer and NodeRestriction let a node write only its own Lease. Without
	// it this hub still mirrors its Lease to the coordinator but renews none as leader.
	LeaseProxyClientCertificate string
	LeaseProxyClientKey         string
	LeaseProxyKubeconfig        string
}

// DefaultPoolScopeResources are the pool-scoped resources unless --pool-scope-resources says otherwise.
var DefaultPoolScopeResources = []string{"v1/services", "discovery.k8s.io/v1/endpointslices"}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		CacheDir:                    "/var/lib/yurthub/cache",
		CertDir:                     "/var/lib/yurthub/pki",
		CacheAgents:                 append([]string(nil), DefaultCacheAgents...),
		ProxyAddress:                "127.0.0.1:10261",
		ServerAddress:               "127.0.0.1:10267",
		HeartbeatInterval:           10 * time.Second,
		HeartbeatTimeout:            2 * time.Second,
		HeartbeatHealthyThreshold:   2,
		HeartbeatUnhealthyThreshold: 3,
		HeartbeatMaxBackoff:         40 * time.Second,
		MaxWatchTimeout:             30 * time.Minute,
		Coordinator:                 coordinator.NewOptions(),
		ElectionTTL:                 election.DefaultTTL,
		PoolScopeResources:          append([]string(nil), DefaultPoolScopeResources...),
		PoolSyncMaxAge:              30 * time.Second,
	}
}

// AddFlags registers the options on fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&o.ServerAddr, "server-addr", o.ServerAddr, "Cloud kube-apiserver URLs (https), in priority order; the first healthy one is used. Defaults to the kubeconfig's server when --kubeconfig is given.")
	fs.StringVar(&o.NodeName, "node-name", o.NodeName, "Name of this node (required).")
	fs.StringVar(&o.NodePool, "nodepool", o.NodePool, "Name of the node's pool (apps.openyurt.io/nodepool).")
	fs.StringVar(&o.ClientCertificate, "client-certificate", o.ClientCertificate, "The node's client certificate (PEM) for the cloud.")
	fs.StringVar(&o.ClientKey, "client-key", o.ClientKey, "The key of --client-certificate (PEM).")
	fs.StringVar(&o.CertificateAuthority, "certificate-authority", o.CertificateAuthority, "CA bundle (PEM) that signed the cloud's serving certificates.")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "A kubeconfig holding the node's credentials for the cloud (instead of the certificate flags).")
	fs.StringVar(&o.BootstrapToken, "bootstrap-token", o.BootstrapToken, "A bootstrap token (id.secret) used once to obtain a node client certificate, written to --cert-dir.")
	fs.StringVar(&o.CertDir, "cert-dir", o.CertDir, "Where a certificate obtained with --bootstrap-token is kept.")
	fs.StringVar(&o.CacheDir, "cache-dir", o.CacheDir, "Directory of the on-disk cache.")
	fs.StringSliceVar(&o.CacheAgents, "cache-agents", o.CacheAgents, "Components (User-Agent up to the first '/') whose responses are cached; '*' caches every component.")
	fs.StringVar(&o.ProxyAddress, "proxy-address", o.ProxyAddress, "host:port of the plain-HTTP proxy for local components.")
	fs.BoolVar(&o.AllowNonLoopbackBind, "allow-non-loopback-proxy", o.AllowNonLoopbackBind, "Allow --proxy-address to be a non-loopback address. The proxy is plain HTTP and acts with the node's credentials, so anyone who reaches it acts as the node.")
	fs.StringVar(&o.ServerAddress, "server-address", o.ServerAddress, "host:port of /healthz, /readyz and /metrics.")
	fs.DurationVar(&o.HeartbeatInterval, "heartbeat-interval", o.HeartbeatInterval, "Interval between health probes of a cloud API server.")
	fs.DurationVar(&o.HeartbeatTimeout, "heartbeat-timeout", o.HeartbeatTimeout, "Timeout of one health probe.")
	fs.IntVar(&o.HeartbeatHealthyThreshold, "heartbeat-healthy-threshold", o.HeartbeatHealthyThreshold, "Consecutive successful probes that make an unhealthy server healthy again.")
	fs.IntVar(&o.HeartbeatUnhealthyThreshold, "heartbeat-failed-retry", o.HeartbeatUnhealthyThreshold, "Consecutive failed probes that make a healthy server unhealthy.")
	fs.DurationVar(&o.HeartbeatMaxBackoff, "heartbeat-max-backoff", o.HeartbeatMaxBackoff, "Longest interval between probes of a server that keeps failing.")
	fs.DurationVar(&o.MaxWatchTimeout, "max-watch-timeout", o.MaxWatchTimeout, "Longest a watch served from the cache is held open.")
	fs.BoolVar(&o.ShortRequestsOverHTTP2, "short-requests-over-http2", o.ShortRequestsOverHTTP2,
		"Send gets, lists and writes to the cloud multiplexed on the one HTTP/2 connection the watches use, instead of on HTTP/1.1 keep-alive connections of their own (one per concurrent request, up to 100 kept idle). HTTP/2 keeps one TCP/TLS connection per node at kube-apiserver, for fleets where that count matters; HTTP/1.1 answers a get about 0.1 ms sooner and never queues it behind a large list.")
	o.Coordinator.AddFlags(fs)
	fs.DurationVar(&o.ElectionTTL, "coordinator-election-ttl", o.ElectionTTL, "Session TTL of the pool-leader election: a crashed leader is replaced within it.")
	fs.StringSliceVar(&o.PoolScopeResources, "pool-scope-resources", o.PoolScopeResources, "Resources (group/version/resource, core as v1/<resource>) the pool leader syncs into the coordinator and hubs serve from it.")
	fs.DurationVar(&o.PoolSyncMaxAge, "pool-sync-max-age", o.PoolSyncMaxAge, "How old the leader's sync marker may be before hubs read pool-scoped resources from the cloud instead of the coordinator.")
	o.addLeaseProxyFlags(fs)
}

// Complete fills derived values: the server from the kubeconfig, absolute paths.
func (o *Options) Complete() error {
	if len(o.ServerAddr) == 0 && o.Kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
		if err != nil {
			return fmt.Errorf("--kubeconfig %s: %w", o.Kubeconfig, err)
		}
		o.ServerAddr = []string{cfg.Host}
	}
	for i, s := range o.ServerAddr {
		o.ServerAddr[i] = strings.TrimRight(strings.TrimSpace(s), "/")
	}
	for i, a := range o.CacheAgents {
		o.CacheAgents[i] = strings.TrimSpace(a)
	}
	for _, p := range []*string{&o.CacheDir, &o.CertDir} {
		if *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return err
			}
			*p = abs
		}
	}
	if o.Coordinator != nil {
		o.Coordinator.Pool, o.Coordinator.Identity = o.NodePool, o.NodeName
	}
	return nil
}

// Validate returns every problem with the options, each naming its flag.
func (o *Options) Validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if len(o.ServerAddr) == 0 {
		add("--server-addr: at least one cloud API server is required (or --kubeconfig)")
	}
	for _, s := range o.ServerAddr {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			add("--server-addr: %q is not a URL", s)
		} else if u.Scheme != "https" {
			add("--server-addr: %q must be https (the hub authenticates with client certificates)", s)
		}
	}
	if o.NodeName == "" {
		add("--node-name is required")
	} else if msgs := validation.IsDNS1123Subdomain(o.NodeName); len(msgs) > 0 {
		add("--node-name %q: %s", o.NodeName, strings.Join(msgs, "; "))
	}
	if o.NodePool != "" {
		if msgs := validation.IsDNS1123Subdomain(o.NodePool); len(msgs) > 0 {
			add("--nodepool %q: %s", o.NodePool, strings.Join(msgs, "; "))
		}
	}

	// Exactly one form of node credentials.
	forms := 0
	if o.ClientCertificate != "" || o.ClientKey != "" {
		forms++
		if o.ClientCertificate == "" || o.ClientKey == "" {
			add("--client-certificate and --client-key must be given together")
		}
		errs = append(errs, checkFile("--client-certificate", o.ClientCertificate)...)
		errs = append(errs, checkFile("--client-key", o.ClientKey)...)
	}
	if o.Kubeconfig != "" {
		forms++
		errs = append(errs, checkFile("--kubeconfig", o.Kubeconfig)...)
	}
	if o.BootstrapToken != "" {
		forms++
		if !bootstrapTokenRE(o.BootstrapToken) {
			add("--bootstrap-token: %q is not of the form [a-z0-9]{6}.[a-z0-9]{16}", redact(o.BootstrapToken))
		}
		if o.CertificateAuthority == "" {
			add("--bootstrap-token needs --certificate-authority to verify the cloud")
		}
		if o.CertDir == "" {
			add("--bootstrap-token needs --cert-dir to keep the certificate it obtains")
		}
	}
	switch {
	case forms == 0:
		add("node credentials are required: --client-certificate/--client-key, --kubeconfig or --bootstrap-token")
	case forms > 1:
		add("give only one of --client-certificate/--client-key, --kubeconfig and --bootstrap-token")
	}
	if o.CertificateAuthority != "" {
		errs = append(errs, checkFile("--certificate-authority", o.CertificateAuthority)...)
	}

	if o.CacheDir == "" {
		add("--cache-dir is required")
	}
	if len(o.CacheAgents) == 0 {
		add("--cache-agents: name at least one component (or '*')")
	}
	for _, a := range o.CacheAgents {
		if a == "" || strings.ContainsAny(a, `/\ `) || a == "." || a == ".." || strings.HasPrefix(a, "_") {
			add("--cache-agents: %q is not a component name", a)
		}
	}

	errs = append(errs, checkListen("--proxy-address", o.ProxyAddress, o.AllowNonLoopbackBind)...)
	errs = append(errs, checkListen("--server-address", o.ServerAddress, false)...)

	if o.HeartbeatInterval <= 0 {
		add("--heartbeat-interval must be positive, got %s", o.HeartbeatInterval)
	}
	if o.HeartbeatTimeout <= 0 {
		add("--heartbeat-timeout must be positive, got %s", o.HeartbeatTimeout)
	}
	if o.HeartbeatHealthyThreshold < 1 {
		add("--heartbeat-healthy-threshold must be at least 1, got %d", o.HeartbeatHealthyThreshold)
	}
	if o.HeartbeatUnhealthyThreshold < 1 {
		add("--heartbeat-failed-retry must be at least 1, got %d", o.HeartbeatUnhealthyThreshold)
	}
	if o.HeartbeatMaxBackoff < o.HeartbeatInterval {
		add("--heartbeat-max-backoff (%s) must not be shorter than --heartbeat-interval (%s)", o.HeartbeatMaxBackoff, o.HeartbeatInterval)
	}
	if o.MaxWatchTimeout <= 0 {
		add("--max-watch-timeout must be positive, got %s", o.MaxWatchTimeout)
	}
	errs = append(errs, o.validateCoordinator()...)
	errs = append(errs, o.validateLeaseProxy()...)
	return errs
}

func (o *Options) validateCoordinator() []error {
	c := o.Coordinator
	if c == nil || !c.Enabled() {
		if c != nil && (c.CAFile != "" || c.CertFile != "" || c.KeyFile != "") {
			return []error{errors.New("--coordinator-ca-file/--coordinator-cert-file/--coordinator-key-file need --coordinator-endpoints")}
		}
		return nil
	}
	var errs []error
	if o.NodePool == "" {
		errs = append(errs, errors.New("--nodepool is required with --coordinator-endpoints"))
	}
	lib := *c
	lib.Pool, lib.Identity = o.NodePool, o.NodeName
	for _, err := range lib.Validate() {
		// The library names its flags without dashes; pool and identity come from --nodepool
		// and --node-name, which are checked on their own.
		msg := err.Error()
		if strings.HasPrefix(msg, "coordinator pool") || strings.HasPrefix(msg, "coordinator identity") {
			continue
		}
		errs = append(errs, errors.New("--"+msg))
	}
	for _, e := range c.Endpoints {
		if strings.HasPrefix(e, "https://") && c.CertFile == "" {
			errs = append(errs, errors.New("--coordinator-cert-file is required for https coordinator endpoints: the coordinator only accepts hubs with a certificate from the pool CA"))
			break
		}
	}
	errs = append(errs, checkFile("--coordinator-ca-file", c.CAFile)...)
	errs = append(errs, checkFile("--coordinator-cert-file", c.CertFile)...)
	errs = append(errs, checkFile("--coordinator-key-file", c.KeyFile)...)
	if o.ElectionTTL < 2*time.Second {
		errs = append(errs, fmt.Errorf("--coordinator-election-ttl must be at least 2s, got %s", o.ElectionTTL))
	}
	if o.PoolSyncMaxAge <= 0 {
		errs = append(errs, fmt.Errorf("--pool-sync-max-age must be positive, got %s", o.PoolSyncMaxAge))
	}
	for _, r := range o.PoolScopeResources {
		if _, err := ParseGroupVersionResource(r); err != nil {
			errs = append(errs, fmt.Errorf("--pool-scope-resources: %w", err))
		}
	}
	return errs
}

// ParseGroupVersionResource parses "group/version/resource", or "version/resource" for the core group.
func ParseGroupVersionResource(s string) (schema.GroupVersionResource, error) {
	parts := strings.Split(strings.TrimSpace(s), "/")
	var gvr schema.GroupVersionResource
	switch len(parts) {
	case 2:
		gvr = schema.GroupVersionResource{Version: parts[0], Resource: parts[1]}
	case 3:
		gvr = schema.GroupVersionResource{Group: parts[0], Version: parts[1], Resource: parts[2]}
	default:
		return gvr, fmt.Errorf("%q is not group/version/resource (or v1/resource for the core group)", s)
	}
	if gvr.Version == "" || gvr.Resource == "" || len(parts) == 3 && gvr.Group == "" {
		return gvr, fmt.Errorf("%q is not group/version/resource (or v1/resource for the core group)", s)
	}
	return gvr, nil
}

// PoolScopeGVRs returns --pool-scope-resources parsed; call after Validate.
func (o *Options) PoolScopeGVRs() []schema.GroupVersionResource {
	out := make([]schema.GroupVersionResource, 0, len(o.PoolScopeResources))
	for _, r := range o.PoolScopeResources {
		if gvr, err := ParseGroupVersionResource(r); err == nil {
			out = append(out, gvr)
		}
	}
	return out
}

func checkFile(flag, path string) []error {
	if path == "" {
		return nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return []error{fmt.Errorf("%s: %w", flag, err)}
	}
	if st.IsDir() {
		return []error{fmt.Errorf("%s: %s is a directory, not a file", flag, path)}
	}
	return nil
}

func checkListen(flag, addr string, allowNonLoopback bool) []error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return []error{fmt.Errorf("%s: %q is not host:port: %v", flag, addr, err)}
	}
	if port == "" {
		return []error{fmt.Errorf("%s: %q has no port", flag, addr)}
	}
	if !isLoopbackHost(host) && !allowNonLoopback {
		return []error{fmt.Errorf("%s: %q is not a loopback address; the proxy is plain HTTP acting with the node's credentials, so binding elsewhere needs --allow-non-loopback-proxy", flag, addr)}
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func bootstrapTokenRE(tok string) bool {
	id, secret, ok := strings.Cut(tok, ".")
	valid := func(s string, n int) bool {
		if len(s) != n {
			return false
		}
		for _, c := range s {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
				return false
			}
		}
		return true
	}
	return ok && valid(id, 6) && valid(secret, 16)
}

// redact keeps a token's public id and hides its secret.
func redact(tok string) string {
	if id, _, ok := strings.Cut(tok, "."); ok {
		return id + ".<redacted>"
	}
	return "<redacted>"
}

// HealthCheckOptions returns the health checker's options.
func (o *Options) HealthCheckOptions() healthcheck.Options {
	return healthcheck.Options{
		Interval: o.HeartbeatInterval, Timeout: o.HeartbeatTimeout,
		HealthyThreshold: o.HeartbeatHealthyThreshold, UnhealthyThreshold: o.HeartbeatUnhealthyThreshold,
		MaxBackoff: o.HeartbeatMaxBackoff,
	}
}

// CacheAgentSet returns --cache-agents as a set.
func (o *Options) CacheAgentSet() sets.Set[string] { return sets.New(o.CacheAgents...) }

// RESTConfig returns the node's credentials for server (without bootstrap: see the server package).
func (o *Options) RESTConfig(server string) (*rest.Config, error) {
	var cfg *rest.Config
	if o.Kubeconfig != "" {
		c, err := clientcmd.BuildConfigFromFlags(server, o.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("--kubeconfig %s: %w", o.Kubeconfig, err)
		}
		cfg = c
	} else {
		cfg = &rest.Config{Host: server}
		cfg.CertFile, cfg.KeyFile = o.ClientCertificate, o.ClientKey
	}
	if o.CertificateAuthority != "" {
		cfg.CAFile, cfg.CAData = o.CertificateAuthority, nil
	}
	return cfg, nil
}
