// Package yurtappdaemon runs the workload of a YurtAppDaemon (apps.openyurt.io/v1alpha1) in
// every node pool matching its spec.nodepoolSelector, following pools as they come, go or
// change labels. It shares rendering, naming, revisions and the write path with the
// YurtAppSet controller (pkg/controller/workload); a YurtAppDaemon is a YurtAppSet without
// tweaks or explicit pool names.
package yurtappdaemon

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	appsinformers "k8s.io/client-go/informers/apps/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	yurtclient "github.com/yurt-edge/yurt/generated/clientset/versioned"
	daemoninformers "github.com/yurt-edge/yurt/generated/informers/externalversions/apps/v1alpha1"
	poolinformers "github.com/yurt-edge/yurt/generated/informers/externalversions/apps/v1beta2"
	daemonlisters "github.com/yurt-edge/yurt/generated/listers/apps/v1alpha1"
	poollisters "github.com/yurt-edge/yurt/generated/listers/apps/v1beta2"
	"github.com/yurt-edge/yurt/pkg/controller/reconcile"
	"github.com/yurt-edge/yurt/pkg/controller/workload"
)

// ControllerName is the controller's name in --controllers and in metrics.
const ControllerName = "yurtappdaemon"

// Event reasons.
const (
	ReasonWorkloadCreated = "WorkloadCreated"
	ReasonWorkloadUpdated = "WorkloadUpdated"
	ReasonWorkloadDeleted = "WorkloadDeleted"
	ReasonProvisionFailed = "ProvisionFailed"
)

const defaultRevisionHistoryLimit = 10

var gvk = appsv1alpha1.SchemeGroupVersion.WithKind("YurtAppDaemon")

// Controller reconciles YurtAppDaemons.
type Controller struct {
	yurt     yurtclient.Interface
	daemons  daemonlisters.YurtAppDaemonLister
	pools    poollisters.NodePoolLister
	syncer   *workload.Syncer
	recorder record.EventRecorder
	loop     *reconcile.Loop
}

// NewController registers event handlers on the informers; Run starts the workers.
func NewController(kube kubernetes.Interface, yurt yurtclient.Interface,
	daemons daemoninformers.YurtAppDaemonInformer, pools poolinformers.NodePoolInformer,
	deployments appsinformers.DeploymentInformer, statefulSets appsinformers.StatefulSetInformer,
	revisions appsinformers.ControllerRevisionInformer, recorder record.EventRecorder) *Controller {
	c := &Controller{
		yurt:    yurt,
		daemons: daemons.Lister(),
		pools:   pools.Lister(),
		syncer: &workload.Syncer{Client: kube, Deployments: deployments.Lister(),
			StatefulSets: statefulSets.Lister(), Revisions: revisions.Lister()},
		recorder: recorder,
	}
	c.loop = reconcile.NewLoop(ControllerName, c.sync)
	_, _ = daemons.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueue,
		UpdateFunc: func(old, cur any) {
			o, n := old.(*appsv1alpha1.YurtAppDaemon), cur.(*appsv1alpha1.YurtAppDaemon)
			if o.Generation != n.Generation || n.DeletionTimestamp != nil {
				c.enqueue(cur)
			}
		},
		DeleteFunc: c.enqueue,
	})
	_, _ = pools.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { c.enqueueAll() },
		UpdateFunc: func(old, cur any) {
			o, n := old.(*appsv1beta2.NodePool), cur.(*appsv1beta2.NodePool)
			if !equality.Semantic.DeepEqual(o.Labels, n.Labels) || (o.DeletionTimestamp == nil) != (n.DeletionTimestamp == nil) {
				c.enqueueAll()
			}
		},
		DeleteFunc: func(any) { c.enqueueAll() },
	})
	workloadHandler := cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueOwner,
		UpdateFunc: func(_, cur any) { c.enqueueOwner(cur) },
		DeleteFunc: c.enqueueOwner,
	}
	_, _ = deployments.Informer().AddEventHandler(workloadHandler)
	_, _ = statefulSets.Informer().AddEventHandler(workloadHandler)
	return c
}

// Run starts workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) { c.loop.Run(ctx, workers) }

func (c *Controller) enqueue(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.loop.Add(key)
	}
}

func (c *Controller) enqueueAll() {
	list, err := c.daemons.List(labels.Everything())
	if err != nil {
		return
	}
	for _, d := range list {
		c.enqueue(d)
	}
}

