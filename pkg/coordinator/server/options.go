// Package server runs yurt-coordinator: one member of a node pool's embedded etcd
// (pkg/embeddedetcd), with mutual TLS for clients and peers, bounded storage (auto-compaction,
// a backend quota, periodic defragmentation, WAL/snapshot retention, automatic recovery from a
// NOSPACE alarm) and an HTTP listener for /healthz, /livez, /readyz and /metrics.
//
// Lifecycle: NewOptions → AddFlags → Complete → Validate → Config → Run(ctx).
package server

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver"

	"github.com/yurt-edge/yurt/pkg/embeddedetcd"
)

// Defaults.
const (
	DefaultHealthAddress     = "127.0.0.1:10270"
	DefaultClientURL         = "http://127.0.0.1:2379"
	DefaultPeerURL           = "http://127.0.0.1:2380"
	DefaultQuotaBackendBytes = 512 << 20
	DefaultDefragInterval    = 10 * time.Minute
	DefaultMaintenance       = 10 * time.Second
	// DefaultDefragFreeRatio: defragment when at least this share of the file is free pages.
	DefaultDefragFreeRatio = 0.5
	// DefaultDefragMinFreeBytes: and at least this many bytes are free (smaller gains are not
	// worth blocking writes for).
	DefaultDefragMinFreeBytes = 16 << 20
	// DefaultRecoverBelowRatio: a NOSPACE alarm is disarmed once the defragmented file is
	// below this share of the quota.
	DefaultRecoverBelowRatio = 0.8
)

// Options configure one coordinator member.
type Options struct {
	// Pool is the node pool this coordinator serves; the default cluster token is derived from it.
	Pool string
	// Etcd holds name, data dir, listen URLs, quota, auto-compaction and log level.
	Etcd *embeddedetcd.Options

	AdvertiseClientURLs      []string
	InitialAdvertisePeerURLs []string
	// InitialCluster is name=peerURL,... of every member at bootstrap; default: this member alone.
	InitialCluster      string
	InitialClusterState string
	InitialClusterToken string

	// Client TLS: the member's serving certificate and the pool CA that client certificates
	// must be signed by (client certificate authentication is always on with TLS).
	CertFile, KeyFile, TrustedCAFile string
	// Peer TLS: the certificate the member serves and dials peers with, and the CA of peers.
	PeerCertFile, PeerKeyFile, PeerTrustedCAFile string

	// HealthAddress serves /healthz, /livez, /readyz, /metrics over plain HTTP.
	HealthAddress string

	SnapshotCount uint64
	MaxSnapFiles  uint
	MaxWALFiles   uint

	// DefragInterval is how often fragmentation is checked (0 disables periodic defrag).
	DefragInterval     time.Duration
	DefragFreeRatio    float64
	DefragMinFreeBytes int64
	// MaintenanceInterval is how often a NOSPACE alarm is looked for and, with
	// AutoRecoverNoSpace, repaired (compact, defrag, disarm).
	MaintenanceInterval time.Duration
	AutoRecoverNoSpace  bool
	RecoverBelowRatio   float64
	// MaxCaughtUpLag is how far the applied index may trail the committed index for /readyz.
	MaxCaughtUpLag uint64
	// StartTimeout bounds the wait for the member to join its cluster; 0 waits until stopped.
	StartTimeout time.Duration
}

// NewOptions returns a single loopback member with bounded storage.
func NewOptions() *Options {
	e := embeddedetcd.NewOptions("")
	e.ListenClientURLs = []string{DefaultClientURL}
	e.ListenPeerURLs = []string{DefaultPeerURL}
	e.QuotaBackendBytes = DefaultQuotaBackendBytes
	e.AutoCompactionMode = embed.CompactorModePeriodic
	e.AutoCompactionRetention = "5m"
	e.LogLevel = "warn"
	return &Options{
		Etcd:                e,
		InitialClusterState: embed.ClusterStateFlagNew,
		HealthAddress:       DefaultHealthAddress,
		SnapshotCount:       etcdserver.DefaultSnapshotCount,
		MaxSnapFiles:        embed.DefaultMaxSnapshots,
		MaxWALFiles:         embed.DefaultMaxWALs,
		DefragInterval:      DefaultDefragInterval,
		DefragFreeRatio:     DefaultDefragFreeRatio,
		DefragMinFreeBytes:  DefaultDefragMinFreeBytes,
		MaintenanceInterval: DefaultMaintenance,
		AutoRecoverNoSpace:  true,
		RecoverBelowRatio:   DefaultRecoverBelowRatio,
		MaxCaughtUpLag:      100,
		StartTimeout:        0,
	}
}

