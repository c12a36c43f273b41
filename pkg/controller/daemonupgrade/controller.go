// Package daemonupgrade upgrades DaemonSets across flaky edge links, as OpenYurt's
// daemon-pod-updater does. DaemonSets annotated apps.openyurt.io/update-strategy with
// updateStrategy OnDelete (so kube-controller-manager only recreates deleted pods):
//
//   - AdvancedRollingUpdate: old-revision pods on Ready nodes are deleted, at most
//     apps.openyurt.io/max-unavailable (default 10%, rounded up) unavailable at a time; pods on
//     NotReady nodes are skipped and upgraded once their node is Ready again.
//   - OTA: every pod gets condition PodNeedUpgrade (True when its revision is not the newest),
//     and the node's hub lets local users trigger the upgrade (pkg/hub/server/ota.go).
//
// The newest revision is the DaemonSet's ControllerRevision with the highest revision, which
// kube-controller-manager writes on each template change; pods carry its hash in the
// controller-revision-hash label.
package daemonupgrade

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	appsinformers "k8s.io/client-go/informers/apps/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/controller/reconcile"
)

// ControllerName is the controller's name in --controllers and in metrics.
const ControllerName = "daemonupgrade"

// Event reasons.
const (
	ReasonStrategyNeedsOnDelete = "UpdateStrategyNotOnDelete"
	ReasonBadMaxUnavailable     = "InvalidMaxUnavailable"
	ReasonUpgrading             = "UpgradingPods"
	ReasonWaitingForNodes       = "WaitingForNotReadyNodes"
	ReasonUpgraded              = "Upgraded"
)

// recheck is how soon a DaemonSet with old pods left is looked at again, in case an event
// that would bring it back (a node turning Ready) was missed.
const recheck = 30 * time.Second

// Controller upgrades annotated DaemonSets.
type Controller struct {
	client    kubernetes.Interface
	daemons   appslisters.DaemonSetLister
	pods      corelisters.PodLister
	nodes     corelisters.NodeLister
	revisions appslisters.ControllerRevisionLister
	recorder  record.EventRecorder
	loop      *reconcile.Loop

	// reported remembers the last event per DaemonSet and reason, so a steady state does not
	// repeat the same event on every pod status change.
	mu       sync.Mutex
	reported map[string]string
	// pending holds, per DaemonSet key, the nodes whose old pod was deleted and when; a node
	// counts as unavailable until it runs a Ready pod at the newest revision (expectations,
	// as Kubernetes' controllers keep them), or pendingTimeout passes.
	pending map[string]map[string]time.Time
	now     func() time.Time
}

// pendingTimeout bounds how long a deleted pod's node blocks the budget when no
// replacement turns Ready (say the DaemonSet no longer targets the node).
const pendingTimeout = 5 * time.Minute

// NewController registers event handlers on the informers; Run starts the workers.
func NewController(client kubernetes.Interface, daemons appsinformers.DaemonSetInformer, pods coreinformers.PodInformer,
	nodes coreinformers.NodeInformer, revisions appsinformers.ControllerRevisionInformer, recorder record.EventRecorder) *Controller {
	c := &Controller{
		client: client, daemons: daemons.Lister(), pods: pods.Lister(), nodes: nodes.Lister(),
		revisions: revisions.Lister(), recorder: recorder, reported: map[string]string{},
		pending: map[string]map[string]time.Time{}, now: time.Now,
	}
	c.loop = reconcile.NewLoop(ControllerName, c.sync)
	_, _ = daemons.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueDaemonSet,
		UpdateFunc: func(_, cur any) { c.enqueueDaemonSet(cur) },
		DeleteFunc: func(obj any) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				c.forget(key)
			}
		},
	})
	podHandler := func(obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		if ref := metav1.GetControllerOf(pod); ref != nil && ref.Kind == "DaemonSet" {
			if ds, err := c.daemons.DaemonSets(pod.Namespace).Get(ref.Name); err == nil && ds.UID == ref.UID && Strategy(ds) != "" {
				c.loop.Add(pod.Namespace + "/" + ref.Name)
			}
		}
	}
	_, _ = pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    podHandler,
		UpdateFunc: func(_, cur any) { podHandler(cur) },
		DeleteFunc: podHandler,
	})
	_, _ = nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(old, cur any) {
			if nodeReady(old.(*corev1.Node)) != nodeReady(cur.(*corev1.Node)) {
				c.enqueueAnnotated()
			}
		},
	})
	_, _ = revisions.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			r, ok := obj.(*appsv1.ControllerRevision)
			if !ok {
				return
			}
			if ref := metav1.GetControllerOf(r); ref != nil && ref.Kind == "DaemonSet" {
				c.loop.Add(r.Namespace + "/" + ref.Name)
			}
		},
	})
	return c
}

