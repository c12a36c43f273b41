// Package manager runs yurt-manager: the options lifecycle (NewOptions → AddFlags → Complete
// → Validate → Config → Run), leader election through a coordination.k8s.io Lease, the
// registry of controllers (controllers.go) with their shared informer factories and event
// recorder, and the /healthz, /readyz, /livez and /metrics listener.
package manager

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/component-base/metrics/legacyregistry"
	// Registers client-go's workqueue and REST client metrics with the legacy registry
	// served on /metrics: queue depth, adds, latency, retries; request latency and results.
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/workqueue"
	"k8s.io/klog/v2"

	yurtclient "github.com/yurt-edge/yurt/generated/clientset/versioned"
	yurtscheme "github.com/yurt-edge/yurt/generated/clientset/versioned/scheme"
	yurtinformers "github.com/yurt-edge/yurt/generated/informers/externalversions"
)

// eventScheme knows the Kubernetes and Yurt kinds, so events can refer to NodePools too.
var eventScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	// Both AddToScheme calls only register static types; they fail only on programmer error.
	_ = clientgoscheme.AddToScheme(s)
	_ = yurtscheme.AddToScheme(s)
	return s
}()

func eventSource(controller string) corev1.EventSource {
	return corev1.EventSource{Component: "yurt-manager/" + controller}
}

// LeaderElection configures the Lease-based election.
type LeaderElection struct {
	Enabled                                   bool
	Namespace, Name, Identity                 string
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// Config is a completed configuration.
type Config struct {
	RESTConfig *rest.Config
	// Controllers maps each enabled controller to its worker count.
	Controllers    map[string]int
	ResyncPeriod   time.Duration
	BindAddress    string
	LeaderElection LeaderElection
	// Initializers is the registry; nil means NewControllerInitializers().
	Initializers map[string]InitFunc
}

// Run serves health and metrics, waits to be elected (when enabled), then runs the enabled
// controllers until ctx ends. Losing the lease ends Run with an error, as in
// kube-controller-manager, so a supervisor restarts a clean process.
func (c *Config) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx)
	kubeClient, err := kubernetes.NewForConfig(c.RESTConfig)
	if err != nil {
		return fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	yurtClient, err := yurtclient.NewForConfig(c.RESTConfig)
	if err != nil {
		return fmt.Errorf("creating the Yurt client: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var elector *leaderelection.LeaderElector
	var watchdog *leaderelection.HealthzAdaptor
	if c.LeaderElection.Enabled {
		watchdog = leaderelection.NewLeaderHealthzAdaptor(20 * time.Second)
	}
	state := &runState{}
	serverErr := make(chan error, 1)
	if c.BindAddress != "" {
		ln, err := net.Listen("tcp", c.BindAddress)
		if err != nil {
			return fmt.Errorf("listening on --bind-address %s: %w", c.BindAddress, err)
		}
		logger.Info("Serving health and metrics", "address", ln.Addr().String())
		srv := &http.Server{Handler: healthMux(state, watchdog), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				serverErr <- fmt.Errorf("health and metrics server: %w", err)
				cancel()
			}
		}()
		defer func() {
			shutdownCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
			defer done()
			_ = srv.Shutdown(shutdownCtx)
		}()
	}

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartStructuredLogging(3)
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kubeClient.CoreV1().Events("")})
	defer broadcaster.Shutdown()

	run := func(ctx context.Context) error {
		return c.runControllers(ctx, kubeClient, yurtClient, broadcaster, state)
	}
	if !c.LeaderElection.Enabled {
		err := run(ctx)
		return errors.Join(err, drain(serverErr))
	}

	lock, err := resourcelock.New(resourcelock.LeasesResourceLock,
		c.LeaderElection.Namespace, c.LeaderElection.Name,
		kubeClient.CoreV1(), kubeClient.CoordinationV1(),
		resourcelock.ResourceLockConfig{
			Identity:      c.LeaderElection.Identity,
			EventRecorder: broadcaster.NewRecorder(eventScheme, eventSource("leader-election")),
		})
	if err != nil {
		return fmt.Errorf("creating the leader-election lock %s/%s: %w", c.LeaderElection.Namespace, c.LeaderElection.Name, err)
	}
	var (
		runErr    error
		runDone   = make(chan struct{})
		lostLease atomic.Bool
	)
	elector, err = leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   c.LeaderElection.LeaseDuration,
		RenewDeadline:   c.LeaderElection.RenewDeadline,
		RetryPeriod:     c.LeaderElection.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            "yurt-manager",
		WatchDog:        watchdog,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				logger.Info("Became the leader", "lease", c.LeaderElection.Namespace+"/"+c.LeaderElection.Name, "identity", c.LeaderElection.Identity)
				runErr = run(ctx)
				close(runDone)
				cancel()
			},
			OnStoppedLeading: func() {
				if ctx.Err() == nil {
					lostLease.Store(true)
					logger.Info("Lost the leader lease; stopping")
				}
				cancel()
			},
			OnNewLeader: func(identity string) {
				if identity != c.LeaderElection.Identity {
					logger.Info("Another instance leads", "leader", identity)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("configuring leader election: %w", err)
	}
	logger.Info("Waiting to acquire the leader lease", "lease", c.LeaderElection.Namespace+"/"+c.LeaderElection.Name, "identity", c.LeaderElection.Identity)
	elector.Run(ctx)
	// Run returns once leading ended; wait for the controllers to wind down if they started.
	select {
	case <-runDone:
	default:
		if elector.IsLeader() {
			<-runDone
		}
	}
	errs := []error{runErr, drain(serverErr)}
	if lostLease.Load() {
		errs = append(errs, errors.New("lost the leader-election lease"))
	}
	return errors.Join(errs...)
}

