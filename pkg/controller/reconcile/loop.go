// Package reconcile holds what every yurt-manager controller shares: a rate-limited workqueue
// of string keys drained by workers that call the controller's sync handler, with Prometheus
// counters of reconcile results and a histogram of their duration.
//
// A controller builds a Loop with NewLoop, enqueues keys from its informers' event handlers
// and calls Run(ctx, workers) once its informers are synced. Queue depth, adds, latency and
// retries come from client-go's workqueue metrics (the manager registers the provider); the
// reconcile counters here add what the queue cannot see: whether the handler succeeded.
package reconcile

import (
	"context"
	"sync"
	"time"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"
)

// SyncHandler reconciles the object named by key. An error requeues the key with backoff.
type SyncHandler func(ctx context.Context, key string) error

// Result labels of the reconcile counter.
const (
	ResultSuccess = "success"
	ResultError   = "error"
)

var (
	reconcileTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Subsystem:      "yurt_manager",
		Name:           "reconcile_total",
		Help:           "Reconciles by controller and result (success or error).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"controller", "result"})
	reconcileDuration = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Subsystem:      "yurt_manager",
		Name:           "reconcile_duration_seconds",
		Help:           "Time spent in one reconcile, by controller.",
		Buckets:        metrics.ExponentialBuckets(0.001, 2, 15),
		StabilityLevel: metrics.ALPHA,
	}, []string{"controller"})
	registerOnce sync.Once
)

// registerMetrics adds the reconcile metrics to the legacy registry the manager serves on /metrics.
func registerMetrics() {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(reconcileTotal, reconcileDuration)
	})
}

// MaxRetries is how often a failing key is retried with backoff before it is dropped (and
// picked up again by the next informer event or resync).
const MaxRetries = 15

// Loop is a named workqueue and the workers that drain it.
type Loop struct {
	name  string
	queue workqueue.TypedRateLimitingInterface[string]
	sync  SyncHandler
}

// NewLoop returns a loop called name (the controller's name; it names the queue's metrics).
func NewLoop(name string, sync SyncHandler) *Loop {
	registerMetrics()
	return &Loop{
		name: name,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: name},
		),
		sync: sync,
	}
}

// Name is the controller's name.
func (l *Loop) Name() string { return l.name }

// Add enqueues key.
func (l *Loop) Add(key string) { l.queue.Add(key) }

// AddAfter enqueues key after d, e.g. to look again once a deadline has passed.
func (l *Loop) AddAfter(key string, d time.Duration) { l.queue.AddAfter(key, d) }

// Len is the number of keys waiting.
func (l *Loop) Len() int { return l.queue.Len() }

// Run starts workers and blocks until ctx ends, then shuts the queue down and waits for the
// workers to finish their current key.
func (l *Loop) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrashWithContext(ctx)
	if workers < 1 {
		workers = 1
	}
	logger := klog.FromContext(ctx).WithValues("controller", l.name)
	ctx = klog.NewContext(ctx, logger)
	logger.Info("Starting workers", "workers", workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { wait.UntilWithContext(ctx, l.worker, time.Second) })
	}
	<-ctx.Done()
	l.queue.ShutDown()
	wg.Wait()
	logger.Info("Stopped workers")
}

func (l *Loop) worker(ctx context.Context) {
	for l.processNext(ctx) {
	}
}

// processNext handles one key; false means the queue is shut down.
func (l *Loop) processNext(ctx context.Context) bool {
	key, quit := l.queue.Get()
	if quit {
		return false
	}
	defer l.queue.Done(key)
	start := time.Now()
	err := l.sync(ctx, key)
	reconcileDuration.WithLabelValues(l.name).Observe(time.Since(start).Seconds())
	if err == nil {
		reconcileTotal.WithLabelValues(l.name, ResultSuccess).Inc()
		l.queue.Forget(key)
		return true
	}
	reconcileTotal.WithLabelValues(l.name, ResultError).Inc()
	logger := klog.FromContext(ctx)
	if l.queue.NumRequeues(key) < MaxRetries {
		logger.V(2).Info("Reconcile failed; retrying", "key", key, "err", err)
		l.queue.AddRateLimited(key)
		return true
	}
	utilruntime.HandleErrorWithContext(ctx, err, "Dropping key after retries", "key", key, "retries", MaxRetries)
	l.queue.Forget(key)
	return true
}