// Run starts workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) { c.loop.Run(ctx, workers) }

func (c *Controller) enqueueDaemonSet(obj any) {
	ds, ok := obj.(*appsv1.DaemonSet)
	if !ok || Strategy(ds) == "" {
		return
	}
	c.loop.Add(ds.Namespace + "/" + ds.Name)
}

func (c *Controller) enqueueAnnotated() {
	list, err := c.daemons.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range list {
		c.enqueueDaemonSet(ds)
	}
}

func (c *Controller) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, key)
	for k := range c.reported {
		if strings.HasPrefix(k, key+"|") {
			delete(c.reported, k)
		}
	}
}

// event records an event unless the same reason and message was the last one for the key.
func (c *Controller) event(key string, ds *appsv1.DaemonSet, typ, reason, msg string) {
	c.mu.Lock()
	last, seen := c.reported[key+"|"+reason]
	c.reported[key+"|"+reason] = msg
	c.mu.Unlock()
	if !seen || last != msg {
		c.recorder.Event(ds, typ, reason, msg)
	}
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	ds, err := c.daemons.DaemonSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.forget(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting DaemonSet %s: %w", key, err)
	}
	strategy := Strategy(ds)
	if strategy == "" || ds.DeletionTimestamp != nil {
		return nil
	}
	logger := klog.FromContext(ctx).WithValues("daemonset", key, "strategy", strategy)
	if ds.Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType {
		// Not retried: with RollingUpdate kube-controller-manager upgrades on its own.
		c.event(key, ds, corev1.EventTypeWarning, ReasonStrategyNeedsOnDelete, fmt.Sprintf(
			"%s=%s needs spec.updateStrategy.type OnDelete, not %s; leaving the upgrade to kube-controller-manager",
			UpdateStrategyAnnotation, strategy, ds.Spec.UpdateStrategy.Type))
		return nil
	}
	latestHash, err := c.latestRevisionHash(ds)
	if err != nil {
		return err
	}
	if latestHash == "" {
		// kube-controller-manager has not written the first revision yet; its creation
		// enqueues the DaemonSet again.
		logger.V(2).Info("No ControllerRevision yet")
		return nil
	}
	states, err := c.podStates(ds, latestHash)
	if err != nil {
		return err
	}
	if strategy == OTA {
		return c.syncOTA(ctx, states, latestHash)
	}

	desired := int(ds.Status.DesiredNumberScheduled)
	maxUnavailable, err := MaxUnavailable(ds, desired)
	if err != nil {
		c.event(key, ds, corev1.EventTypeWarning, ReasonBadMaxUnavailable, err.Error()+"; not upgrading until it is fixed")
		return nil
	}
	pending := c.pendingNodes(key)
	plan := PlanRollingUpdate(states, pending, func(name string) bool {
		n, err := c.nodes.Get(name)
		return err == nil && nodeReady(n)
	}, maxUnavailable)
	c.settle(key, plan.Done)
	var errs []error
	var deleted []string
	for _, pod := range plan.Delete {
		err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &pod.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("deleting old pod %s/%s: %w", pod.Namespace, pod.Name, err))
			continue
		}
		c.expect(key, pod.Spec.NodeName)
		deleted = append(deleted, pod.Name+" on "+pod.Spec.NodeName)
	}
	if len(deleted) > 0 {
		logger.V(2).Info("Deleted old pods", "pods", deleted)
		c.recorder.Eventf(ds, corev1.EventTypeNormal, ReasonUpgrading, "deleted %d old pods to upgrade them to revision %s (%d old left, %d unavailable of at most %d): %s",
			len(deleted), latestHash, plan.Old-len(deleted), plan.Unavailable, plan.MaxUnavailable, strings.Join(deleted, ", "))
	}
	if len(plan.WaitingNodes) > 0 {
		c.event(key, ds, corev1.EventTypeNormal, ReasonWaitingForNodes, fmt.Sprintf(
			"old pods on nodes that are not Ready wait for them to return: %s", strings.Join(plan.WaitingNodes, ", ")))
	}
	if plan.Old == 0 && len(c.pendingNodes(key)) == 0 {
		c.event(key, ds, corev1.EventTypeNormal, ReasonUpgraded, "all pods are at revision "+latestHash)
	} else {
		c.loop.AddAfter(key, recheck)
	}
	return errors.Join(errs...)
}

