package appset

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/yurt-edge/yurt/apis/apps"
	appsv1beta1 "github.com/yurt-edge/yurt/apis/apps/v1beta1"
	"github.com/yurt-edge/yurt/pkg/controller/workload"
	"github.com/yurt-edge/yurt/pkg/controller/yurtappset"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

const pauseImage = "registry.k8s.io/pause:3.10"

func appSet(name string) *appsv1beta1.YurtAppSet {
	one := int32(1)
	lbls := map[string]string{"app": name}
	return &appsv1beta1.YurtAppSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1beta1.YurtAppSetSpec{Workload: appsv1beta1.Workload{WorkloadTemplate: appsv1beta1.WorkloadTemplate{
			DeploymentTemplate: &appsv1beta1.DeploymentTemplate{
				ObjectMeta: metav1.ObjectMeta{Labels: lbls},
				Spec: appsv1.DeploymentSpec{
					Replicas: &one,
					Selector: &metav1.LabelSelector{MatchLabels: lbls},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: lbls},
						Spec: corev1.PodSpec{
							AutomountServiceAccountToken: new(bool),
							Containers:                   []corev1.Container{{Name: "app", Image: pauseImage}},
						},
					},
				},
			},
		}}},
	}
}

func jsonValue(t *testing.T, v any) apiextensionsv1.JSON {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return apiextensionsv1.JSON{Raw: b}
}

func condition(set *appsv1beta1.YurtAppSet, ct appsv1beta1.YurtAppSetConditionType) *appsv1beta1.YurtAppSetCondition {
	for i := range set.Status.Conditions {
		if set.Status.Conditions[i].Type == ct {
			return &set.Status.Conditions[i]
		}
	}
	return nil
}

