package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yurt-edge/yurt/pkg/apis/apps"
)

func validYurtAppDaemon() *apps.YurtAppDaemon {
	return &apps.YurtAppDaemon{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "1"},
		Spec: apps.YurtAppDaemonSpec{
			Selector:             &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			WorkloadTemplate:     apps.WorkloadTemplate{DeploymentTemplate: deploymentTemplate()},
			NodePoolSelector:     &metav1.LabelSelector{MatchLabels: map[string]string{"region": "east"}},
			RevisionHistoryLimit: ptr(int32(10)),
		},
	}
}

func TestValidateYurtAppDaemon(t *testing.T) {
	const tmpl = "spec.workloadTemplate"
	tests := []struct {
		name   string
		mutate func(*apps.YurtAppDaemon)
		want   []string
	}{
		{name: "valid", mutate: func(*apps.YurtAppDaemon) {}},
		{name: "valid statefulset", mutate: func(d *apps.YurtAppDaemon) {
			d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}
			d.Spec.WorkloadTemplate = apps.WorkloadTemplate{StatefulSetTemplate: statefulSetTemplate()}
		}},
		{name: "empty nodepool selector selects every pool", mutate: func(d *apps.YurtAppDaemon) {
			d.Spec.NodePoolSelector = &metav1.LabelSelector{}
		}},
		{name: "missing namespace", mutate: func(d *apps.YurtAppDaemon) { d.Namespace = "" },
			want: []string{required + " metadata.namespace"}},
		{name: "missing selector", mutate: func(d *apps.YurtAppDaemon) { d.Spec.Selector = nil },
			want: []string{required + " spec.selector"}},
		{name: "empty selector", mutate: func(d *apps.YurtAppDaemon) { d.Spec.Selector = &metav1.LabelSelector{} },
			want: []string{invalid + " spec.selector"}},
		{name: "invalid selector", mutate: func(d *apps.YurtAppDaemon) {
			d.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpExists, Values: []string{"x"}}}}
		}, want: []string{forbidden + " spec.selector.matchExpressions[0].values"}},
		{name: "selector does not match template labels", mutate: func(d *apps.YurtAppDaemon) {
			d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}
		}, want: []string{invalid + " " + tmpl + ".deploymentTemplate.metadata.labels"}},
		{name: "selector does not match statefulset labels", mutate: func(d *apps.YurtAppDaemon) {
			d.Spec.WorkloadTemplate = apps.WorkloadTemplate{StatefulSetTemplate: statefulSetTemplate()}
		}, want: []string{invalid + " " + tmpl + ".statefulSetTemplate.metadata.labels"}},
		{name: "missing nodepool selector", mutate: func(d *apps.YurtAppDaemon) { d.Spec.NodePoolSelector = nil },
			want: []string{required + " spec.nodepoolSelector"}},
		{name: "invalid nodepool selector", mutate: func(d *apps.YurtAppDaemon) {
			d.Spec.NodePoolSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"region": "a b"}}
		}, want: []string{invalid + " spec.nodepoolSelector.matchLabels"}},
		{name: "no template", mutate: func(d *apps.YurtAppDaemon) { d.Spec.WorkloadTemplate = apps.WorkloadTemplate{} },
			want: []string{required + " " + tmpl}},
		{name: "both templates", mutate: func(d *apps.YurtAppDaemon) {
			d.Spec.WorkloadTemplate.StatefulSetTemplate = statefulSetTemplate()
			d.Spec.WorkloadTemplate.StatefulSetTemplate.Labels = map[string]string{"app": "web"}
		}, want: []string{forbidden + " " + tmpl + ".statefulSetTemplate"}},
		{name: "template without containers", mutate: func(d *apps.YurtAppDaemon) {
			d.Spec.WorkloadTemplate.DeploymentTemplate.Spec.Template.Spec.Containers = []corev1.Container{}
		}, want: []string{required + " " + tmpl + ".deploymentTemplate.spec.template.spec.containers"}},
		{name: "negative revision history limit", mutate: func(d *apps.YurtAppDaemon) { d.Spec.RevisionHistoryLimit = ptr(int32(-5)) },
			want: []string{invalid + " spec.revisionHistoryLimit"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			daemon := validYurtAppDaemon()
			tc.mutate(daemon)
			expectErrors(t, ValidateYurtAppDaemon(daemon), tc.want...)
		})
	}
}

func TestValidateYurtAppDaemonUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*apps.YurtAppDaemon)
		want   []string
	}{
		{name: "no change", mutate: func(*apps.YurtAppDaemon) {}},
		{name: "nodepool selector changes", mutate: func(d *apps.YurtAppDaemon) {
			d.Spec.NodePoolSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"region": "west"}}
		}},
		{name: "template kind cannot change", mutate: func(d *apps.YurtAppDaemon) {
			d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}
			d.Spec.WorkloadTemplate = apps.WorkloadTemplate{StatefulSetTemplate: statefulSetTemplate()}
		}, want: []string{forbidden + " spec.workloadTemplate"}},
		{name: "new spec is validated", mutate: func(d *apps.YurtAppDaemon) { d.Spec.Selector = nil },
			want: []string{required + " spec.selector"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldDaemon := validYurtAppDaemon()
			newDaemon := oldDaemon.DeepCopy()
			tc.mutate(newDaemon)
			expectErrors(t, ValidateYurtAppDaemonUpdate(newDaemon, oldDaemon), tc.want...)
		})
	}
}

func TestValidateYurtAppDaemonStatusUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*apps.YurtAppDaemon)
		want   []string
	}{
		{name: "valid", mutate: func(d *apps.YurtAppDaemon) {
			d.Status = apps.YurtAppDaemonStatus{
				ObservedGeneration: 1, CollisionCount: ptr(int32(0)), TemplateType: "Deployment",
				NodePools:  []string{"hangzhou", "beijing"},
				Conditions: []apps.YurtAppDaemonCondition{{Type: apps.WorkLoadProvisioned, Status: corev1.ConditionTrue}},
			}
		}},
		{name: "bad status", mutate: func(d *apps.YurtAppDaemon) {
			d.Status = apps.YurtAppDaemonStatus{
				ObservedGeneration: -1, CollisionCount: ptr(int32(-1)),
				NodePools:  []string{"a", "a"},
				Conditions: []apps.YurtAppDaemonCondition{{Type: apps.WorkLoadProvisioned}, {Type: apps.WorkLoadProvisioned}},
			}
		}, want: []string{
			invalid + " status.observedGeneration", invalid + " status.collisionCount",
			duplicate + " status.nodepools[1]", duplicate + " status.conditions[1].type",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldDaemon := validYurtAppDaemon()
			newDaemon := oldDaemon.DeepCopy()
			tc.mutate(newDaemon)
			expectErrors(t, ValidateYurtAppDaemonStatusUpdate(newDaemon, oldDaemon), tc.want...)
		})
	}
}
