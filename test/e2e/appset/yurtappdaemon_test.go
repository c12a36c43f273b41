package appset

import (
	"context"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yurt-edge/yurt/apis/apps"
	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
	"github.com/yurt-edge/yurt/pkg/controller/workload"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

// TestYurtAppDaemon: a YurtAppDaemon runs its Deployment in every pool matching its
// selector, and follows pools as they gain or lose the label or appear, and template edits.
func TestYurtAppDaemon(t *testing.T) {
	setup(t)
	ctx := context.Background()
	c := framework.Clients(t)
	const ns = "e2e-yad"
	framework.CreateNamespace(t, ns)
	createPool(t, "e2e-y1", map[string]string{"daemon": "yes"})
	createPool(t, "e2e-y2", nil)

	one := int32(1)
	lbls := map[string]string{"app": "agent"}
	yad := &appsv1alpha1.YurtAppDaemon{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1alpha1.YurtAppDaemonSpec{
			Selector:         &metav1.LabelSelector{MatchLabels: lbls},
			NodePoolSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"daemon": "yes"}},
			WorkloadTemplate: appsv1alpha1.WorkloadTemplate{DeploymentTemplate: &appsv1alpha1.DeploymentTemplate{
				ObjectMeta: metav1.ObjectMeta{Labels: lbls},
				Spec: appsv1.DeploymentSpec{
					Replicas: &one,
					Selector: &metav1.LabelSelector{MatchLabels: lbls},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: lbls},
						Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: pauseImage}}},
					},
				},
			}},
		},
	}
	created, err := c.Yurt.AppsV1alpha1().YurtAppDaemons(ns).Create(ctx, yad, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitPools := func(pools ...string) map[string]*appsv1.Deployment {
		t.Helper()
		var deps map[string]*appsv1.Deployment
		framework.WaitFor(t, waitTimeout, func() (bool, error) {
			deps, err = deploymentsByPool(c.Kube, ns, workload.RefYurtAppDaemonLabel, "agent")
			return err == nil && sameKeys(deps, pools...), err
		})
		framework.WaitFor(t, waitTimeout, func() (bool, error) {
			cur, err := c.Yurt.AppsV1alpha1().YurtAppDaemons(ns).Get(ctx, "agent", metav1.GetOptions{})
			return err == nil && slices.Equal(cur.Status.NodePools, pools) && cur.Status.ObservedGeneration == cur.Generation, err
		})
		return deps
	}
	deps := waitPools("e2e-y1")
	d := deps["e2e-y1"]
	if d.Spec.Template.Spec.NodeSelector[apps.NodePoolLabel] != "e2e-y1" {
		t.Errorf("not pinned to its pool: %v", d.Spec.Template.Spec.NodeSelector)
	}
	if ref := metav1.GetControllerOf(d); ref == nil || ref.UID != created.UID || ref.Kind != "YurtAppDaemon" {
		t.Errorf("owner %+v", d.OwnerReferences)
	}

	labelPool(t, "e2e-y2", "daemon", "yes")
	waitPools("e2e-y1", "e2e-y2")
	createPool(t, "e2e-y3", map[string]string{"daemon": "yes"})
	waitPools("e2e-y1", "e2e-y2", "e2e-y3")
	labelPool(t, "e2e-y1", "daemon", "")
	waitPools("e2e-y2", "e2e-y3")

	cur, err := c.Yurt.AppsV1alpha1().YurtAppDaemons(ns).Get(ctx, "agent", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cur.Status.TemplateType != "Deployment" || len(cur.Status.Conditions) != 1 || cur.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Errorf("status %+v", cur.Status)
	}
	updateAppDaemon(t, ns, "agent", func(d *appsv1alpha1.YurtAppDaemon) {
		d.Spec.WorkloadTemplate.DeploymentTemplate.Spec.Template.Spec.Containers[0].Image = "registry.k8s.io/pause:3.9"
	})
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		deps, err = deploymentsByPool(c.Kube, ns, workload.RefYurtAppDaemonLabel, "agent")
		if err != nil || !sameKeys(deps, "e2e-y2", "e2e-y3") {
			return false, err
		}
		for _, d := range deps {
			if d.Spec.Template.Spec.Containers[0].Image != "registry.k8s.io/pause:3.9" {
				return false, nil
			}
		}
		return true, nil
	})
}
