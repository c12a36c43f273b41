package embeddedetcd

import (
	"context"
	"fmt"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Server is a running embedded etcd member.
type Server struct {
	etcd *embed.Etcd
}

// Start starts a member and waits until it serves clients or ctx ends.
func Start(ctx context.Context, cfg *embed.Config) (*Server, error) {
	return StartWait(ctx, cfg, time.Minute)
}

// StartWait is Start with the wait for readiness bounded by wait instead of a minute; 0 waits
// as long as ctx lasts (a member of a new multi-member cluster waits for its peers).
func StartWait(ctx context.Context, cfg *embed.Config, wait time.Duration) (*Server, error) {
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd in %s: %w", cfg.Dir, err)
	}
	if wait <= 0 {
		wait = 1 << 62
	}
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	select {
	case <-e.Server.ReadyNotify():
		return &Server{etcd: e}, nil
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s failed while starting: %w", cfg.Dir, err)
	case <-timeout.C:
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s was not ready after %s", cfg.Dir, wait)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
}

// Endpoints are the client URLs the member serves on.
func (s *Server) Endpoints() []string {
	out := make([]string, 0, len(s.etcd.Config().ListenClientUrls))
	for _, u := range s.etcd.Config().ListenClientUrls {
		out = append(out, u.String())
	}
	return out
}

// Err reports a fatal error of the running member.
func (s *Server) Err() <-chan error { return s.etcd.Err() }

// Etcd is the running member, for callers that need etcd's own API (e.g. maintenance).
func (s *Server) Etcd() *embed.Etcd { return s.etcd }

// Close stops the member, letting in-flight requests finish.
func (s *Server) Close() { s.etcd.Close() }
