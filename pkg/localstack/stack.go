// Package localstack runs a local Yurt control plane on loopback out of real processes: the
// project's embedded etcd in this process, the real kube-apiserver binary on it, and
// bin/yurt-apiserver registered behind kube-apiserver through APIServices. `yurtctl local up`
// (make local-up) and the end-to-end tests both use it.
//
// Layout of Options.Dir:
//
//	pki/                  CAs, serving and client certificates, service-account keys
//	admin.kubeconfig      system:masters client for kube-apiserver
//	etcd/                 kube-apiserver's storage (kept across runs)
//	kube-apiserver/       kube-apiserver's --cert-dir
//	yurt-apiserver/certs  yurt-apiserver's self-signed serving certificate
//	yurt-apiserver/data   yurt-apiserver's embedded etcd (kept across runs)
//	logs/<component>.log  log of etcd and of each child process, appended across runs
package localstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/embeddedetcd"
)

// Options configure a local stack.
type Options struct {
	// Dir holds everything the stack writes (see the package documentation). Required.
	Dir string
	// BinDir holds kube-apiserver and the other Kubernetes binaries. Default bin/kube.
	BinDir string
	// YurtBinDir holds yurt-apiserver. Default bin.
	YurtBinDir string
	// YurtAPIServerPort is yurt-apiserver's port on 127.0.0.1; 0 picks a free one. The
	// ExternalName Service and APIServices are generated for whichever port is used.
	YurtAPIServerPort int
	// SkipYurtAPIServer starts only etcd and kube-apiserver; StartYurtAPIServer can add
	// yurt-apiserver later.
	SkipYurtAPIServer bool
	// Logger receives progress messages. Default: klog.FromContext of Start's context.
	Logger klog.Logger

	// EtcdUnsafeNoFsync skips fsync in kube-apiserver's etcd: faster, for throwaway test data.
	EtcdUnsafeNoFsync bool
	// RemoveDirOnStop removes Dir, logs included, once Stop has stopped everything.
	RemoveDirOnStop bool
	// StartTimeout bounds the wait for each server to become ready. Default 2 minutes.
	StartTimeout time.Duration
	// StopTimeout is how long a process has to exit after SIGTERM before it is killed. Default 20s.
	StopTimeout time.Duration
	// KubeAPIServerArgs are appended to kube-apiserver's flags; a flag given here overrides the stack's.
	KubeAPIServerArgs []string
	// YurtAPIServerArgs are appended to yurt-apiserver's flags.
	YurtAPIServerArgs []string
	// ExtraServingSANs (DNS names or IPs) are added to kube-apiserver's serving certificate,
	// e.g. an address reachable from a network namespace.
	ExtraServingSANs []string
}

// Stack is a running local control plane.
type Stack struct {
	// Dir is the stack's directory (absolute).
	Dir string
	// AdminKubeconfig is the path of a kubeconfig for kube-apiserver as a member of system:masters.
	AdminKubeconfig string
	// KubeAPIServerURL is kube-apiserver's https URL on 127.0.0.1.
	KubeAPIServerURL string
	// YurtAPIServerURL and YurtAPIServerPort are where yurt-apiserver listens once started.
	YurtAPIServerURL  string
	YurtAPIServerPort int
	// EtcdEndpoints are the client URLs of kube-apiserver's etcd.
	EtcdEndpoints []string
	// PKI is the stack's certificates, e.g. to make client certificates for more users.
	PKI *PKI

	opts     Options
	logger   klog.Logger
	etcd     *embeddedetcd.Server
	stopping atomic.Bool
	failed   chan error
	stopped  chan struct{}
	stopOnce sync.Once
	stopErr  error

	mu            sync.Mutex
	kubeAPIServer *Process
	// components are kube-controller-manager, hollow nodes, yurt-manager (components.go).
	components    []*Process
	yurtAPIServer *Process
}

// Start starts etcd, kube-apiserver and, unless opts.SkipYurtAPIServer, yurt-apiserver, and
// returns once all are ready and yurt-apiserver's APIServices are Available. ctx bounds the
// start only; the stack runs until Stop. On error everything already started is stopped.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	if err := opts.complete(); err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger.GetSink() == nil {
		logger = klog.FromContext(ctx)
	}
	s := &Stack{
		Dir:               opts.Dir,
		AdminKubeconfig:   filepath.Join(opts.Dir, "admin.kubeconfig"),
		YurtAPIServerPort: opts.YurtAPIServerPort,
		opts:              opts,
		logger:            logger,
		failed:            make(chan error, 4),
		stopped:           make(chan struct{}),
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the stack directory: %w", err)
	}
	defer func() {
		if err != nil {
			if stopErr := s.Stop(); stopErr != nil {
				err = errors.Join(err, fmt.Errorf("cleaning up: %w", stopErr))
			}
		}
	}()

	if s.PKI, err = GeneratePKI(filepath.Join(s.Dir, "pki"), opts.ExtraServingSANs); err != nil {
		return nil, err
	}
	if err := s.startEtcd(ctx); err != nil {
		return nil, err
	}
	if err := s.startKubeAPIServer(ctx); err != nil {
		return nil, err
	}
	if !opts.SkipYurtAPIServer {
		if err := s.StartYurtAPIServer(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (o *Options) complete() error {
	if o.Dir == "" {
		return fmt.Errorf("localstack: a directory is required")
	}
	if o.BinDir == "" {
		o.BinDir = filepath.Join("bin", "kube")
	}
	if o.YurtBinDir == "" {
		o.YurtBinDir = "bin"
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 2 * time.Minute
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = 20 * time.Second
	}
	if o.YurtAPIServerPort < 0 || o.YurtAPIServerPort > 65535 {
		return fmt.Errorf("localstack: yurt-apiserver port %d is out of range", o.YurtAPIServerPort)
	}
	for _, p := range []*string{&o.Dir, &o.BinDir, &o.YurtBinDir} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	var errs []error
	if err := checkExecutable(filepath.Join(o.BinDir, "kube-apiserver")); err != nil {
		errs = append(errs, fmt.Errorf("%w (build it with make kube-binaries)", err))
	}
	if !o.SkipYurtAPIServer {
		if err := checkExecutable(filepath.Join(o.YurtBinDir, "yurt-apiserver")); err != nil {
			errs = append(errs, fmt.Errorf("%w (build it with make build)", err))
		}
	}
	return errors.Join(errs...)
}

// checkExecutable reports a missing or non-executable binary.
func checkExecutable(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("localstack: %w", err)
	}
	if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("localstack: %s is not an executable file", path)
	}
	return nil
}

