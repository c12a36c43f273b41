package coordinator

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/spf13/pflag"
)

// Options say how to reach a pool's coordinator.
type Options struct {
	// Endpoints are the coordinator members' client URLs (https://host:port; plain http only
	// for loopback development setups).
	Endpoints []string
	// CertFile and KeyFile are the hub's client certificate, signed by the pool CA.
	CertFile, KeyFile string
	// CAFile is the pool CA the members' serving certificates are checked against.
	CAFile string
	// DialTimeout bounds establishing a connection to a member.
	DialTimeout time.Duration
	// Pool is the node pool whose keys the client reads and writes.
	Pool string
	// Identity names this client (the hub's node name) as election candidate and sync-marker holder.
	Identity string
}

// NewOptions returns options with defaults: no endpoints (the coordinator is off) and a 5s dial timeout.
func NewOptions() *Options {
	return &Options{DialTimeout: 5 * time.Second}
}

// AddFlags adds the connection flags ("coordinator-endpoints", "coordinator-cert-file", …).
// Pool and Identity come from the caller's own flags (--nodepool, --node-name).
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&o.Endpoints, "coordinator-endpoints", o.Endpoints,
		"Client URLs of the pool's yurt-coordinator members; empty disables the coordinator.")
	fs.StringVar(&o.CertFile, "coordinator-cert-file", o.CertFile, "Client certificate for the coordinator, signed by the pool CA.")
	fs.StringVar(&o.KeyFile, "coordinator-key-file", o.KeyFile, "Private key of --coordinator-cert-file.")
	fs.StringVar(&o.CAFile, "coordinator-ca-file", o.CAFile, "Pool CA that signed the coordinator members' serving certificates.")
	fs.DurationVar(&o.DialTimeout, "coordinator-dial-timeout", o.DialTimeout, "Timeout for connecting to a coordinator member.")
}

// Enabled reports whether any endpoint is configured.
func (o *Options) Enabled() bool { return len(o.Endpoints) > 0 }

// Validate reports every problem with the options.
func (o *Options) Validate() []error {
	var errs []error
	if len(o.Endpoints) == 0 {
		errs = append(errs, fmt.Errorf("coordinator-endpoints: at least one endpoint is required"))
	}
	anyHTTPS := false
	for _, raw := range o.Endpoints {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			errs = append(errs, fmt.Errorf("coordinator-endpoints: %q is not a URL like https://host:port", raw))
			continue
		}
		switch u.Scheme {
		case "https":
			anyHTTPS = true
		case "http":
			// Without TLS nothing authenticates either side, so only a member on this machine is acceptable.
			if !isLoopback(u.Hostname()) {
				errs = append(errs, fmt.Errorf("coordinator-endpoints: %q is plain http to a non-loopback host; use https with the pool's certificates", raw))
			}
		default:
			errs = append(errs, fmt.Errorf("coordinator-endpoints: %q: scheme must be https (or http on loopback)", raw))
		}
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		errs = append(errs, fmt.Errorf("coordinator-cert-file and coordinator-key-file must be given together"))
	}
	if anyHTTPS && o.CAFile == "" {
		errs = append(errs, fmt.Errorf("coordinator-ca-file is required for https endpoints"))
	}
	if o.DialTimeout <= 0 {
		errs = append(errs, fmt.Errorf("coordinator-dial-timeout must be positive, got %s", o.DialTimeout))
	}
	if err := ValidatePool(o.Pool); err != nil {
		errs = append(errs, fmt.Errorf("coordinator pool: %w", err))
	}
	if o.Identity == "" {
		errs = append(errs, fmt.Errorf("coordinator identity (the node name) is required"))
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

// TLSConfig builds the client TLS configuration, or nil when no TLS files are set.
func (o *Options) TLSConfig() (*tls.Config, error) {
	if o.CAFile == "" && o.CertFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading coordinator client certificate %s / key %s: %w", o.CertFile, o.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading coordinator CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("coordinator CA file %s holds no PEM certificate", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
