// Package nodepool propagates each NodePool's spec.labels, spec.annotations and spec.taints
// to its member nodes (label apps.openyurt.io/nodepool=<pool>), removes keys that left the
// pool spec (the last applied set is kept in the node annotation
// nodepool.openyurt.io/previous-attributes, as OpenYurt does), and labels the nodes of
// hostNetwork pools nodepool.openyurt.io/hostnetwork=true. Nodes joining, leaving or moving
// between pools follow. NodePool status is not written here: yurt-apiserver computes it.
//
// Keys are node names: a node is reconciled against the pool its label names, and a pool
// change enqueues the pool's members.
package nodepool

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/apis/apps"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	appsinformers "github.com/yurt-edge/yurt/generated/informers/externalversions/apps/v1beta2"
	appslisters "github.com/yurt-edge/yurt/generated/listers/apps/v1beta2"
	"github.com/yurt-edge/yurt/pkg/controller/reconcile"
)

// ControllerName is the controller's name in --controllers and in metrics.
const ControllerName = "nodepool"

// Event reasons.
const (
	ReasonApplied          = "PoolAttributesApplied"
	ReasonTaintConflict    = "TaintConflict"
	ReasonBadPreviousAttrs = "InvalidPreviousAttributes"
	nodesByPoolIndex       = "byNodePool"
)

// Controller reconciles nodes against their pools.
type Controller struct {
	client    kubernetes.Interface
	nodes     corelisters.NodeLister
	nodeIndex cache.Indexer
	pools     appslisters.NodePoolLister
	recorder  record.EventRecorder
	loop      *reconcile.Loop
}

// NewController registers the event handlers and the node index by pool; Run starts the workers.
func NewController(client kubernetes.Interface, nodes coreinformers.NodeInformer, pools appsinformers.NodePoolInformer, recorder record.EventRecorder) *Controller {
	c := &Controller{
		client:   client,
		nodes:    nodes.Lister(),
		pools:    pools.Lister(),
		recorder: recorder,
	}
	c.loop = reconcile.NewLoop(ControllerName, c.sync)
	// The indexer may already have the index when another controller added it first.
	_ = nodes.Informer().AddIndexers(cache.Indexers{nodesByPoolIndex: func(obj any) ([]string, error) {
		n, ok := obj.(*corev1.Node)
		if !ok {
			return nil, nil
		}
		if p := n.Labels[apps.NodePoolLabel]; p != "" {
			return []string{p}, nil
		}
		return nil, nil
	}})
	c.nodeIndex = nodes.Informer().GetIndexer()

	_, _ = nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.enqueueNode(obj) },
		UpdateFunc: func(old, cur any) {
			o, n := old.(*corev1.Node), cur.(*corev1.Node)
			// Status updates (heartbeats) do not change what the pool applies.
			if !equality.Semantic.DeepEqual(o.Labels, n.Labels) ||
				!equality.Semantic.DeepEqual(o.Annotations, n.Annotations) ||
				!equality.Semantic.DeepEqual(o.Spec.Taints, n.Spec.Taints) {
				c.enqueueNode(cur)
			}
		},
	})
	_, _ = pools.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.enqueuePool(obj) },
		UpdateFunc: func(old, cur any) {
			o, n := old.(*appsv1beta2.NodePool), cur.(*appsv1beta2.NodePool)
			if o.Spec.HostNetwork != n.Spec.HostNetwork ||
				!equality.Semantic.DeepEqual(o.Spec.Labels, n.Spec.Labels) ||
				!equality.Semantic.DeepEqual(o.Spec.Annotations, n.Spec.Annotations) ||
				!equality.Semantic.DeepEqual(o.Spec.Taints, n.Spec.Taints) {
				c.enqueuePool(cur)
			}
		},
		DeleteFunc: func(obj any) { c.enqueuePool(obj) },
	})
	return c
}

// Run starts workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) { c.loop.Run(ctx, workers) }

