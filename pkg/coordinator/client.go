package coordinator

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Client is a connection to a pool's coordinator plus who is using it. The store, election
// and lease packages take a *Client.
type Client struct {
	// Etcd is the underlying etcd client.
	Etcd *clientv3.Client
	// Pool is the node pool whose keys are used.
	Pool string
	// Identity is this client's name (the hub's node name).
	Identity string
	// Metrics count what the library skips; may be nil.
	Metrics *Metrics

	tls *tls.Config // to explain refused connections in Ping
}

// New connects to the coordinator. It does not wait for a member to answer (a hub must start
// while its coordinator is down); use Ping for that. Validate the options first.
func New(o *Options, m *Metrics) (*Client, error) {
	if errs := o.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("coordinator options: %w", errors.Join(errs...))
	}
	tlsCfg, err := o.TLSConfig()
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   o.Endpoints,
		DialTimeout: o.DialTimeout,
		TLS:         tlsCfg,
		// etcd's client logs every retry at info level through zap; our callers log what matters.
		Logger: zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("creating coordinator client for %v: %w", o.Endpoints, err)
	}
	return &Client{Etcd: cli, Pool: o.Pool, Identity: o.Identity, Metrics: m, tls: tlsCfg}, nil
}

// NewFromEtcd wraps an existing etcd client (tests, benchmarks, callers with their own dialing).
func NewFromEtcd(cli *clientv3.Client, pool, identity string, m *Metrics) (*Client, error) {
	if err := ValidatePool(pool); err != nil {
		return nil, err
	}
	return &Client{Etcd: cli, Pool: pool, Identity: identity, Metrics: m}, nil
}

// Ping asks a member for its status, which fails unless a member is reachable and serving.
func (c *Client) Ping(ctx context.Context) error {
	var errs []error
	for _, ep := range c.Etcd.Endpoints() {
		if _, err := c.Etcd.Status(ctx, ep); err != nil {
			// gRPC retries TLS failures until the deadline and reports only that; a direct
			// handshake names the cause (unknown authority, certificate required, …).
			if cause := c.tlsProblem(ep); cause != nil {
				err = fmt.Errorf("%w (TLS: %v)", err, cause)
			}
			errs = append(errs, fmt.Errorf("coordinator member %s: %w", ep, err))
			continue
		}
		return nil
	}
	return errors.Join(errs...)
}

// tlsProblem makes one TLS connection to an https endpoint and returns why it fails, if it does.
func (c *Client) tlsProblem(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "https" || c.tls == nil {
		return nil
	}
	cfg := c.tls.Clone()
	cfg.ServerName = u.Hostname()
	cfg.NextProtos = []string{"h2"}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", u.Host, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	// With TLS 1.3 the server rejects a client certificate after the handshake, as an alert
	// on the first read; a healthy server just waits for the HTTP/2 preface.
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := conn.Read(make([]byte, 1)); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		return err
	}
	return nil
}

// Close closes the connection. Sessions bound to it (leadership, keep-alives) end with it.
func (c *Client) Close() error { return c.Etcd.Close() }
