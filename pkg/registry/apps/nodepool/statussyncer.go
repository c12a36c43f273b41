package nodepool

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	appsapi "github.com/yurt-edge/yurt/apis/apps"
	"github.com/yurt-edge/yurt/pkg/apis/apps"
)

// statusWriter is the part of the store the syncer writes through.
type statusWriter interface {
	Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error)
}

// maxNotFoundRetries bounds how often a pool that does not exist (yet) is retried: a node
// labelled for a pool that is being created is seen before the pool is stored.
const maxNotFoundRetries = 5

// StatusSyncer keeps the derived status of every NodePool in step with the cluster's Nodes.
type StatusSyncer struct {
	nodes  coreinformers.NodeInformer
	writer statusWriter
	queue  workqueue.TypedRateLimitingInterface[string]
}

// NewStatusSyncer watches Nodes through the informer and writes pool statuses through the
// storage's server status store.
func (s *Storage) NewStatusSyncer(nodes coreinformers.NodeInformer) (*StatusSyncer, error) {
	syncer := &StatusSyncer{
		nodes:  nodes,
		writer: s.serverStatus,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "nodepool_status"}),
	}
	_, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj interface{}) { syncer.enqueueNode(obj) },
		UpdateFunc: func(old, obj interface{}) {
			syncer.enqueueNode(old)
			syncer.enqueueNode(obj)
		},
		DeleteFunc: func(obj interface{}) { syncer.enqueueNode(obj) },
	})
	if err != nil {
		return nil, fmt.Errorf("watching nodes for pool status: %w", err)
	}
	return syncer, nil
}

func (s *StatusSyncer) enqueueNode(obj interface{}) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	if pool := node.Labels[appsapi.NodePoolLabel]; pool != "" {
		s.queue.Add(pool)
	}
}

// HasSynced says whether the node informer has its first full list.
func (s *StatusSyncer) HasSynced() bool { return s.nodes.Informer().HasSynced() }

// Run syncs pool statuses until ctx ends.
func (s *StatusSyncer) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrashWithContext(ctx)
	defer s.queue.ShutDown()
	logger := klog.FromContext(ctx)
	logger.Info("Starting NodePool status syncer")
	defer logger.Info("Stopped NodePool status syncer")
	if !cache.WaitForNamedCacheSyncWithContext(ctx, s.HasSynced) {
		return
	}
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, s.runWorker, time.Second)
	}
	<-ctx.Done()
}

func (s *StatusSyncer) runWorker(ctx context.Context) {
	for s.processNext(ctx) {
	}
}

func (s *StatusSyncer) processNext(ctx context.Context) bool {
	pool, quit := s.queue.Get()
	if quit {
		return false
	}
	defer s.queue.Done(pool)
	err := s.sync(ctx, pool)
	switch {
	case err == nil:
		s.queue.Forget(pool)
	case apierrors.IsNotFound(err):
		if s.queue.NumRequeues(pool) < maxNotFoundRetries {
			s.queue.AddRateLimited(pool)
		} else {
			s.queue.Forget(pool)
		}
	default:
		klog.FromContext(ctx).Error(err, "Syncing NodePool status", "nodepool", pool)
		s.queue.AddRateLimited(pool)
	}
	return true
}

// sync writes the pool's derived status if it changed. The store skips writes that change
// nothing, so an unchanged pool keeps its resourceVersion.
func (s *StatusSyncer) sync(ctx context.Context, name string) error {
	d, err := deriveStatus(s.nodes.Lister(), name)
	if err != nil {
		return fmt.Errorf("listing the nodes of pool %s: %w", name, err)
	}
	update := rest.DefaultUpdatedObjectInfo(nil, statusTransformer(d))
	// The generic store keys objects by the request's namespace, empty for cluster-scoped pools.
	ctx = genericapirequest.WithNamespace(ctx, metav1.NamespaceNone)
	_, _, err = s.writer.Update(ctx, name, update, rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("writing the status of pool %s: %w", name, err)
	}
	return err
}

// statusTransformer builds the updated pool from the stored one. DefaultUpdatedObjectInfo(nil, ...)
// hands a transformer a nil new object, so the stored (old) object is the starting point.
func statusTransformer(d derivedStatus) rest.TransformFunc {
	return func(_ context.Context, _, old runtime.Object) (runtime.Object, error) {
		stored, ok := old.(*apps.NodePool)
		if !ok {
			return nil, fmt.Errorf("stored object is a %T, not a NodePool", old)
		}
		pool := stored.DeepCopy()
		d.apply(pool)
		return pool, nil
	}
}