// TestYurtAppSet: a YurtAppSet selecting pools by label gets one Deployment per pool, pinned
// to the pool, owned by the set, with per-pool tweaks ({{nodepool-name}} substituted);
// pools whose hollow node runs the pods count as ready. A deleted pool loses its Deployment,
// a new pool gets one, and a template edit reaches every pool with a new revision.
func TestYurtAppSet(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	c := framework.Clients(t)
	const ns = "e2e-yas"
	framework.CreateNamespace(t, ns)
	// e2e-a and e2e-b have a hollow node each; e2e-c has no node; e2e-other is not selected.
	labelPool(t, "e2e-a", "tier", "edge")
	labelPool(t, "e2e-b", "tier", "edge")
	t.Cleanup(func() { labelPool(t, "e2e-a", "tier", ""); labelPool(t, "e2e-b", "tier", "") })
	createPool(t, "e2e-c", map[string]string{"tier": "edge"})
	createPool(t, "e2e-other", nil)

	three := int32(3)
	set := appSet("web")
	set.Spec.NodePoolSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "edge"}}
	set.Spec.Workload.WorkloadTweaks = []appsv1beta1.WorkloadTweak{
		{Pools: []string{"e2e-c"}, Tweaks: appsv1beta1.Tweaks{
			Replicas:        &three,
			ContainerImages: []appsv1beta1.ImageItem{{Name: "app", TargetImage: "registry.k8s.io/pause:3.9"}},
		}},
		{NodePoolSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "edge"}}, Tweaks: appsv1beta1.Tweaks{
			Patches: []appsv1beta1.Patch{
				{Path: "/metadata/labels/site", Operation: appsv1beta1.ADD, Value: jsonValue(t, "site-{{nodepool-name}}")},
				{Path: "/spec/template/spec/containers/0/env", Operation: appsv1beta1.ADD, Value: jsonValue(t, []corev1.EnvVar{{Name: "POOL", Value: "{{nodepool-name}}"}})},
			},
		}},
	}
	created, err := c.Yurt.AppsV1beta1().YurtAppSets(ns).Create(ctx, set, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	var deps map[string]*appsv1.Deployment
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		deps, err = deploymentsByPool(c.Kube, ns, workload.RefYurtAppSetLabel, "web")
		return err == nil && sameKeys(deps, "e2e-a", "e2e-b", "e2e-c"), err
	})
	for pool, d := range deps {
		if !strings.HasPrefix(d.Name, "web-"+pool+"-") {
			t.Errorf("pool %s: Deployment name %q, want web-%s-xxxxx", pool, d.Name, pool)
		}
		if got := d.Spec.Template.Spec.NodeSelector[apps.NodePoolLabel]; got != pool {
			t.Errorf("pool %s: nodeSelector %v", pool, d.Spec.Template.Spec.NodeSelector)
		}
		if d.Spec.Selector.MatchLabels[workload.PoolNameLabel] != pool || d.Spec.Template.Labels[workload.PoolNameLabel] != pool {
			t.Errorf("pool %s: selector %v, pod labels %v: both must name the pool", pool, d.Spec.Selector, d.Spec.Template.Labels)
		}
		if ref := metav1.GetControllerOf(d); ref == nil || ref.UID != created.UID || ref.Kind != "YurtAppSet" {
			t.Errorf("pool %s: owner %+v", pool, d.OwnerReferences)
		}
		if d.Labels["site"] != "site-"+pool || envValue(d.Spec.Template.Spec.Containers[0], "POOL") != pool {
			t.Errorf("pool %s: patch tweak not applied: labels %v env %v", pool, d.Labels, d.Spec.Template.Spec.Containers[0].Env)
		}
		if d.Labels[workload.RevisionLabel] == "" || d.Labels["app"] != "web" {
			t.Errorf("pool %s: labels %v", pool, d.Labels)
		}
		wantReplicas, wantImage := int32(1), pauseImage
		if pool == "e2e-c" {
			wantReplicas, wantImage = 3, "registry.k8s.io/pause:3.9"
		}
		if *d.Spec.Replicas != wantReplicas || d.Spec.Template.Spec.Containers[0].Image != wantImage {
			t.Errorf("pool %s: replicas %d image %s, want %d %s", pool, *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image, wantReplicas, wantImage)
		}
	}

	// Pods of e2e-a and e2e-b run on their pool's hollow node; e2e-c has no node.
	var cur *appsv1beta1.YurtAppSet
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		cur, err = c.Yurt.AppsV1beta1().YurtAppSets(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && cur.Status.ReadyWorkloads == 2 && cur.Status.TotalWorkloads == 3 && cur.Status.UpdatedWorkloads == 3 &&
			cur.Status.ObservedGeneration == cur.Generation, err
	})
	for pool, node := range map[string]string{"e2e-a": "e2e-hn-a", "e2e-b": "e2e-hn-b"} {
		pods, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.Set{"app": "web"}.String(), FieldSelector: "spec.nodeName=" + node})
		if err != nil || len(pods.Items) != 1 {
			t.Errorf("pool %s: want one pod on %s, got %d (%v)", pool, node, len(pods.Items), err)
		}
	}
	if cond := condition(cur, appsv1beta1.AppSetAppReady); cond == nil || cond.Status != corev1.ConditionFalse || !strings.Contains(cond.Message, "e2e-c") {
		t.Errorf("AppReady should be False naming e2e-c: %+v", cond)
	}
	for _, ct := range []appsv1beta1.YurtAppSetConditionType{appsv1beta1.AppSetPoolFound, appsv1beta1.AppSetAppDispatched, appsv1beta1.AppSetAppUpdated} {
		if cond := condition(cur, ct); cond == nil || cond.Status != corev1.ConditionTrue {
			t.Errorf("condition %s: %+v", ct, cond)
		}
	}
	firstRevision := cur.Status.CurrentRevision
	if firstRevision == "" {
		t.Fatal("no currentRevision")
	}
	out, err := framework.Kubectl(t, "describe", "yurtappsets.apps.openyurt.io", "web", "-n", ns)
	if err != nil || !strings.Contains(out, yurtappset.ReasonWorkloadCreated) || !strings.Contains(out, "e2e-a, e2e-b, e2e-c") {
		t.Errorf("kubectl describe does not show the creation event (%v):\n%s", err, out)
	}

	// A pool disappears: its Deployment goes. A new pool appears: it gets one.
	if err := c.Yurt.AppsV1beta2().NodePools().Delete(ctx, "e2e-c", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	createPool(t, "e2e-d", map[string]string{"tier": "edge"})
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		deps, err = deploymentsByPool(c.Kube, ns, workload.RefYurtAppSetLabel, "web")
		return err == nil && sameKeys(deps, "e2e-a", "e2e-b", "e2e-d"), err
	})
	if d := deps["e2e-d"]; d.Labels["site"] != "site-e2e-d" {
		t.Errorf("new pool's Deployment misses the tweak: %v", d.Labels)
	}

	// A template edit reaches every pool, under a new revision.
	updateAppSet(t, ns, "web", func(s *appsv1beta1.YurtAppSet) {
		s.Spec.Workload.WorkloadTemplate.DeploymentTemplate.Spec.Template.Spec.Containers[0].Args = []string{"--version=2"}
	})
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		deps, err = deploymentsByPool(c.Kube, ns, workload.RefYurtAppSetLabel, "web")
		if err != nil || !sameKeys(deps, "e2e-a", "e2e-b", "e2e-d") {
			return false, err
		}
		for _, d := range deps {
			if strings.Join(d.Spec.Template.Spec.Containers[0].Args, " ") != "--version=2" {
				return false, nil
			}
		}
		return true, nil
	})
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		cur, err = c.Yurt.AppsV1beta1().YurtAppSets(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && cur.Status.CurrentRevision != firstRevision && cur.Status.UpdatedWorkloads == 3 && cur.Status.TotalWorkloads == 3 && cur.Status.ReadyWorkloads == 2, err
	})
	for pool, d := range deps {
		if d.Labels[workload.RevisionLabel] != strings.TrimPrefix(cur.Status.CurrentRevision, "web-") {
			t.Errorf("pool %s: revision label %q, current revision %s", pool, d.Labels[workload.RevisionLabel], cur.Status.CurrentRevision)
		}
		if envValue(d.Spec.Template.Spec.Containers[0], "POOL") != pool {
			t.Errorf("pool %s lost its tweak on the template edit", pool)
		}
	}
	revs, err := c.Kube.AppsV1().ControllerRevisions(ns).List(ctx, metav1.ListOptions{LabelSelector: workload.RefYurtAppSetLabel + "=web"})
	if err != nil || len(revs.Items) != 2 {
		t.Errorf("want 2 ControllerRevisions (history), got %d (%v)", len(revs.Items), err)
	}

	// Deleting the set lets kube-controller-manager's garbage collector remove the workloads.
	if err := c.Yurt.AppsV1beta1().YurtAppSets(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		deps, err = deploymentsByPool(c.Kube, ns, workload.RefYurtAppSetLabel, "web")
		return err == nil && len(deps) == 0, err
	})
	_ = e
}

