// Package delegatedheartbeat taints nodes whose heartbeat is renewed by their pool's leader
// hub instead of by themselves, and removes the taint once they heartbeat directly again.
//
// A hub that cannot reach the cloud marks its node's Lease in the coordinator with
// openyurt.io/delegate-heartbeat: "true"; the pool's leader hub copies that Lease, annotation
// included, to kube-node-lease/<node> in the cloud. Such a node stays Ready (its Lease is
// renewed) but nothing new should be scheduled on it while the cloud cannot reach it, so it
// gets node.openyurt.io/unschedulable:NoSchedule. Keys are node names.
package delegatedheartbeat

import (
	"context"
	"fmt"
	"slices"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationinformers "k8s.io/client-go/informers/coordination/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	coordinationlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/controller/reconcile"
)

const (
	// ControllerName is the controller's name in --controllers and in metrics.
	ControllerName = "delegatedheartbeat"
	// DelegateHeartbeatAnnotation on a node Lease says the pool leader renews it for the node.
	DelegateHeartbeatAnnotation = "openyurt.io/delegate-heartbeat"
	// UnschedulableTaintKey is the taint put on nodes whose heartbeat is delegated.
	UnschedulableTaintKey = "node.openyurt.io/unschedulable"
	// NodeLeaseNamespace holds the nodes' heartbeat Leases.
	NodeLeaseNamespace = corev1.NamespaceNodeLease
)

// Event reasons.
const (
	ReasonTainted   = "DelegatedHeartbeat"
	ReasonUntainted = "DirectHeartbeat"
)

// Controller keeps the unschedulable taint in step with the Leases' annotation.
type Controller struct {
	client   kubernetes.Interface
	nodes    corelisters.NodeLister
	leases   coordinationlisters.LeaseLister
	recorder record.EventRecorder
	loop     *reconcile.Loop
}

// NewController registers the event handlers; Run starts the workers.
func NewController(client kubernetes.Interface, nodes coreinformers.NodeInformer, leases coordinationinformers.LeaseInformer, recorder record.EventRecorder) *Controller {
	c := &Controller{
		client:   client,
		nodes:    nodes.Lister(),
		leases:   leases.Lister(),
		recorder: recorder,
	}
	c.loop = reconcile.NewLoop(ControllerName, c.sync)
	// Only a change of the annotation or of the taint matters; renewals are frequent.
	_, _ = leases.Informer().AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: func(obj any) bool {
			l, ok := obj.(*coordinationv1.Lease)
			if !ok {
				if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					l, _ = t.Obj.(*coordinationv1.Lease)
				}
			}
			return l != nil && l.Namespace == NodeLeaseNamespace
		},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) { c.enqueue(obj) },
			UpdateFunc: func(old, cur any) {
				if delegated(old.(*coordinationv1.Lease)) != delegated(cur.(*coordinationv1.Lease)) {
					c.enqueue(cur)
				}
			},
			DeleteFunc: func(obj any) { c.enqueue(obj) },
		},
	})
	_, _ = nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.enqueue(obj) },
		UpdateFunc: func(old, cur any) {
			if hasTaint(old.(*corev1.Node)) != hasTaint(cur.(*corev1.Node)) {
				c.enqueue(cur)
			}
		},
	})
	return c
}

// Run starts workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) { c.loop.Run(ctx, workers) }

// enqueue adds the name of a Node or Lease (the Lease is named after its node).
func (c *Controller) enqueue(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if m, ok := obj.(metav1.Object); ok {
		c.loop.Add(m.GetName())
	}
}

func delegated(l *coordinationv1.Lease) bool {
	return l != nil && l.Annotations[DelegateHeartbeatAnnotation] == "true"
}

func isOurTaint(t corev1.Taint) bool {
	return t.Key == UnschedulableTaintKey && t.Effect == corev1.TaintEffectNoSchedule
}

func hasTaint(n *corev1.Node) bool { return slices.ContainsFunc(n.Spec.Taints, isOurTaint) }

// sync adds the taint to a node whose Lease is delegated and removes it otherwise.
func (c *Controller) sync(ctx context.Context, name string) error {
	logger := klog.FromContext(ctx).WithValues("node", name)
	node, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting node %s: %w", name, err)
	}
	lease, err := c.leases.Leases(NodeLeaseNamespace).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("getting lease %s/%s: %w", NodeLeaseNamespace, name, err)
	}
	want := delegated(lease)
	if want == hasTaint(node) {
		return nil
	}
	node = node.DeepCopy()
	if want {
		node.Spec.Taints = append(node.Spec.Taints, corev1.Taint{Key: UnschedulableTaintKey, Value: "true", Effect: corev1.TaintEffectNoSchedule})
	} else {
		node.Spec.Taints = slices.DeleteFunc(node.Spec.Taints, isOurTaint)
	}
	if _, err := c.client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating the taints of node %s: %w", name, err)
	}
	if want {
		logger.Info("Tainted node: its heartbeat is delegated to the pool leader")
		c.recorder.Eventf(node, corev1.EventTypeNormal, ReasonTainted,
			"Lease %s/%s carries %s=true (the pool leader renews it because the node cannot reach the cloud); tainted %s:NoSchedule",
			NodeLeaseNamespace, name, DelegateHeartbeatAnnotation, UnschedulableTaintKey)
	} else {
		logger.Info("Removed the delegated-heartbeat taint: the node heartbeats directly")
		c.recorder.Eventf(node, corev1.EventTypeNormal, ReasonUntainted,
			"Lease %s/%s no longer carries %s=true; removed taint %s:NoSchedule",
			NodeLeaseNamespace, name, DelegateHeartbeatAnnotation, UnschedulableTaintKey)
	}
	return nil
}
