// Package yurtappset runs one Deployment or StatefulSet per node pool a YurtAppSet
// (apps.openyurt.io/v1beta1) selects, through spec.nodepoolSelector or spec.pools, with the
// set's workloadTweaks applied per pool. Pools appearing or disappearing create or delete
// their workload; template and tweak edits roll to every pool. Rendering and the write path
// live in pkg/controller/workload, shared with the YurtAppDaemon controller.
//
// A tweak that cannot apply to a pool (a patch that does not apply, a container that does
// not exist) is a spec error: it is reported with a Warning event and the AppDispatched
// condition naming the pool, that pool's workload is left as it was, the other pools go on,
// and the key is not retried (the next edit brings it back).
package yurtappset

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

	appsv1beta1 "github.com/yurt-edge/yurt/apis/apps/v1beta1"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	yurtclient "github.com/yurt-edge/yurt/generated/clientset/versioned"
	yurtappsinformers "github.com/yurt-edge/yurt/generated/informers/externalversions/apps/v1beta1"
	poolinformers "github.com/yurt-edge/yurt/generated/informers/externalversions/apps/v1beta2"
	yurtappslisters "github.com/yurt-edge/yurt/generated/listers/apps/v1beta1"
	poollisters "github.com/yurt-edge/yurt/generated/listers/apps/v1beta2"
	"github.com/yurt-edge/yurt/pkg/controller/reconcile"
	"github.com/yurt-edge/yurt/pkg/controller/workload"
)

// ControllerName is the controller's name in --controllers and in metrics.
const ControllerName = "yurtappset"

// Event reasons.
const (
	ReasonWorkloadCreated = "WorkloadCreated"
	ReasonWorkloadUpdated = "WorkloadUpdated"
	ReasonWorkloadDeleted = "WorkloadDeleted"
	ReasonTweakFailed     = "TweakFailed"
	ReasonPoolNotFound    = "PoolNotFound"
	ReasonDispatchFailed  = "DispatchFailed"
)

// defaultRevisionHistoryLimit is spec.revisionHistoryLimit's default.
const defaultRevisionHistoryLimit = 10

var gvk = appsv1beta1.SchemeGroupVersion.WithKind("YurtAppSet")

// Controller reconciles YurtAppSets.
type Controller struct {
	yurt     yurtclient.Interface
	sets     yurtappslisters.YurtAppSetLister
	pools    poollisters.NodePoolLister
	syncer   *workload.Syncer
	recorder record.EventRecorder
	loop     *reconcile.Loop
	// warned dedups Warning events per set and reason across syncs.
	warned workload.Reported
}

// NewController registers event handlers on the informers; Run starts the workers.
func NewController(kube kubernetes.Interface, yurt yurtclient.Interface,
	sets yurtappsinformers.YurtAppSetInformer, pools poolinformers.NodePoolInformer,
	deployments appsinformers.DeploymentInformer, statefulSets appsinformers.StatefulSetInformer,
	revisions appsinformers.ControllerRevisionInformer, recorder record.EventRecorder) *Controller {
	c := &Controller{
		yurt:  yurt,
		sets:  sets.Lister(),
		pools: pools.Lister(),
		syncer: &workload.Syncer{Client: kube, Deployments: deployments.Lister(),
			StatefulSets: statefulSets.Lister(), Revisions: revisions.Lister()},
		recorder: recorder,
	}
	c.loop = reconcile.NewLoop(ControllerName, c.sync)

	_, _ = sets.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueue,
		UpdateFunc: func(old, cur any) {
			o, n := old.(*appsv1beta1.YurtAppSet), cur.(*appsv1beta1.YurtAppSet)
			// Our own status writes need no reconcile.
			if o.Generation != n.Generation || !equality.Semantic.DeepEqual(o.Labels, n.Labels) || n.DeletionTimestamp != nil {
				c.enqueue(cur)
			}
		},
		DeleteFunc: c.enqueue,
	})
	_, _ = pools.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { c.enqueueAll() },
		UpdateFunc: func(old, cur any) {
			o, n := old.(*appsv1beta2.NodePool), cur.(*appsv1beta2.NodePool)
			// Only labels (selectors, tweaks) and deletion matter, not the server's status.
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

// Loop is the controller's workqueue (for tests and benchmarks that drive it directly).
func (c *Controller) Loop() *reconcile.Loop { return c.loop }

func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err == nil {
		c.loop.Add(key)
	}
}

func (c *Controller) enqueueAll() {
	sets, err := c.sets.List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range sets {
		c.enqueue(s)
	}
}

// enqueueOwner enqueues the YurtAppSet controlling a Deployment or StatefulSet.
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