// AddFlags adds the coordinator's flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	e := o.Etcd
	fs.StringVar(&o.Pool, "pool", o.Pool, "Node pool this coordinator serves (required).")
	fs.StringVar(&e.Name, "name", e.Name, "Member name; its key in --initial-cluster.")
	fs.StringVar(&e.DataDir, "data-dir", e.DataDir, "Directory of the member's WAL, snapshots and database (required).")
	fs.StringSliceVar(&e.ListenClientURLs, "listen-client-urls", e.ListenClientURLs, "URLs to serve clients on; https needs --cert-file/--key-file/--trusted-ca-file, plain http is accepted on loopback only. Port 0 picks a free port.")
	fs.StringSliceVar(&o.AdvertiseClientURLs, "advertise-client-urls", o.AdvertiseClientURLs, "Client URLs told to clients; default --listen-client-urls.")
	fs.StringSliceVar(&e.ListenPeerURLs, "listen-peer-urls", e.ListenPeerURLs, "URLs to serve peers on; https needs --peer-cert-file/--peer-key-file/--peer-trusted-ca-file, plain http on loopback only.")
	fs.StringSliceVar(&o.InitialAdvertisePeerURLs, "initial-advertise-peer-urls", o.InitialAdvertisePeerURLs, "Peer URLs told to the other members; default --listen-peer-urls.")
	fs.StringVar(&o.InitialCluster, "initial-cluster", o.InitialCluster, "name=peerURL,... of every member when bootstrapping (3 or more for HA); default: this member alone.")
	fs.StringVar(&o.InitialClusterState, "initial-cluster-state", o.InitialClusterState, "new (bootstrap a cluster) or existing (join one).")
	fs.StringVar(&o.InitialClusterToken, "initial-cluster-token", o.InitialClusterToken, "Cluster token; default yurt-coordinator-<pool>.")
	fs.StringVar(&o.CertFile, "cert-file", o.CertFile, "Serving certificate for clients (signed by the pool CA).")
	fs.StringVar(&o.KeyFile, "key-file", o.KeyFile, "Key of --cert-file.")
	fs.StringVar(&o.TrustedCAFile, "trusted-ca-file", o.TrustedCAFile, "Pool CA; clients must present a certificate it signed.")
	fs.StringVar(&o.PeerCertFile, "peer-cert-file", o.PeerCertFile, "Certificate served to and presented to peers (server and client auth).")
	fs.StringVar(&o.PeerKeyFile, "peer-key-file", o.PeerKeyFile, "Key of --peer-cert-file.")
	fs.StringVar(&o.PeerTrustedCAFile, "peer-trusted-ca-file", o.PeerTrustedCAFile, "CA of the peers' certificates.")
	fs.StringVar(&o.HealthAddress, "health-address", o.HealthAddress, "host:port of the plain-HTTP listener for /healthz, /livez, /readyz and /metrics.")
	fs.Int64Var(&e.QuotaBackendBytes, "quota-backend-bytes", e.QuotaBackendBytes, "Database size limit; beyond it writes fail with 'database space exceeded' and a NOSPACE alarm is raised.")
	fs.StringVar(&e.AutoCompactionMode, "auto-compaction-mode", e.AutoCompactionMode, "periodic or revision.")
	fs.StringVar(&e.AutoCompactionRetention, "auto-compaction-retention", e.AutoCompactionRetention, "History kept: a duration (periodic) or a revision count (revision).")
	fs.Uint64Var(&o.SnapshotCount, "snapshot-count", o.SnapshotCount, "Committed transactions between raft snapshots (bounds the in-memory raft log).")
	fs.UintVar(&o.MaxSnapFiles, "max-snapshots", o.MaxSnapFiles, "Snapshot files to keep (0 = unlimited).")
	fs.UintVar(&o.MaxWALFiles, "max-wals", o.MaxWALFiles, "WAL files to keep (0 = unlimited).")
	fs.DurationVar(&o.DefragInterval, "defrag-interval", o.DefragInterval, "How often to check fragmentation and defragment (0 disables).")
	fs.Float64Var(&o.DefragFreeRatio, "defrag-free-ratio", o.DefragFreeRatio, "Defragment when at least this share of the database file is free.")
	fs.Int64Var(&o.DefragMinFreeBytes, "defrag-min-free-bytes", o.DefragMinFreeBytes, "…and at least this many bytes are free.")
	fs.DurationVar(&o.MaintenanceInterval, "maintenance-interval", o.MaintenanceInterval, "How often to look for a NOSPACE alarm and refresh the size metrics.")
	fs.BoolVar(&o.AutoRecoverNoSpace, "auto-recover-nospace", o.AutoRecoverNoSpace, "On a NOSPACE alarm, compact to the current revision, defragment and disarm the alarm once the database is below --recover-below-ratio of the quota. Committed data (latest values) is kept.")
	fs.Float64Var(&o.RecoverBelowRatio, "recover-below-ratio", o.RecoverBelowRatio, "Share of the quota the defragmented database must be under before a NOSPACE alarm is disarmed.")
	fs.Uint64Var(&o.MaxCaughtUpLag, "max-caught-up-lag", o.MaxCaughtUpLag, "Committed-but-unapplied raft entries /readyz tolerates.")
	fs.DurationVar(&o.StartTimeout, "start-timeout", o.StartTimeout, "How long to wait for the member to join its cluster (0: until stopped).")
	fs.StringVar(&e.LogLevel, "etcd-log-level", e.LogLevel, "Log level of etcd: debug, info, warn or error.")
}