func (c *Controller) enqueueOwner(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	ref := metav1.GetControllerOf(m)
	if ref == nil || ref.Kind != gvk.Kind || ref.APIVersion != gvk.GroupVersion().String() {
		return
	}
	c.loop.Add(m.GetNamespace() + "/" + ref.Name)
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	d, err := c.daemons.YurtAppDaemons(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting YurtAppDaemon %s: %w", key, err)
	}
	if d.DeletionTimestamp != nil {
		return nil
	}
	ctx = klog.NewContext(ctx, klog.FromContext(ctx).WithValues("yurtappdaemon", key))
	status := d.Status.DeepCopy()
	status.ObservedGeneration = d.Generation

	tmpl, err := workload.TemplateFromV1alpha1(&d.Spec.WorkloadTemplate)
	if err != nil {
		setCondition(status, corev1.ConditionFalse, "InvalidTemplate", err.Error())
		return c.updateStatus(ctx, d, status)
	}
	status.TemplateType = string(tmpl.Kind())
	allPools, err := c.pools.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing node pools: %w", err)
	}
	selected, _, err := workload.SelectPools(allPools, d.Spec.NodePoolSelector, nil)
	if err != nil {
		setCondition(status, corev1.ConditionFalse, "InvalidSelector", "spec."+err.Error())
		return c.updateStatus(ctx, d, status)
	}

	owner := workload.Owner{Name: d.Name, Namespace: d.Namespace, UID: string(d.UID), GVK: gvk, RefLabel: workload.RefYurtAppDaemonLabel}
	data, err := json.Marshal(d.Spec.WorkloadTemplate)
	if err != nil {
		return fmt.Errorf("encoding the template of %s: %w", key, err)
	}
	collisions := int32(0)
	if status.CollisionCount != nil {
		collisions = *status.CollisionCount
	}
	limit := int32(defaultRevisionHistoryLimit)
	if d.Spec.RevisionHistoryLimit != nil {
		limit = *d.Spec.RevisionHistoryLimit
	}
	rev, err := c.syncer.EnsureRevision(ctx, owner, data, collisions, limit)
	if err != nil {
		return err
	}
	status.CurrentRevision = rev.Name
	if rev.CollisionCount != 0 || status.CollisionCount != nil {
		cc := rev.CollisionCount
		status.CollisionCount = &cc
	}

	res, syncErr := c.syncer.Sync(ctx, workload.Desired{Owner: owner, Template: tmpl, RevisionHash: rev.Hash, Pools: selected})
	kind := tmpl.Kind()
	if len(res.Created) > 0 {
		c.recorder.Eventf(d, corev1.EventTypeNormal, ReasonWorkloadCreated, "created %s for pools %s", kind, workload.ListPools(res.Created))
	}
	if len(res.Updated) > 0 {
		c.recorder.Eventf(d, corev1.EventTypeNormal, ReasonWorkloadUpdated, "updated %s of pools %s to revision %s", kind, workload.ListPools(res.Updated), rev.Name)
	}
	if len(res.Deleted) > 0 {
		c.recorder.Eventf(d, corev1.EventTypeNormal, ReasonWorkloadDeleted, "deleted %s of pools %s, which no longer match", kind, workload.ListPools(res.Deleted))
	}
	status.NodePools = nil
	for _, w := range res.Workloads {
		status.NodePools = append(status.NodePools, w.Pool)
	}
	switch {
	case syncErr != nil:
		c.recorder.Eventf(d, corev1.EventTypeWarning, ReasonProvisionFailed, "%v", syncErr)
		setCondition(status, corev1.ConditionFalse, ReasonProvisionFailed, syncErr.Error())
	case len(res.RenderErrors) > 0:
		setCondition(status, corev1.ConditionFalse, ReasonProvisionFailed, workload.DescribeRenderErrors(res.RenderErrors))
	case len(selected) == 0:
		setCondition(status, corev1.ConditionFalse, "NoPoolFound", "no pool matches spec.nodepoolSelector")
	default:
		setCondition(status, corev1.ConditionTrue, "Provisioned",
			fmt.Sprintf("%s in %d pools: %s", kind, len(selected), workload.ListPools(selected)))
	}
	if err := c.updateStatus(ctx, d, status); err != nil {
		return err
	}
	return syncErr
}

func setCondition(status *appsv1alpha1.YurtAppDaemonStatus, s corev1.ConditionStatus, reason, msg string) {
	for i := range status.Conditions {
		c := &status.Conditions[i]
		if c.Type == appsv1alpha1.WorkLoadProvisioned {
			if c.Status != s {
				c.LastTransitionTime = metav1.Now()
			}
			c.Status, c.Reason, c.Message = s, reason, msg
			return
		}
	}
	status.Conditions = append(status.Conditions, appsv1alpha1.YurtAppDaemonCondition{
		Type: appsv1alpha1.WorkLoadProvisioned, Status: s, Reason: reason, Message: msg, LastTransitionTime: metav1.Now(),
	})
}

func (c *Controller) updateStatus(ctx context.Context, d *appsv1alpha1.YurtAppDaemon, status *appsv1alpha1.YurtAppDaemonStatus) error {
	if equality.Semantic.DeepEqual(&d.Status, status) {
		return nil
	}
	client := c.yurt.AppsV1alpha1().YurtAppDaemons(d.Namespace)
	upd := d.DeepCopy()
	upd.Status = *status
	_, err := client.UpdateStatus(ctx, upd, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		// Usually our own previous status write, not yet in the cache; the status still
		// holds if the spec (generation) is unchanged.
		latest, getErr := client.Get(ctx, d.Name, metav1.GetOptions{})
		if getErr == nil && latest.Generation == d.Generation {
			latest.Status = *status
			_, err = client.UpdateStatus(ctx, latest, metav1.UpdateOptions{})
		}
	}
	if err != nil {
		return fmt.Errorf("updating the status of YurtAppDaemon %s/%s: %w", d.Namespace, d.Name, err)
	}
	return nil
}
