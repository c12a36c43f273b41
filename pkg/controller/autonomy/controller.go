// Package autonomy keeps pods on autonomous edge nodes through a cloud outage: pods on nodes
// annotated node.openyurt.io/autonomy-duration (or the deprecated
// node.beta.openyurt.io/autonomy=true) get the tolerationSeconds of their NoExecute
// tolerations for node.kubernetes.io/not-ready and node.kubernetes.io/unreachable set to that
// duration (nil, i.e. forever, for 0 or the deprecated form), so kube-controller-manager's own
// taint-based eviction waits out the window. The originals are saved in pod annotations and
// restored when the node loses the annotation. DaemonSet pods and static/mirror pods are left
// alone. This is OpenYurt's pod-binding controller.
//
// What the API allows on a running pod (ValidatePodUpdate, validateOnlyAddedTolerations in
// k8s.io/kubernetes v1.36): tolerations may be added, and an existing toleration may change
// only its tolerationSeconds (up or down, or to nil); none may be removed or otherwise
// edited. Pods created through kube-apiserver carry both tolerations (300 s) from the
// DefaultTolerationSeconds admission plugin, so setting and restoring are plain
// tolerationSeconds changes. A pod that had no such toleration gets one added; on restore it
// cannot be removed, so it is set to 0 seconds, which evicts exactly when no toleration
// would. Keys are pods (namespace/name); a node's annotation change enqueues its pods.
package autonomy

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/controller/reconcile"
)

// ControllerName is the controller's name in --controllers and in metrics.
const ControllerName = "autonomy"

// Event reasons.
const (
	ReasonTolerationsSet      = "AutonomyTolerationsSet"
	ReasonTolerationsRestored = "AutonomyTolerationsRestored"
	ReasonInvalidAutonomy     = "InvalidAutonomy"
	podsByNodeIndex           = "byNodeName"
)

// Controller sets and restores the tolerations of pods on autonomous nodes.
type Controller struct {
	client   kubernetes.Interface
	nodes    corelisters.NodeLister
	pods     corelisters.PodLister
	podIndex cache.Indexer
	recorder record.EventRecorder
	loop     *reconcile.Loop
}

// NewController registers the event handlers and a pod index by node; Run starts the workers.
func NewController(client kubernetes.Interface, nodes coreinformers.NodeInformer, pods coreinformers.PodInformer, recorder record.EventRecorder) *Controller {
	c := &Controller{
		client:   client,
		nodes:    nodes.Lister(),
		pods:     pods.Lister(),
		recorder: recorder,
	}
	c.loop = reconcile.NewLoop(ControllerName, c.sync)
	_ = pods.Informer().AddIndexers(cache.Indexers{podsByNodeIndex: func(obj any) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
			return []string{p.Spec.NodeName}, nil
		}
		return nil, nil
	}})
	c.podIndex = pods.Informer().GetIndexer()

	_, _ = pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueuePod,
		UpdateFunc: func(old, cur any) {
			o, n := old.(*corev1.Pod), cur.(*corev1.Pod)
			// Binding, toleration and annotation changes matter; status updates do not.
			if o.Spec.NodeName != n.Spec.NodeName || len(o.Spec.Tolerations) != len(n.Spec.Tolerations) ||
				o.Annotations[OriginalNotReadyAnnotation] != n.Annotations[OriginalNotReadyAnnotation] ||
				o.Annotations[OriginalUnreachableAnnotation] != n.Annotations[OriginalUnreachableAnnotation] ||
				o.Generation != n.Generation {
				c.enqueuePod(cur)
			}
		},
	})
	_, _ = nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueueNodePods,
		UpdateFunc: func(old, cur any) {
			o, n := old.(*corev1.Node), cur.(*corev1.Node)
			if o.Annotations[AutonomyDurationAnnotation] != n.Annotations[AutonomyDurationAnnotation] ||
				o.Annotations[DeprecatedAutonomyAnnotation] != n.Annotations[DeprecatedAutonomyAnnotation] {
				c.enqueueNodePods(cur)
			}
		},
	})
	return c
}

// Run starts workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) { c.loop.Run(ctx, workers) }

func (c *Controller) enqueuePod(obj any) {
	if p, ok := obj.(*corev1.Pod); ok && managedPod(p) {
		c.loop.Add(p.Namespace + "/" + p.Name)
	}
}

func (c *Controller) enqueueNodePods(obj any) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	pods, err := c.podIndex.ByIndex(podsByNodeIndex, n.Name)
	if err != nil {
		return
	}
	for _, p := range pods {
		c.enqueuePod(p)
	}
}

// sync brings one pod's tolerations in line with its node's autonomy.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting pod %s: %w", key, err)
	}
	if !managedPod(pod) || pod.DeletionTimestamp != nil {
		return nil
	}
	logger := klog.FromContext(ctx).WithValues("pod", klog.KObj(pod), "node", pod.Spec.NodeName)
	node, err := c.nodes.Get(pod.Spec.NodeName)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting node %s of pod %s: %w", pod.Spec.NodeName, key, err)
	}
	a, err := nodeAutonomy(node)
	if err != nil {
		// Treated as not autonomous; the node's next annotation change requeues its pods.
		c.recorder.Event(node, corev1.EventTypeWarning, ReasonInvalidAutonomy, err.Error())
		logger.Info("Ignoring invalid autonomy annotation", "err", err)
	}
	updated := pod.DeepCopy()
	changed, restoreErr := desiredPod(updated, a)
	if restoreErr != nil {
		c.recorder.Event(pod, corev1.EventTypeWarning, ReasonInvalidAutonomy, restoreErr.Error()+"; left the tolerations as they are")
	}
	if !changed {
		return nil
	}
	if _, err := c.client.CoreV1().Pods(ns).Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("updating the tolerations of pod %s: %w", key, err)
	}
	if a.Enabled {
		window := "forever"
		if a.Seconds != nil {
			window = fmt.Sprintf("%ds", *a.Seconds)
		}
		logger.V(2).Info("Set autonomy tolerations", "seconds", window)
		c.recorder.Eventf(updated, corev1.EventTypeNormal, ReasonTolerationsSet,
			"node %s is autonomous: the pod tolerates %s and %s for %s (originals saved in annotations)",
			node.Name, corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable, window)
	} else {
		logger.V(2).Info("Restored original tolerations")
		c.recorder.Eventf(updated, corev1.EventTypeNormal, ReasonTolerationsRestored,
			"node %s is no longer autonomous: restored the original tolerationSeconds of %s and %s",
			node.Name, corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable)
	}
	return nil
}