func (c *Controller) enqueueNode(obj any) {
	if n, ok := obj.(*corev1.Node); ok {
		c.loop.Add(n.Name)
	}
}

// enqueuePool enqueues every node labelled with the pool.
func (c *Controller) enqueuePool(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	p, ok := obj.(*appsv1beta2.NodePool)
	if !ok {
		return
	}
	members, err := c.nodeIndex.ByIndex(nodesByPoolIndex, p.Name)
	if err != nil {
		return
	}
	for _, m := range members {
		c.enqueueNode(m)
	}
}

// sync brings one node's pool attributes in line with its pool's spec.
func (c *Controller) sync(ctx context.Context, name string) error {
	node, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting node %s: %w", name, err)
	}
	poolName := node.Labels[apps.NodePoolLabel]
	logger := klog.FromContext(ctx).WithValues("node", name, "pool", poolName)

	var pool *appsv1beta2.NodePool
	if poolName != "" {
		pool, err = c.pools.Get(poolName)
		if apierrors.IsNotFound(err) {
			// A label naming no pool: nothing to apply; what an earlier pool applied goes.
			logger.V(2).Info("Node names a pool that does not exist")
			pool = nil
		} else if err != nil {
			return fmt.Errorf("getting pool %s of node %s: %w", poolName, name, err)
		}
	}

	prev, err := previousAttributes(node)
	if err != nil {
		// Not retried: the same bytes fail the same way. The annotation is rewritten below.
		c.recorder.Eventf(node, corev1.EventTypeWarning, ReasonBadPreviousAttrs, "%v; keys it named are no longer tracked", err)
		logger.Info("Ignoring malformed previous attributes", "err", err)
	}
	updated := node.DeepCopy()
	ch := apply(updated, prev, desiredAttributes(pool))

	if len(ch.Conflicts) > 0 {
		c.reportConflicts(node, pool, ch.Conflicts)
	}
	if ch.empty() && node.Annotations[apps.PreviousAttributesAnnotation] == updated.Annotations[apps.PreviousAttributesAnnotation] {
		return nil
	}
	if _, err := c.client.CoreV1().Nodes().Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating node %s with the attributes of pool %q: %w", name, poolName, err)
	}
	if !ch.empty() {
		msg := describe(poolName, ch)
		logger.V(2).Info("Applied pool attributes", "change", msg)
		c.recorder.Event(updated, corev1.EventTypeNormal, ReasonApplied, msg)
	}
	return nil
}

// reportConflicts explains on the node and on the pool why a pool taint was not applied. It
// does not return an error: retrying cannot resolve it, and the node's next taint change
// brings the node back to the queue.
func (c *Controller) reportConflicts(node *corev1.Node, pool *appsv1beta2.NodePool, conflicts []TaintConflict) {
	var parts []string
	for _, cf := range conflicts {
		parts = append(parts, fmt.Sprintf("pool taint %s clashes with the node's %s", taintString(cf.Wanted), taintString(cf.Existing)))
	}
	msg := strings.Join(parts, "; ") + "; not overwriting a taint the pool did not set (remove or align it to let the pool's apply)"
	c.recorder.Event(node, corev1.EventTypeWarning, ReasonTaintConflict, msg)
	if pool != nil {
		c.recorder.Eventf(pool, corev1.EventTypeWarning, ReasonTaintConflict, "node %s: %s", node.Name, msg)
	}
}

// describe summarizes a change for an event.
func describe(pool string, ch Change) string {
	var parts []string
	add := func(what string, keys []string) {
		if len(keys) > 0 {
			parts = append(parts, what+" "+strings.Join(keys, ","))
		}
	}
	add("set labels", ch.SetLabels)
	add("removed labels", ch.RemovedLabels)
	add("set annotations", ch.SetAnnotations)
	add("removed annotations", ch.RemovedAnnotations)
	add("added taints", ch.AddedTaints)
	add("removed taints", ch.RemovedTaints)
	if pool == "" {
		pool = "(none)"
	}
	return "pool " + pool + ": " + strings.Join(parts, "; ")
}