// sync reconciles one YurtAppSet.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	set, err := c.sets.YurtAppSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// The garbage collector deletes the workloads and revisions it owned.
		c.warned.Forget(key + "|" + ReasonTweakFailed)
		c.warned.Forget(key + "|" + ReasonPoolNotFound)
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting YurtAppSet %s: %w", key, err)
	}
	if set.DeletionTimestamp != nil {
		return nil
	}
	logger := klog.FromContext(ctx).WithValues("yurtappset", key)
	ctx = klog.NewContext(ctx, logger)

	owner := workload.Owner{Name: set.Name, Namespace: set.Namespace, UID: string(set.UID), GVK: gvk, RefLabel: workload.RefYurtAppSetLabel}
	status := set.Status.DeepCopy()
	status.ObservedGeneration = set.Generation

	tmpl, err := workload.TemplateFromV1beta1(&set.Spec.Workload.WorkloadTemplate)
	if err != nil {
		c.setCondition(set, status, appsv1beta1.AppSetAppDispatched, corev1.ConditionFalse, "InvalidTemplate", err.Error())
		return c.updateStatus(ctx, set, status)
	}

	allPools, err := c.pools.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing node pools: %w", err)
	}
	poolLabels := map[string]map[string]string{}
	for _, p := range allPools {
		poolLabels[p.Name] = p.Labels
	}
	selected, missing, err := workload.SelectPools(allPools, set.Spec.NodePoolSelector, set.Spec.Pools)
	if err != nil {
		c.setCondition(set, status, appsv1beta1.AppSetPoolFound, corev1.ConditionFalse, "InvalidSelector", "spec."+err.Error())
		return c.updateStatus(ctx, set, status)
	}
	c.poolFound(set, status, selected, missing)

	data, err := json.Marshal(set.Spec.Workload)
	if err != nil {
		return fmt.Errorf("encoding the workload of %s: %w", key, err)
	}
	collisions := int32(0)
	if status.CollisionCount != nil {
		collisions = *status.CollisionCount
	}
	limit := int32(defaultRevisionHistoryLimit)
	if set.Spec.RevisionHistoryLimit != nil {
		limit = *set.Spec.RevisionHistoryLimit
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

	res, syncErr := c.syncer.Sync(ctx, workload.Desired{
		Owner: owner, Template: tmpl, RevisionHash: rev.Hash, Pools: selected,
		Tweaks: func(pool string) ([]appsv1beta1.Tweaks, error) {
			return workload.TweaksFor(set.Spec.Workload.WorkloadTweaks, pool, poolLabels[pool])
		},
	})
	c.report(set, status, tmpl.Kind(), res, syncErr)
	if err := c.updateStatus(ctx, set, status); err != nil {
		return err
	}
	return syncErr
}

// poolFound sets PoolFound and warns (once per change) about named pools that do not exist.
func (c *Controller) poolFound(set *appsv1beta1.YurtAppSet, status *appsv1beta1.YurtAppSetStatus, selected, missing []string) {
	msg := fmt.Sprintf("%d pools selected: %s", len(selected), workload.ListPools(selected))
	if len(selected) == 0 {
		msg = "no pool matches spec.nodepoolSelector or spec.pools"
	}
	if len(missing) > 0 {
		missingMsg := "spec.pools names pools that do not exist: " + workload.ListPools(missing)
		msg += "; " + missingMsg
		if c.warned.Changed(keyOf(set)+"|"+ReasonPoolNotFound, missingMsg) {
			c.recorder.Event(set, corev1.EventTypeWarning, ReasonPoolNotFound, missingMsg)
		}
	} else {
		c.warned.Forget(keyOf(set) + "|" + ReasonPoolNotFound)
	}
	if len(selected) == 0 {
		c.setCondition(set, status, appsv1beta1.AppSetPoolFound, corev1.ConditionFalse, "NoPoolFound", msg)
		return
	}
	c.setCondition(set, status, appsv1beta1.AppSetPoolFound, corev1.ConditionTrue, "PoolsSelected", msg)
}