// TestYurtAppSetBadTweak: a patch that does not apply to one pool, then a tweak naming a
// container the template lacks, are reported by a Warning event and the AppDispatched
// condition naming the pool; the other pool's workload is created and kept, the failing
// pool's is left as it was, nothing is retried in a loop, and fixing the spec recovers.
func TestYurtAppSetBadTweak(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	c := framework.Clients(t)
	const ns = "e2e-yas-bad"
	framework.CreateNamespace(t, ns)

	set := appSet("bad")
	set.Spec.Pools = []string{"e2e-a", "e2e-b"}
	set.Spec.Workload.WorkloadTweaks = []appsv1beta1.WorkloadTweak{{Pools: []string{"e2e-b"}, Tweaks: appsv1beta1.Tweaks{
		Patches: []appsv1beta1.Patch{{Path: "/spec/template/spec/containers/3/image", Operation: appsv1beta1.REPLACE, Value: jsonValue(t, "x")}},
	}}}
	if _, err := c.Yurt.AppsV1beta1().YurtAppSets(ns).Create(ctx, set, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var cur *appsv1beta1.YurtAppSet
	var err error
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		cur, err = c.Yurt.AppsV1beta1().YurtAppSets(ns).Get(ctx, "bad", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		cond := condition(cur, appsv1beta1.AppSetAppDispatched)
		return cond != nil && cond.Status == corev1.ConditionFalse && cond.Reason == yurtappset.ReasonTweakFailed, nil
	})
	msg := condition(cur, appsv1beta1.AppSetAppDispatched).Message
	if !strings.Contains(msg, "pool e2e-b") || !strings.Contains(msg, "does not apply") || strings.Contains(msg, "e2e-a") {
		t.Errorf("condition message should name pool e2e-b and the patch: %q", msg)
	}
	deps, err := deploymentsByPool(c.Kube, ns, workload.RefYurtAppSetLabel, "bad")
	if err != nil || !sameKeys(deps, "e2e-a") {
		t.Fatalf("only pool e2e-a should have a Deployment: %v (%v)", deps, err)
	}
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		evs := eventsOf(t, ns, "YurtAppSet", "bad")[yurtappset.ReasonTweakFailed]
		return len(evs) == 1 && strings.Contains(evs[0].Message, "pool e2e-b") && evs[0].Type == corev1.EventTypeWarning, nil
	})

	// No hot loop: while e2e-a's pod starts (Deployment status updates enqueue the set),
	// nothing fails and the warning is not repeated.
	errorsBefore := metricValue(t, e.metrics, "yurt_manager_reconcile_total", `controller="yurtappset"`, `result="error"`)
	time.Sleep(10 * time.Second)
	if after := metricValue(t, e.metrics, "yurt_manager_reconcile_total", `controller="yurtappset"`, `result="error"`); after != errorsBefore {
		t.Errorf("reconcile errors went from %v to %v: a spec error must not be retried", errorsBefore, after)
	}
	if evs := eventsOf(t, ns, "YurtAppSet", "bad")[yurtappset.ReasonTweakFailed]; len(evs) != 1 || evs[0].Count != 1 {
		t.Errorf("the warning was repeated: %+v", evs)
	}
	out, err := framework.Kubectl(t, "describe", "yurtappsets.apps.openyurt.io", "bad", "-n", ns)
	if err != nil || !strings.Contains(out, yurtappset.ReasonTweakFailed) {
		t.Errorf("kubectl describe does not explain the failure (%v):\n%s", err, out)
	}

	// Fixed: e2e-b gets its Deployment.
	updateAppSet(t, ns, "bad", func(s *appsv1beta1.YurtAppSet) {
		s.Spec.Workload.WorkloadTweaks[0].Tweaks.Patches[0].Path = "/spec/template/spec/containers/0/image"
	})
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		deps, err = deploymentsByPool(c.Kube, ns, workload.RefYurtAppSetLabel, "bad")
		return err == nil && sameKeys(deps, "e2e-a", "e2e-b") && deps["e2e-b"].Spec.Template.Spec.Containers[0].Image == "x", err
	})
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		cur, err = c.Yurt.AppsV1beta1().YurtAppSets(ns).Get(ctx, "bad", metav1.GetOptions{})
		cond := condition(cur, appsv1beta1.AppSetAppDispatched)
		return err == nil && cond != nil && cond.Status == corev1.ConditionTrue, err
	})

	// A tweak naming a missing container: e2e-b's Deployment stays as it was.
	before := deps["e2e-b"].ResourceVersion
	updateAppSet(t, ns, "bad", func(s *appsv1beta1.YurtAppSet) {
		s.Spec.Workload.WorkloadTweaks[0].Tweaks = appsv1beta1.Tweaks{ContainerImages: []appsv1beta1.ImageItem{{Name: "nope", TargetImage: "y"}}}
	})
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		cur, err = c.Yurt.AppsV1beta1().YurtAppSets(ns).Get(ctx, "bad", metav1.GetOptions{})
		cond := condition(cur, appsv1beta1.AppSetAppDispatched)
		return err == nil && cond != nil && cond.Status == corev1.ConditionFalse && strings.Contains(cond.Message, `container "nope"`) && strings.Contains(cond.Message, "pool e2e-b"), err
	})
	deps, err = deploymentsByPool(c.Kube, ns, workload.RefYurtAppSetLabel, "bad")
	if err != nil || deps["e2e-b"] == nil {
		t.Fatalf("e2e-b's Deployment was removed: %v", err)
	}
	if d := deps["e2e-b"]; d.Spec.Template.Spec.Containers[0].Image != "x" {
		t.Errorf("e2e-b's Deployment changed under a failing tweak: image %s (resourceVersion %s → %s)", d.Spec.Template.Spec.Containers[0].Image, before, d.ResourceVersion)
	}
	if evs := eventsOf(t, ns, "YurtAppSet", "bad")[yurtappset.ReasonTweakFailed]; len(evs) < 2 {
		t.Errorf("no event for the second failure: %+v", evs)
	}
	fmt.Fprintln(testWriter{t}, "AppDispatched:", condition(cur, appsv1beta1.AppSetAppDispatched).Message)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestYurtAppSetStatefulSet: a StatefulSet template gives one StatefulSet per named pool,