// startEtcd starts kube-apiserver's etcd in this process, on free loopback ports.
func (s *Stack) startEtcd(ctx context.Context) error {
	o := embeddedetcd.NewOptions(filepath.Join(s.Dir, "etcd"))
	o.UnsafeNoFsync = s.opts.EtcdUnsafeNoFsync
	if err := o.Complete(); err != nil {
		return err
	}
	if err := errors.Join(o.Validate()...); err != nil {
		return err
	}
	cfg, err := o.Config()
	if err != nil {
		return err
	}
	// etcd's own log goes beside the other components' rather than to the terminal.
	logFile := s.logFile("etcd")
	if err := os.MkdirAll(filepath.Dir(logFile), 0o700); err != nil {
		return err
	}
	cfg.LogOutputs = []string{logFile}
	// embed.NewConfig leaves this at 0, which logs every request as slow.
	cfg.WarningUnaryRequestDuration = embed.DefaultWarningUnaryRequestDuration
	if s.etcd, err = embeddedetcd.Start(ctx, cfg); err != nil {
		return err
	}
	s.EtcdEndpoints = s.etcd.Endpoints()
	s.logger.Info("Started etcd", "dataDir", cfg.Dir, "endpoints", s.EtcdEndpoints, "log", logFile)
	go func(etcd *embeddedetcd.Server) {
		select {
		case err := <-etcd.Err():
			if err != nil && !s.stopping.Load() {
				s.reportFailure(fmt.Errorf("etcd failed: %w; see %s", err, logFile))
			}
		case <-s.stopped:
		}
	}(s.etcd)
	return nil
}

// setProcess records a started process and reports its exit through Failed unless it was stopped.
func (s *Stack) setProcess(field **Process, proc *Process) {
	s.mu.Lock()
	*field = proc
	s.mu.Unlock()
	go func() {
		<-proc.Done()
		if !proc.Stopping() && !s.stopping.Load() {
			s.reportFailure(proc.exitedError())
		}
	}()
}

func (s *Stack) reportFailure(err error) {
	select {
	case s.failed <- err:
	default:
	}
}

// Failed receives an error when etcd or a server of the stack ends without Stop (or
// StopYurtAPIServer) having been called.
func (s *Stack) Failed() <-chan error { return s.failed }

// RESTConfig returns a new client configuration for kube-apiserver as the admin user
// (system:masters).
func (s *Stack) RESTConfig() *rest.Config {
	return &rest.Config{
		Host: s.KubeAPIServerURL,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   s.PKI.CA.CertPEM,
			CertData: s.PKI.Admin.CertPEM,
			KeyData:  s.PKI.Admin.KeyPEM,
		},
		QPS:   100,
		Burst: 200,
	}
}

// LogFile is the path of a component's log, e.g. LogFile("kube-apiserver").
func (s *Stack) LogFile(component string) string { return s.logFile(component) }

func (s *Stack) logFile(component string) string {
	return filepath.Join(s.Dir, "logs", component+".log")
}

// Stop stops yurt-apiserver, then kube-apiserver, then etcd, and removes Dir only if
// Options.RemoveDirOnStop is set. It is safe to call more than once; later calls return the
// first call's result.
func (s *Stack) Stop() error {
	s.stopOnce.Do(func() {
		s.stopping.Store(true)
		errs := s.stopComponents()
		s.mu.Lock()
		yurt, kube := s.yurtAPIServer, s.kubeAPIServer
		s.mu.Unlock()
		for _, proc := range []*Process{yurt, kube} {
			if proc == nil {
				continue
			}
			s.logger.Info("Stopping "+proc.Name, "pid", proc.Pid())
			if err := proc.Stop(s.opts.StopTimeout); err != nil {
				errs = append(errs, err)
			}
		}
		if s.etcd != nil {
			s.logger.Info("Stopping etcd")
			s.etcd.Close()
		}
		if s.opts.RemoveDirOnStop {
			if err := os.RemoveAll(s.Dir); err != nil {
				errs = append(errs, fmt.Errorf("removing %s: %w", s.Dir, err))
			}
		}
		s.stopErr = errors.Join(errs...)
		close(s.stopped)
	})
	return s.stopErr
}
