// Package embeddedetcd runs an etcd member inside the calling process, the way Yurt's
// servers keep their state without a separate etcd to deploy: yurt-apiserver stores its
// objects in one when no --etcd-servers are given, the tests run kube-apiserver on one, and
// yurt-coordinator is one per node pool.
package embeddedetcd

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/pflag"
	"go.etcd.io/etcd/server/v3/embed"
)

// Options configure an embedded etcd member.
type Options struct {
	// Name of the member; also the key in InitialCluster.
	Name string
	// DataDir holds the member's WAL and database.
	DataDir string
	// ListenClientURLs serve clients. A port of 0 is replaced by a free one in Complete.
	ListenClientURLs []string
	// ListenPeerURLs serve the other members. A port of 0 is replaced by a free one.
	ListenPeerURLs []string
	// QuotaBackendBytes caps the database size; writes fail with "mvcc: database space exceeded" beyond it.
	QuotaBackendBytes int64
	// AutoCompactionMode is periodic or revision.
	AutoCompactionMode string
	// AutoCompactionRetention is a duration (periodic) or a revision count (revision).
	AutoCompactionRetention string
	// WatchProgressNotifyInterval makes etcd send progress notifications, which the
	// apiserver's watch cache needs for bookmarks and consistent reads.
	WatchProgressNotifyInterval time.Duration
	// UnsafeNoFsync skips fsync; only for throwaway test data.
	UnsafeNoFsync bool
	// LogLevel of etcd's own zap logger.
	LogLevel string
}

// NewOptions returns options for a single member on loopback with bounded storage.
func NewOptions(dataDir string) *Options {
	return &Options{
		Name:                        "default",
		DataDir:                     dataDir,
		ListenClientURLs:            []string{"http://127.0.0.1:0"},
		ListenPeerURLs:              []string{"http://127.0.0.1:0"},
		QuotaBackendBytes:           2 << 30,
		AutoCompactionMode:          embed.CompactorModePeriodic,
		AutoCompactionRetention:     "5m",
		WatchProgressNotifyInterval: 5 * time.Second,
		LogLevel:                    "warn",
	}
}

// AddFlags adds the options as flags named prefix + the etcd name (e.g. "embedded-etcd-quota-backend-bytes").
func (o *Options) AddFlags(fs *pflag.FlagSet, prefix string) {
	fs.StringSliceVar(&o.ListenClientURLs, prefix+"listen-client-urls", o.ListenClientURLs,
		"URLs the embedded etcd serves clients on; port 0 picks a free port. Plain http is for loopback only.")
	fs.Int64Var(&o.QuotaBackendBytes, prefix+"quota-backend-bytes", o.QuotaBackendBytes,
		"Size limit of the embedded etcd database; writes fail beyond it until compaction and defragmentation.")
	fs.StringVar(&o.AutoCompactionMode, prefix+"auto-compaction-mode", o.AutoCompactionMode,
		"Embedded etcd auto-compaction mode: periodic or revision.")
	fs.StringVar(&o.AutoCompactionRetention, prefix+"auto-compaction-retention", o.AutoCompactionRetention,
		"Embedded etcd history kept: a duration for periodic mode, a revision count for revision mode.")
	fs.StringVar(&o.LogLevel, prefix+"log-level", o.LogLevel, "Log level of the embedded etcd: debug, info, warn or error.")
}

// Complete replaces port 0 in the listen URLs with free ports.
func (o *Options) Complete() error {
	var err error
	if o.ListenClientURLs, err = withFreePorts(o.ListenClientURLs); err != nil {
		return fmt.Errorf("picking client ports: %w", err)
	}
	if o.ListenPeerURLs, err = withFreePorts(o.ListenPeerURLs); err != nil {
		return fmt.Errorf("picking peer ports: %w", err)
	}
	return nil
}