// pendingNodes returns the DaemonSet's pending nodes, dropping those past pendingTimeout.
func (c *Controller) pendingNodes(key string) map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]bool{}
	for node, since := range c.pending[key] {
		if c.now().Sub(since) > pendingTimeout {
			delete(c.pending[key], node)
			continue
		}
		out[node] = true
	}
	return out
}

// expect records that node's old pod was deleted.
func (c *Controller) expect(key, node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending[key] == nil {
		c.pending[key] = map[string]time.Time{}
	}
	c.pending[key][node] = c.now()
}

// settle drops nodes that run their upgraded pod.
func (c *Controller) settle(key string, nodes []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range nodes {
		delete(c.pending[key], n)
	}
	if len(c.pending[key]) == 0 {
		delete(c.pending, key)
	}
}

// syncOTA writes PodNeedUpgrade on every pod whose condition differs from its revision.
func (c *Controller) syncOTA(ctx context.Context, states []PodState, latestHash string) error {
	var errs []error
	for _, s := range states {
		if s.Pod.DeletionTimestamp != nil {
			continue
		}
		want := NeedUpgradeCondition(s.Latest, latestHash)
		pod := s.Pod.DeepCopy()
		if !setPodCondition(&pod.Status, want) {
			continue
		}
		// A strategic merge patch of the one condition (conditions merge by type): the
		// kubelet writes the same status concurrently, and an update would keep conflicting.
		var cond corev1.PodCondition
		for _, c := range pod.Status.Conditions {
			if c.Type == PodNeedUpgrade {
				cond = c
			}
		}
		patch, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": []corev1.PodCondition{cond}}})
		if err != nil {
			return fmt.Errorf("encoding the %s patch: %w", PodNeedUpgrade, err)
		}
		_, err = c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("setting %s=%s on pod %s/%s: %w", PodNeedUpgrade, want.Status, pod.Namespace, pod.Name, err))
		}
	}
	return errors.Join(errs...)
}

// setPodCondition sets cond, reporting whether anything changed.
func setPodCondition(status *corev1.PodStatus, cond corev1.PodCondition) bool {
	for i := range status.Conditions {
		cur := &status.Conditions[i]
		if cur.Type != cond.Type {
			continue
		}
		if cur.Status == cond.Status && cur.Message == cond.Message {
			return false
		}
		if cur.Status != cond.Status {
			cur.LastTransitionTime = metav1.Now()
		}
		cur.Status, cur.Message = cond.Status, cond.Message
		return true
	}
	cond.LastTransitionTime = metav1.Now()
	status.Conditions = append(status.Conditions, cond)
	return true
}

// latestRevisionHash is the hash of the DaemonSet's newest ControllerRevision, "" if none.
func (c *Controller) latestRevisionHash(ds *appsv1.DaemonSet) (string, error) {
	list, err := c.revisions.ControllerRevisions(ds.Namespace).List(labels.Everything())
	if err != nil {
		return "", fmt.Errorf("listing the ControllerRevisions of DaemonSet %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	var newest *appsv1.ControllerRevision
	for _, r := range list {
		ref := metav1.GetControllerOf(r)
		if ref == nil || ref.UID != ds.UID {
			continue
		}
		if newest == nil || r.Revision > newest.Revision {
			newest = r
		}
	}
	if newest == nil {
		return "", nil
	}
	if h := newest.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]; h != "" {
		return h, nil
	}
	return "", fmt.Errorf("ControllerRevision %s/%s has no %s label", newest.Namespace, newest.Name, appsv1.DefaultDaemonSetUniqueLabelKey)
}

func (c *Controller) podStates(ds *appsv1.DaemonSet, latestHash string) ([]PodState, error) {
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("DaemonSet %s/%s spec.selector: %w", ds.Namespace, ds.Name, err)
	}
	pods, err := c.pods.Pods(ds.Namespace).List(sel)
	if err != nil {
		return nil, fmt.Errorf("listing the pods of DaemonSet %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	var out []PodState
	for _, pod := range pods {
		ref := metav1.GetControllerOf(pod)
		if ref == nil || ref.UID != ds.UID {
			continue
		}
		ready := false
		if node, err := c.nodes.Get(pod.Spec.NodeName); err == nil {
			ready = nodeReady(node)
		}
		out = append(out, PodState{
			Pod:       pod,
			Latest:    pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == latestHash,
			NodeReady: ready,
		})
	}
	return out, nil
}

func nodeReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
