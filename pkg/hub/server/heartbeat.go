package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/generated/clientset/versioned"
	"github.com/yurt-edge/yurt/pkg/coordinator"
	"github.com/yurt-edge/yurt/pkg/coordinator/lease"
	"github.com/yurt-edge/yurt/pkg/hub/healthcheck"
	"github.com/yurt-edge/yurt/pkg/hub/heartbeat"
	"github.com/yurt-edge/yurt/pkg/hub/leader"
	"github.com/yurt-edge/yurt/pkg/hub/options"
)

// heartbeatDelegation is the hub's part in keeping its pool's nodes heartbeating: the
// middleware in front of the proxy, the mirror of the node's Lease to the coordinator, and —
// registered with leaders when lease-proxy credentials are given — the leader's renewer and
// its record of itself in the NodePool's status.
type heartbeatDelegation struct {
	Handler http.Handler
	mirror  *heartbeat.Mirror
}

func newHeartbeatDelegation(o *options.Options, checker *healthcheck.Checker, coord *coordinator.Client, leaders *leader.Runner,
	next http.Handler, reg prometheus.Registerer, logger klog.Logger) (*heartbeatDelegation, error) {
	met, err := heartbeat.NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("registering the heartbeat metrics: %w", err)
	}
	mw := &heartbeat.Middleware{
		NodeName: o.NodeName, Healthy: checker.Healthy, Ready: checker.Probed(), ReadyWait: o.HeartbeatTimeout + time.Second,
		OnUndelivered: checker.ReportFailure, Next: next, Metrics: met, Logger: logger,
	}
	h := &heartbeatDelegation{Handler: mw}
	if coord == nil {
		return h, nil
	}
	leases := lease.New(coord, 0)
	// With a coordinator client certificate, the hub proves its delegations and, as leader,
	// renews only proven ones (lease.ProofVerifier).
	var verifier *lease.ProofVerifier
	if co := o.Coordinator; co.CertFile != "" {
		if leases.Prover, err = lease.NewProver(coord.Pool, co.CertFile, co.KeyFile); err != nil {
			return nil, err
		}
		if verifier, err = lease.NewProofVerifier(coord.Pool, co.CAFile); err != nil {
			return nil, err
		}
	} else {
		logger.Info("No --coordinator-cert-file: delegated Leases are neither signed nor checked; any client of the coordinator can mark a node of the pool delegated")
	}
	h.mirror = heartbeat.NewMirror(leases, met)
	mw.Mirror = h.mirror
	cfg, err := o.LeaseProxyRESTConfig(o.ServerAddr[0])
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		logger.Info("No --lease-proxy-* credentials: as pool leader this hub renews no other node's Lease in the cloud")
		return h, nil
	}
	cfg.UserAgent = "yurthub-lease-proxy/" + o.NodeName
	// Follow the health checker's choice of cloud server, as the proxy does.
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return &toHealthyServer{server: checker.Server, next: rt}
	})
	cloud, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the lease-proxy client: %w", err)
	}
	leaders.Add((&heartbeat.Renewer{Leases: leases, Cloud: cloud, Self: o.NodeName, Pool: o.NodePool, Verifier: verifier, Metrics: met}).Run)
	yurt, err := versioned.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the lease-proxy client: %w", err)
	}
	leaders.Add((&leader.PoolStatus{Yurt: yurt, Kube: cloud, Pool: o.NodePool, Node: o.NodeName}).Run)
	return h, nil
}

// run runs the mirror (when there is a coordinator) until ctx ends.
func (h *heartbeatDelegation) run(ctx context.Context) {
	if h.mirror != nil {
		h.mirror.Run(ctx)
	}
}

// toHealthyServer sends requests to the cloud server the health checker currently trusts.
type toHealthyServer struct {
	server func() *url.URL
	next   http.RoundTripper
}

func (t *toHealthyServer) RoundTrip(r *http.Request) (*http.Response, error) {
	s := t.server()
	if s == nil {
		return nil, errors.New("no cloud API server is healthy")
	}
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = s.Scheme, s.Host, ""
	return t.next.RoundTrip(r)
}