func drain(ch <-chan error) error {
	select {
	case err := <-ch:
		return err
	default:
		return nil
	}
}

// runControllers constructs the enabled controllers, starts the informers, waits for their
// caches and runs every controller until ctx ends.
func (c *Config) runControllers(ctx context.Context, kubeClient kubernetes.Interface, yurtClient yurtclient.Interface, broadcaster record.EventBroadcaster, state *runState) error {
	logger := klog.FromContext(ctx)
	initializers := c.Initializers
	if initializers == nil {
		initializers = NewControllerInitializers()
	}
	cc := &ControllerContext{
		RESTConfig:       rest.CopyConfig(c.RESTConfig),
		KubeClient:       kubeClient,
		YurtClient:       yurtClient,
		KubeInformers:    informers.NewSharedInformerFactory(kubeClient, c.ResyncPeriod),
		YurtInformers:    yurtinformers.NewSharedInformerFactory(yurtClient, c.ResyncPeriod),
		EventBroadcaster: broadcaster,
	}
	type started struct {
		name    string
		r       Runnable
		workers int
	}
	var controllers []started
	for _, name := range KnownControllerNamesOf(initializers) {
		workers, ok := c.Controllers[name]
		if !ok {
			logger.Info("Controller is disabled", "controller", name)
			continue
		}
		r, err := initializers[name](klog.NewContext(ctx, logger.WithValues("controller", name)), cc)
		if err != nil {
			return fmt.Errorf("starting controller %s: %w", name, err)
		}
		controllers = append(controllers, started{name, r, workers})
	}

	cc.KubeInformers.Start(ctx.Done())
	cc.YurtInformers.Start(ctx.Done())
	defer cc.KubeInformers.Shutdown()
	defer cc.YurtInformers.Shutdown()
	for typ, ok := range cc.KubeInformers.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("informer cache of %v did not sync: %w", typ, context.Cause(ctx))
		}
	}
	for typ, ok := range cc.YurtInformers.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("informer cache of %v did not sync: %w", typ, context.Cause(ctx))
		}
	}
	state.synced.Store(true)
	logger.Info("Informers synced; running controllers", "count", len(controllers))

	var wg sync.WaitGroup
	for _, s := range controllers {
		wg.Go(func() {
			s.r.Run(klog.NewContext(ctx, logger.WithValues("controller", s.name)), s.workers)
		})
	}
	wg.Wait()
	return nil
}

// KnownControllerNamesOf lists a registry's names, sorted.
func KnownControllerNamesOf(initializers map[string]InitFunc) []string {
	names := make([]string, 0, len(initializers))
	for n := range initializers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// runState is what /readyz reports on.
type runState struct {
	synced atomic.Bool
}

// healthMux serves /healthz and /livez (process alive, leader lease renewed in time when
// leading), /readyz (also informers synced once leading) and /metrics.
func healthMux(state *runState, watchdog *leaderelection.HealthzAdaptor) *http.ServeMux {
	mux := http.NewServeMux()
	live := []healthz.HealthChecker{healthz.PingHealthz}
	if watchdog != nil {
		live = append(live, watchdog)
	}
	healthz.InstallHandler(mux, live...)
	healthz.InstallLivezHandler(mux, live...)
	ready := append(append([]healthz.HealthChecker{}, live...), healthz.NamedCheck("informer-sync", func(*http.Request) error {
		if !state.synced.Load() {
			return errors.New("informer caches not synced yet (or not the leader)")
		}
		return nil
	}))
	healthz.InstallReadyzHandler(mux, ready...)
	mux.Handle("/metrics", legacyregistry.Handler())
	return mux
}