// Validate reports every problem with the options.
func (o *Options) Validate() []error {
	var errs []error
	if o.DataDir == "" {
		errs = append(errs, fmt.Errorf("embedded etcd: a data directory is required"))
	}
	for _, list := range [][]string{o.ListenClientURLs, o.ListenPeerURLs} {
		for _, raw := range list {
			if err := validateListenURL(raw); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if o.QuotaBackendBytes < 0 {
		errs = append(errs, fmt.Errorf("embedded etcd: quota-backend-bytes must not be negative, got %d", o.QuotaBackendBytes))
	}
	switch o.AutoCompactionMode {
	case embed.CompactorModePeriodic:
		if _, err := time.ParseDuration(o.AutoCompactionRetention); err != nil {
			errs = append(errs, fmt.Errorf("embedded etcd: auto-compaction-retention %q is not a duration: %w", o.AutoCompactionRetention, err))
		}
	case embed.CompactorModeRevision:
		if _, err := strconv.ParseUint(o.AutoCompactionRetention, 10, 64); err != nil {
			errs = append(errs, fmt.Errorf("embedded etcd: auto-compaction-retention %q is not a revision count: %w", o.AutoCompactionRetention, err))
		}
	default:
		errs = append(errs, fmt.Errorf("embedded etcd: auto-compaction-mode must be periodic or revision, got %q", o.AutoCompactionMode))
	}
	return errs
}

// validateListenURL accepts https anywhere and plain http only on loopback addresses, where
// no other machine can reach the unauthenticated port.
func validateListenURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("embedded etcd: listen URL %q: %w", raw, err)
	}
	switch u.Scheme {
	case "https", "unixs":
		return nil
	case "http", "unix":
		if u.Scheme == "unix" {
			return nil
		}
		host := u.Hostname()
		if host == "localhost" {
			return nil
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("embedded etcd: listen URL %q is plain http on a non-loopback address; use https with certificates", raw)
	default:
		return fmt.Errorf("embedded etcd: listen URL %q: scheme must be http or https", raw)
	}
}

func withFreePorts(urls []string) ([]string, error) {
	out := make([]string, 0, len(urls))
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("parsing %q: %w", raw, err)
		}
		if u.Port() == "0" {
			l, err := net.Listen("tcp", net.JoinHostPort(u.Hostname(), "0"))
			if err != nil {
				return nil, fmt.Errorf("finding a free port on %s: %w", u.Hostname(), err)
			}
			u.Host = l.Addr().String()
			if err := l.Close(); err != nil {
				return nil, err
			}
		}
		out = append(out, u.String())
	}
	return out, nil
}

func parseURLs(raw []string) ([]url.URL, error) {
	out := make([]url.URL, 0, len(raw))
	for _, r := range raw {
		u, err := url.Parse(r)
		if err != nil {
			return nil, fmt.Errorf("parsing %q: %w", r, err)
		}
		out = append(out, *u)
	}
	return out, nil
}

// Config builds etcd's embed.Config from completed options.
func (o *Options) Config() (*embed.Config, error) {
	cfg := embed.NewConfig()
	cfg.Name = o.Name
	cfg.Dir = o.DataDir
	var err error
	if cfg.ListenClientUrls, err = parseURLs(o.ListenClientURLs); err != nil {
		return nil, err
	}
	cfg.AdvertiseClientUrls = cfg.ListenClientUrls
	if cfg.ListenPeerUrls, err = parseURLs(o.ListenPeerURLs); err != nil {
		return nil, err
	}
	cfg.AdvertisePeerUrls = cfg.ListenPeerUrls
	cfg.InitialCluster = cfg.InitialClusterFromName(o.Name)
	cfg.QuotaBackendBytes = o.QuotaBackendBytes
	cfg.AutoCompactionMode = o.AutoCompactionMode
	cfg.AutoCompactionRetention = o.AutoCompactionRetention
	cfg.WatchProgressNotifyInterval = o.WatchProgressNotifyInterval
	cfg.UnsafeNoFsync = o.UnsafeNoFsync
	cfg.LogLevel = o.LogLevel
	// embed.Config{} leaves this zero, which makes etcd warn about every request.
	cfg.WarningUnaryRequestDuration = embed.DefaultWarningUnaryRequestDuration
	// Served metrics come from the process's Prometheus registry; no separate listener.
	cfg.ListenMetricsUrls = nil
	return cfg, nil
}