// Complete fills defaults: free ports for port 0, advertise URLs, the initial cluster and token.
func (o *Options) Complete() error {
	if err := o.Etcd.Complete(); err != nil {
		return err
	}
	if len(o.AdvertiseClientURLs) == 0 {
		o.AdvertiseClientURLs = o.Etcd.ListenClientURLs
	}
	if len(o.InitialAdvertisePeerURLs) == 0 {
		o.InitialAdvertisePeerURLs = o.Etcd.ListenPeerURLs
	}
	if o.InitialCluster == "" {
		parts := make([]string, 0, len(o.InitialAdvertisePeerURLs))
		for _, u := range o.InitialAdvertisePeerURLs {
			parts = append(parts, o.Etcd.Name+"="+u)
		}
		o.InitialCluster = strings.Join(parts, ",")
	}
	if o.InitialClusterToken == "" && o.Pool != "" {
		o.InitialClusterToken = "yurt-coordinator-" + o.Pool
	}
	return nil
}

// Validate reports every problem, each naming its flag.
func (o *Options) Validate() []error {
	var errs []error
	e := o.Etcd
	if o.Pool == "" {
		errs = append(errs, fmt.Errorf("--pool: a node pool name is required"))
	}
	if e.Name == "" {
		errs = append(errs, fmt.Errorf("--name: a member name is required"))
	}
	if e.DataDir == "" {
		errs = append(errs, fmt.Errorf("--data-dir: a data directory is required"))
	}
	clientTLS := o.CertFile != "" || o.KeyFile != "" || o.TrustedCAFile != ""
	peerTLS := o.PeerCertFile != "" || o.PeerKeyFile != "" || o.PeerTrustedCAFile != ""
	if clientTLS {
		errs = append(errs, requireFiles(map[string]string{"--cert-file": o.CertFile, "--key-file": o.KeyFile, "--trusted-ca-file": o.TrustedCAFile})...)
	}
	if peerTLS {
		errs = append(errs, requireFiles(map[string]string{"--peer-cert-file": o.PeerCertFile, "--peer-key-file": o.PeerKeyFile, "--peer-trusted-ca-file": o.PeerTrustedCAFile})...)
	}
	errs = append(errs, checkURLs("--listen-client-urls", e.ListenClientURLs, clientTLS, "--cert-file/--key-file/--trusted-ca-file", true)...)
	errs = append(errs, checkURLs("--advertise-client-urls", o.AdvertiseClientURLs, clientTLS, "--cert-file/--key-file/--trusted-ca-file", false)...)
	errs = append(errs, checkURLs("--listen-peer-urls", e.ListenPeerURLs, peerTLS, "--peer-cert-file/--peer-key-file/--peer-trusted-ca-file", true)...)
	errs = append(errs, checkURLs("--initial-advertise-peer-urls", o.InitialAdvertisePeerURLs, peerTLS, "--peer-cert-file/--peer-key-file/--peer-trusted-ca-file", false)...)
	if members, err := parseInitialCluster(o.InitialCluster); err != nil {
		errs = append(errs, err)
	} else if _, ok := members[e.Name]; !ok && e.Name != "" {
		errs = append(errs, fmt.Errorf("--initial-cluster: %q has no entry for this member's --name %q", o.InitialCluster, e.Name))
	} else if len(members) == 2 {
		errs = append(errs, fmt.Errorf("--initial-cluster: 2 members tolerate no failure and halve availability; use 1, or 3 or more"))
	}
	if o.InitialClusterState != embed.ClusterStateFlagNew && o.InitialClusterState != embed.ClusterStateFlagExisting {
		errs = append(errs, fmt.Errorf("--initial-cluster-state: must be new or existing, got %q", o.InitialClusterState))
	}
	if _, _, err := net.SplitHostPort(o.HealthAddress); err != nil {
		errs = append(errs, fmt.Errorf("--health-address: %q is not host:port: %w", o.HealthAddress, err))
	}
	if e.QuotaBackendBytes <= 0 {
		errs = append(errs, fmt.Errorf("--quota-backend-bytes: must be positive (a coordinator always has a quota), got %d", e.QuotaBackendBytes))
	}
	switch e.AutoCompactionMode {
	case embed.CompactorModePeriodic:
		if d, err := time.ParseDuration(e.AutoCompactionRetention); err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("--auto-compaction-retention: %q is not a positive duration (periodic mode)", e.AutoCompactionRetention))
		}
	case embed.CompactorModeRevision:
		if n, err := strconv.ParseUint(e.AutoCompactionRetention, 10, 64); err != nil || n == 0 {
			errs = append(errs, fmt.Errorf("--auto-compaction-retention: %q is not a positive revision count (revision mode)", e.AutoCompactionRetention))
		}
	default:
		errs = append(errs, fmt.Errorf("--auto-compaction-mode: must be periodic or revision, got %q", e.AutoCompactionMode))
	}
	if o.SnapshotCount == 0 {
		errs = append(errs, fmt.Errorf("--snapshot-count: must be positive"))
	}
	if o.DefragInterval < 0 {
		errs = append(errs, fmt.Errorf("--defrag-interval: must not be negative"))
	}
	if o.DefragFreeRatio < 0 || o.DefragFreeRatio > 1 {
		errs = append(errs, fmt.Errorf("--defrag-free-ratio: must be within [0,1], got %v", o.DefragFreeRatio))
	}
	if o.MaintenanceInterval <= 0 {
		errs = append(errs, fmt.Errorf("--maintenance-interval: must be positive"))
	}
	if o.RecoverBelowRatio <= 0 || o.RecoverBelowRatio >= 1 {
		errs = append(errs, fmt.Errorf("--recover-below-ratio: must be within (0,1), got %v", o.RecoverBelowRatio))
	}
	return errs
}

