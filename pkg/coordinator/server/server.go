package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/embeddedetcd"
)

// Config is a member ready to run.
type Config struct {
	Options *Options
	// Etcd is the embedded etcd configuration; callers may adjust it (e.g. LogOutputs) before Run.
	Etcd *embed.Config
	// Ready, when set, is called once the member serves clients (tests, localstack).
	Ready func(*Server)
}

// Server is a running member.
type Server struct {
	opts    *Options
	etcd    *embeddedetcd.Server
	metrics *metrics
	// HealthAddress is the address the health listener is bound to.
	HealthAddress string
}

// Endpoints are the member's client URLs.
func (s *Server) Endpoints() []string { return s.etcd.Endpoints() }

// Run starts the health listener, then the member, and serves until ctx ends or etcd fails.
func (c *Config) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx)
	o := c.Options
	m := newMetrics()
	var running atomic.Pointer[Server]

	ln, err := net.Listen("tcp", o.HealthAddress)
	if err != nil {
		return fmt.Errorf("--health-address %s: %w", o.HealthAddress, err)
	}
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }
	mux.HandleFunc("/livez", ok)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		s := running.Load()
		if s == nil {
			http.Error(w, "etcd member is starting", http.StatusServiceUnavailable)
			return
		}
		ok(w, r)
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		s := running.Load()
		if s == nil {
			http.Error(w, "not ready: etcd member is starting (waiting for its cluster)", http.StatusServiceUnavailable)
			return
		}
		if problems := s.readiness(); len(problems) > 0 {
			http.Error(w, "not ready: "+joinProblems(problems), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	// etcd registers its metrics with the default registry; ours live in a registry of our own.
	metricsHandler := promhttp.HandlerFor(prometheus.Gatherers{prometheus.DefaultGatherer, m.registry}, promhttp.HandlerOpts{})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		// Alarms and sizes are read at scrape time so an alarm shows at once.
		if s := running.Load(); s != nil {
			s.refreshMetrics()
		}
		metricsHandler.ServeHTTP(w, r)
	})
	httpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	httpErr := make(chan error, 1)
	go func() {
		if err := httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			httpErr <- err
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = httpSrv.Shutdown(sctx)
	}()

	logger.Info("Starting yurt-coordinator member", "pool", o.Pool, "name", o.Etcd.Name, "dataDir", o.Etcd.DataDir,
		"clientURLs", o.AdvertiseClientURLs, "peerURLs", o.InitialAdvertisePeerURLs, "initialCluster", o.InitialCluster,
		"clientTLS", o.CertFile != "", "peerTLS", o.PeerCertFile != "", "health", ln.Addr().String())
	etcd, err := embeddedetcd.StartWait(ctx, c.Etcd, o.StartTimeout)
	if err != nil {
		return err
	}
	defer etcd.Close()
	s := &Server{opts: o, etcd: etcd, metrics: m, HealthAddress: ln.Addr().String()}
	m.quota.Set(float64(o.Etcd.QuotaBackendBytes))
	s.refreshMetrics()
	running.Store(s)
	logger.Info("yurt-coordinator member is serving", "endpoints", etcd.Endpoints(), "memberID", etcd.Etcd().Server.MemberID().String())
	if c.Ready != nil {
		c.Ready(s)
	}

	var wg sync.WaitGroup
	mctx, stop := context.WithCancel(ctx)
	defer func() { stop(); wg.Wait() }()
	wg.Add(1)
	go func() { defer wg.Done(); s.maintain(mctx) }()

	select {
	case <-ctx.Done():
		logger.Info("Stopping yurt-coordinator member")
		return nil
	case err := <-etcd.Err():
		return fmt.Errorf("etcd member failed: %w", err)
	case err := <-httpErr:
		return fmt.Errorf("serving --health-address %s: %w", o.HealthAddress, err)
	}
}

func joinProblems(p []string) string {
	out := ""
	for i, s := range p {
		if i > 0 {
			out += "; "
		}
		out += s
	}
	return out
}

// readiness lists why the member should not take traffic: no leader, applying behind the
// commit index, or an active alarm (NOSPACE rejects writes).
func (s *Server) readiness() []string {
	es := s.etcd.Etcd().Server
	var problems []string
	if es.Leader() == 0 {
		problems = append(problems, "member has no leader")
	}
	committed, applied := es.CommittedIndex(), es.AppliedIndex()
	if committed > applied && committed-applied > s.opts.MaxCaughtUpLag {
		problems = append(problems, fmt.Sprintf("member is catching up (applied index %d, committed %d)", applied, committed))
	}
	for _, a := range es.Alarms() {
		if a.Alarm == pb.AlarmType_NOSPACE {
			problems = append(problems, fmt.Sprintf("alarm NOSPACE on member %x: database reached --quota-backend-bytes=%d, writes are rejected until it is compacted, defragmented and the alarm disarmed", a.MemberID, s.opts.Etcd.QuotaBackendBytes))
		} else if a.Alarm != pb.AlarmType_NONE {
			problems = append(problems, fmt.Sprintf("alarm %s on member %x", a.Alarm, a.MemberID))
		}
	}
	return problems
}