// report turns a sync result into events, counts and conditions.
func (c *Controller) report(set *appsv1beta1.YurtAppSet, status *appsv1beta1.YurtAppSetStatus, kind workload.Kind, res workload.Result, syncErr error) {
	if len(res.Created) > 0 {
		c.recorder.Eventf(set, corev1.EventTypeNormal, ReasonWorkloadCreated, "created %s for pools %s", kind, workload.ListPools(res.Created))
	}
	if len(res.Updated) > 0 {
		c.recorder.Eventf(set, corev1.EventTypeNormal, ReasonWorkloadUpdated, "updated %s of pools %s to revision %s", kind, workload.ListPools(res.Updated), status.CurrentRevision)
	}
	if len(res.Deleted) > 0 {
		c.recorder.Eventf(set, corev1.EventTypeNormal, ReasonWorkloadDeleted, "deleted %s of pools %s, no longer selected", kind, workload.ListPools(res.Deleted))
	}

	status.TotalWorkloads, status.ReadyWorkloads, status.UpdatedWorkloads = 0, 0, 0
	for _, w := range res.Workloads {
		status.TotalWorkloads++
		if w.Ready {
			status.ReadyWorkloads++
		}
		if w.Updated {
			status.UpdatedWorkloads++
		}
	}

	switch {
	case len(res.RenderErrors) > 0:
		msg := workload.DescribeRenderErrors(res.RenderErrors)
		if c.warned.Changed(keyOf(set)+"|"+ReasonTweakFailed, msg) {
			for _, e := range res.RenderErrors {
				c.recorder.Eventf(set, corev1.EventTypeWarning, ReasonTweakFailed, "%v; this pool's workload is left as it was", e)
			}
		}
		c.setCondition(set, status, appsv1beta1.AppSetAppDispatched, corev1.ConditionFalse, ReasonTweakFailed, msg)
	case syncErr != nil:
		c.warned.Forget(keyOf(set) + "|" + ReasonTweakFailed)
		c.recorder.Eventf(set, corev1.EventTypeWarning, ReasonDispatchFailed, "%v", syncErr)
		c.setCondition(set, status, appsv1beta1.AppSetAppDispatched, corev1.ConditionFalse, ReasonDispatchFailed, syncErr.Error())
	default:
		c.warned.Forget(keyOf(set) + "|" + ReasonTweakFailed)
		c.setCondition(set, status, appsv1beta1.AppSetAppDispatched, corev1.ConditionTrue, "Dispatched",
			fmt.Sprintf("%d %ss, one per selected pool", status.TotalWorkloads, kind))
	}
	if len(res.Deleted) > 0 {
		c.setCondition(set, status, appsv1beta1.AppSetAppDeleted, corev1.ConditionTrue, "Deleted",
			fmt.Sprintf("deleted the %s of pools no longer selected: %s", kind, workload.ListPools(res.Deleted)))
	}
	if status.UpdatedWorkloads == status.TotalWorkloads {
		c.setCondition(set, status, appsv1beta1.AppSetAppUpdated, corev1.ConditionTrue, "Updated",
			fmt.Sprintf("all %d workloads are at revision %s", status.TotalWorkloads, status.CurrentRevision))
	} else {
		c.setCondition(set, status, appsv1beta1.AppSetAppUpdated, corev1.ConditionFalse, "Updating",
			fmt.Sprintf("%d of %d workloads are at revision %s", status.UpdatedWorkloads, status.TotalWorkloads, status.CurrentRevision))
	}
	var notReady []string
	for _, w := range res.Workloads {
		if !w.Ready {
			notReady = append(notReady, w.Pool)
		}
	}
	switch {
	case status.TotalWorkloads == 0:
		c.setCondition(set, status, appsv1beta1.AppSetAppReady, corev1.ConditionFalse, "NoWorkloads", "no pool has a workload")
	case len(notReady) == 0:
		c.setCondition(set, status, appsv1beta1.AppSetAppReady, corev1.ConditionTrue, "Ready", fmt.Sprintf("all %d workloads are ready", status.TotalWorkloads))
	default:
		c.setCondition(set, status, appsv1beta1.AppSetAppReady, corev1.ConditionFalse, "NotReady",
			fmt.Sprintf("%d of %d workloads are ready; waiting for pools %s", status.ReadyWorkloads, status.TotalWorkloads, workload.ListPools(notReady)))
	}
}

func keyOf(set *appsv1beta1.YurtAppSet) string { return set.Namespace + "/" + set.Name }

func findCondition(conds []appsv1beta1.YurtAppSetCondition, t appsv1beta1.YurtAppSetConditionType) *appsv1beta1.YurtAppSetCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// setCondition sets a condition, keeping its transition time unless the status changes.
func (c *Controller) setCondition(_ *appsv1beta1.YurtAppSet, status *appsv1beta1.YurtAppSetStatus, t appsv1beta1.YurtAppSetConditionType, s corev1.ConditionStatus, reason, msg string) {
	if prev := findCondition(status.Conditions, t); prev != nil {
		if prev.Status != s {
			prev.LastTransitionTime = metav1.Now()
		}
		prev.Status, prev.Reason, prev.Message = s, reason, msg
		return
	}
	status.Conditions = append(status.Conditions, appsv1beta1.YurtAppSetCondition{
		Type: t, Status: s, Reason: reason, Message: msg, LastTransitionTime: metav1.Now(),
	})
}

func (c *Controller) updateStatus(ctx context.Context, set *appsv1beta1.YurtAppSet, status *appsv1beta1.YurtAppSetStatus) error {
	if equality.Semantic.DeepEqual(&set.Status, status) {
		return nil
	}
	client := c.yurt.AppsV1beta1().YurtAppSets(set.Namespace)
	upd := set.DeepCopy()
	upd.Status = *status
	_, err := client.UpdateStatus(ctx, upd, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		// Usually our own previous status write, not yet in the cache. The status is
		// derived from the spec, so it still holds if the spec (generation) is unchanged.
		latest, getErr := client.Get(ctx, set.Name, metav1.GetOptions{})
		if getErr == nil && latest.Generation == set.Generation {
			latest.Status = *status
			_, err = client.UpdateStatus(ctx, latest, metav1.UpdateOptions{})
		}
	}
	if err != nil {
		return fmt.Errorf("updating the status of YurtAppSet %s/%s: %w", set.Namespace, set.Name, err)
	}
	return nil
}