func requireFiles(flags map[string]string) []error {
	var errs []error
	for _, name := range []string{"--cert-file", "--key-file", "--trusted-ca-file", "--peer-cert-file", "--peer-key-file", "--peer-trusted-ca-file"} {
		path, ok := flags[name]
		if !ok {
			continue
		}
		if path == "" {
			errs = append(errs, fmt.Errorf("%s: required with TLS (mutual TLS needs a certificate, its key and the CA)", name))
			continue
		}
		if _, err := os.Stat(path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errs
}

// checkURLs accepts https only with TLS files, and plain http only on loopback, where no other
// machine reaches the unauthenticated port.
func checkURLs(flag string, urls []string, tls bool, tlsFlags string, listen bool) []error {
	var errs []error
	if len(urls) == 0 {
		return []error{fmt.Errorf("%s: at least one URL is required", flag)}
	}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s: %q is not a URL like https://host:port", flag, raw))
			continue
		}
		switch u.Scheme {
		case "https":
			if !tls {
				errs = append(errs, fmt.Errorf("%s: %q is https but %s are not set", flag, raw, tlsFlags))
			}
		case "http":
			if listen && !isLoopback(u.Hostname()) {
				errs = append(errs, fmt.Errorf("%s: refusing plain http on non-loopback address %q: anyone on the network could read and write the pool's data; use https with %s", flag, u.Host, tlsFlags))
			}
			if !listen && !isLoopback(u.Hostname()) {
				errs = append(errs, fmt.Errorf("%s: refusing plain http on non-loopback address %q; use https with %s", flag, u.Host, tlsFlags))
			}
		default:
			errs = append(errs, fmt.Errorf("%s: %q: scheme must be https (or http on loopback)", flag, raw))
		}
	}
	return errs
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func parseInitialCluster(s string) (map[string][]string, error) {
	out := map[string][]string{}
	if s == "" {
		return nil, fmt.Errorf("--initial-cluster: empty")
	}
	for _, part := range strings.Split(s, ",") {
		name, u, ok := strings.Cut(part, "=")
		if !ok || name == "" || u == "" {
			return nil, fmt.Errorf("--initial-cluster: %q is not name=peerURL", part)
		}
		if pu, err := url.Parse(u); err != nil || pu.Host == "" || (pu.Scheme != "http" && pu.Scheme != "https") {
			return nil, fmt.Errorf("--initial-cluster: %q: %q is not a peer URL like https://host:port", part, u)
		}
		out[name] = append(out[name], u)
	}
	return out, nil
}

// Config builds the member's configuration from completed, validated options.
func (o *Options) Config() (*Config, error) {
	if errs := o.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("invalid options: %v", errs)
	}
	cfg, err := o.Etcd.Config()
	if err != nil {
		return nil, err
	}
	parse := func(flag string, raw []string) ([]url.URL, error) {
		out := make([]url.URL, 0, len(raw))
		for _, r := range raw {
			u, err := url.Parse(r)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", flag, err)
			}
			out = append(out, *u)
		}
		return out, nil
	}
	if cfg.AdvertiseClientUrls, err = parse("--advertise-client-urls", o.AdvertiseClientURLs); err != nil {
		return nil, err
	}
	if cfg.AdvertisePeerUrls, err = parse("--initial-advertise-peer-urls", o.InitialAdvertisePeerURLs); err != nil {
		return nil, err
	}
	cfg.InitialCluster = o.InitialCluster
	cfg.ClusterState = o.InitialClusterState
	cfg.InitialClusterToken = o.InitialClusterToken
	if o.CertFile != "" {
		cfg.ClientTLSInfo.CertFile = o.CertFile
		cfg.ClientTLSInfo.KeyFile = o.KeyFile
		cfg.ClientTLSInfo.TrustedCAFile = o.TrustedCAFile
		cfg.ClientTLSInfo.ClientCertAuth = true
	}
	if o.PeerCertFile != "" {
		cfg.PeerTLSInfo.CertFile = o.PeerCertFile
		cfg.PeerTLSInfo.KeyFile = o.PeerKeyFile
		cfg.PeerTLSInfo.TrustedCAFile = o.PeerTrustedCAFile
		cfg.PeerTLSInfo.ClientCertAuth = true
	}
	cfg.SnapshotCount = o.SnapshotCount
	cfg.MaxSnapFiles = o.MaxSnapFiles
	cfg.MaxWalFiles = o.MaxWALFiles
	// Acknowledged writes must survive a crash.
	cfg.UnsafeNoFsync = false
	return &Config{Options: o, Etcd: cfg}, nil
}
