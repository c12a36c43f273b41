package coordinator

import (
	"context"
	"errors"
	"fmt"

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
	return &Client{Etcd: cli, Pool: o.Pool, Identity: o.Identity, Metrics: m}, nil
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
			errs = append(errs, fmt.Errorf("coordinator member %s: %w", ep, err))
			continue
		}
		return nil
	}
	return errors.Join(errs...)
}

// Close closes the connection. Sessions bound to it (leadership, keep-alives) end with it.
func (c *Client) Close() error { return c.Etcd.Close() }