// pinned to the pool, with a {{nodepool-name}} patch; the hollow nodes run their pods, so
// both count as ready.
func TestYurtAppSetStatefulSet(t *testing.T) {
	setup(t)
	ctx := context.Background()
	c := framework.Clients(t)
	const ns = "e2e-yas-sts"
	framework.CreateNamespace(t, ns)
	base := appSet("db")
	dt := base.Spec.Workload.WorkloadTemplate.DeploymentTemplate
	set := &appsv1beta1.YurtAppSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1beta1.YurtAppSetSpec{
			Pools: []string{"e2e-a", "e2e-b"},
			Workload: appsv1beta1.Workload{
				WorkloadTemplate: appsv1beta1.WorkloadTemplate{StatefulSetTemplate: &appsv1beta1.StatefulSetTemplate{
					ObjectMeta: dt.ObjectMeta,
					Spec:       appsv1.StatefulSetSpec{Replicas: dt.Spec.Replicas, Selector: dt.Spec.Selector, Template: dt.Spec.Template, ServiceName: "db"},
				}},
				WorkloadTweaks: []appsv1beta1.WorkloadTweak{{Pools: []string{"e2e-a", "e2e-b"}, Tweaks: appsv1beta1.Tweaks{
					Patches: []appsv1beta1.Patch{{Path: "/spec/serviceName", Operation: appsv1beta1.REPLACE, Value: jsonValue(t, "db-{{nodepool-name}}")}},
				}}},
			},
		},
	}
	if _, err := c.Yurt.AppsV1beta1().YurtAppSets(ns).Create(ctx, set, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		list, err := c.Kube.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{LabelSelector: workload.RefYurtAppSetLabel + "=db"})
		if err != nil || len(list.Items) != 2 {
			return false, err
		}
		for _, s := range list.Items {
			pool := s.Labels[workload.PoolNameLabel]
			if s.Spec.ServiceName != "db-"+pool || s.Spec.Template.Spec.NodeSelector[apps.NodePoolLabel] != pool || !strings.HasPrefix(s.Name, "db-"+pool+"-") {
				t.Fatalf("StatefulSet %s: serviceName %s nodeSelector %v", s.Name, s.Spec.ServiceName, s.Spec.Template.Spec.NodeSelector)
			}
		}
		return true, nil
	})
	framework.WaitFor(t, 2*waitTimeout, func() (bool, error) {
		cur, err := c.Yurt.AppsV1beta1().YurtAppSets(ns).Get(ctx, "db", metav1.GetOptions{})
		return err == nil && cur.Status.ReadyWorkloads == 2 && cur.Status.TotalWorkloads == 2, err
	})
}
