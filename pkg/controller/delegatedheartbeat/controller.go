// Package delegatedheartbeat taints nodes whose heartbeat is renewed by their pool's leader
// hub instead of by themselves, and removes the taint once they heartbeat directly again.
//
// A hub that cannot reach the cloud marks its node's Lease in the coordinator with
// openyurt.io/delegate-heartbeat: "true"; the pool's leader hub copies that Lease, annotation
// included, to kube-node-lease/<node> in the cloud. Such a node stays Ready (its Lease is
// renewed) but nothing new should be scheduled on it while the cloud cannot reach it, so it
// gets node.openyurt.io/unschedulable:NoSchedule. Keys are node names.
//
// kube-controller-manager sets a node's Ready to Unknown when its Lease goes unrenewed past
// the grace period (a handover between pool leaders can take that long), and never sets it
// back on a Lease renewal: only kubelet's status update does, and kubelet cannot reach the
// cloud. So, as OpenYurt's delegate-lease controller does, a node whose delegated Lease is
// fresh and whose Ready is Unknown gets Ready=True with reason NodeDelegateLease; the node
// lifecycle controller then lifts its unreachable taints and evicts nothing.
package delegatedheartbeat

import (
	"context"
	"fmt"
	"slices"
	"time"

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
	// ReasonDelegateLease is the Ready condition's reason when this controller set it.
	ReasonDelegateLease = "NodeDelegateLease"
)

// defaultLeaseDuration stands in for a Lease without a duration (kubelet's default).
const defaultLeaseDuration = 40 * time.Second

// Controller keeps the unschedulable taint in step with the Leases' annotation.
type Controller struct {
	client   kubernetes.Interface
	nodes    corelisters.NodeLister
	leases   coordinationlisters.LeaseLister
	recorder record.EventRecorder
	loop     *reconcile.Loop
	// now is the clock (time.Now outside tests).
	now func() time.Time
}

// NewController registers the event handlers; Run starts the workers.
func NewController(client kubernetes.Interface, nodes coreinformers.NodeInformer, leases coordinationinformers.LeaseInformer, recorder record.EventRecorder) *Controller {
	c := &Controller{
		client:   client,
		nodes:    nodes.Lister(),
		leases:   leases.Lister(),
		recorder: recorder,
		now:      time.Now,
	}
	c.loop = reconcile.NewLoop(ControllerName, c.sync)
	// A change of the annotation or of the taint matters, and a renewal of a delegated Lease
	// (it may make an Unknown node Ready); direct renewals are frequent and do not matter.
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
				if delegated(old.(*coordinationv1.Lease)) || delegated(cur.(*coordinationv1.Lease)) {
					c.enqueue(cur)
				}
			},
			DeleteFunc: func(obj any) { c.enqueue(obj) },
		},
	})
	_, _ = nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.enqueue(obj) },
		UpdateFunc: func(old, cur any) {
			o, n := old.(*corev1.Node), cur.(*corev1.Node)
			if hasTaint(o) != hasTaint(n) || readyStatus(o) != readyStatus(n) {
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

// readyStatus is the status of n's Ready condition ("" without one).
func readyStatus(n *corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return ""
}

// fresh tells whether l was renewed within its duration: its renewer is alive.
func fresh(l *coordinationv1.Lease, now time.Time) bool {
	if l == nil || l.Spec.RenewTime == nil {
		return false
	}
	d := defaultLeaseDuration
	if l.Spec.LeaseDurationSeconds != nil && *l.Spec.LeaseDurationSeconds > 0 {
		d = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	return now.Sub(l.Spec.RenewTime.Time) <= d
}

// sync adds the taint to a node whose Lease is delegated and removes it otherwise, and sets
// Ready back to True on a node whose delegated Lease is fresh.
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
	if want && readyStatus(node) == corev1.ConditionUnknown && fresh(lease, c.now()) {
		if err := c.setReady(ctx, node, lease); err != nil {
			return err
		}
		// The status update changed the node's resourceVersion; the taint is handled on
		// the next pass (the node's Ready change enqueues it).
		return nil
	}
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

// setReady sets node's Ready condition to True on the strength of its delegated Lease.
func (c *Controller) setReady(ctx context.Context, node *corev1.Node, lease *coordinationv1.Lease) error {
	node = node.DeepCopy()
	now := metav1.NewTime(c.now())
	for i := range node.Status.Conditions {
		cond := &node.Status.Conditions[i]
		if cond.Type != corev1.NodeReady {
			continue
		}
		cond.Status = corev1.ConditionTrue
		cond.Reason = ReasonDelegateLease
		cond.Message = fmt.Sprintf("The pool leader renews Lease %s/%s for the node (%s=true): it is alive but cannot reach the cloud",
			NodeLeaseNamespace, node.Name, DelegateHeartbeatAnnotation)
		// The heartbeat is the Lease's last renewal, not this update.
		cond.LastHeartbeatTime = metav1.NewTime(lease.Spec.RenewTime.Time)
		cond.LastTransitionTime = now
	}
	if _, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("setting node %s Ready on its delegated heartbeat: %w", node.Name, err)
	}
	klog.FromContext(ctx).Info("Set node Ready: its Ready was Unknown but its delegated Lease is renewed", "node", node.Name, "renewTime", lease.Spec.RenewTime.Time)
	c.recorder.Eventf(node, corev1.EventTypeNormal, ReasonDelegateLease,
		"Ready was Unknown but Lease %s/%s is renewed by the pool leader (%s=true, renewed %s); set Ready=True",
		NodeLeaseNamespace, node.Name, DelegateHeartbeatAnnotation, lease.Spec.RenewTime.UTC().Format(time.RFC3339))
	return nil
}
