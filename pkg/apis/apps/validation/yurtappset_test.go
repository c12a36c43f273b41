package validation

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yurt-edge/yurt/pkg/apis/apps"
)

func podTemplate(labels map[string]string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
			Containers:     []corev1.Container{{Name: "nginx", Image: "nginx:1.27"}},
		},
	}
}

func deploymentTemplate() *apps.DeploymentTemplate {
	return &apps.DeploymentTemplate{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: podTemplate(map[string]string{"app": "web", "tier": "front"}),
		},
	}
}

func statefulSetTemplate() *apps.StatefulSetTemplate {
	return &apps.StatefulSetTemplate{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
		Spec: appsv1.StatefulSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: podTemplate(map[string]string{"app": "db"}),
		},
	}
}

func validYurtAppSet() *apps.YurtAppSet {
	return &apps.YurtAppSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "1"},
		Spec: apps.YurtAppSetSpec{
			Workload: apps.Workload{
				WorkloadTemplate: apps.WorkloadTemplate{DeploymentTemplate: deploymentTemplate()},
				WorkloadTweaks: []apps.WorkloadTweak{{
					Pools:            []string{"hangzhou"},
					NodePoolSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"region": "east"}},
					Tweaks: apps.Tweaks{
						Replicas:        ptr(int32(3)),
						ContainerImages: []apps.ImageItem{{Name: "nginx", TargetImage: "nginx:1.28"}},
						Patches: []apps.Patch{
							{Path: "/metadata/labels/pool", Operation: apps.ADD, Value: apiextensionsv1.JSON{Raw: []byte(`"{{nodepool-name}}"`)}},
							{Path: "/spec/template/spec/hostNetwork", Operation: apps.REMOVE},
						},
					},
				}},
			},
			NodePoolSelector:     &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "region", Operator: metav1.LabelSelectorOpExists}}},
			Pools:                []string{"hangzhou", "beijing"},
			RevisionHistoryLimit: ptr(int32(10)),
		},
	}
}

func TestValidateYurtAppSet(t *testing.T) {
	const tmpl = "spec.workload.workloadTemplate"
	const tweak = "spec.workload.workloadTweaks[0]"
	tests := []struct {
		name   string
		mutate func(*apps.YurtAppSet)
		want   []string
	}{
		{name: "valid", mutate: func(*apps.YurtAppSet) {}},
		{name: "valid statefulset", mutate: func(s *apps.YurtAppSet) {
			s.Spec.Workload.WorkloadTemplate = apps.WorkloadTemplate{StatefulSetTemplate: statefulSetTemplate()}
		}},
		{name: "no pools selected at all is allowed", mutate: func(s *apps.YurtAppSet) {
			s.Spec.Pools, s.Spec.NodePoolSelector, s.Spec.Workload.WorkloadTweaks = nil, nil, nil
		}},
		{name: "nil revision history limit tolerated", mutate: func(s *apps.YurtAppSet) { s.Spec.RevisionHistoryLimit = nil }},
		{name: "missing namespace", mutate: func(s *apps.YurtAppSet) { s.Namespace = "" },
			want: []string{required + " metadata.namespace"}},
		{name: "bad name", mutate: func(s *apps.YurtAppSet) { s.Name = "Web_1" },
			want: []string{invalid + " metadata.name"}},
		{name: "no template", mutate: func(s *apps.YurtAppSet) { s.Spec.Workload.WorkloadTemplate = apps.WorkloadTemplate{} },
			want: []string{required + " " + tmpl}},
		{name: "both templates", mutate: func(s *apps.YurtAppSet) {
			s.Spec.Workload.WorkloadTemplate.StatefulSetTemplate = statefulSetTemplate()
		}, want: []string{forbidden + " " + tmpl + ".statefulSetTemplate"}},
		{name: "bad template labels", mutate: func(s *apps.YurtAppSet) {
			s.Spec.Workload.WorkloadTemplate.DeploymentTemplate.Labels = map[string]string{"a": "b c"}
		}, want: []string{invalid + " " + tmpl + ".deploymentTemplate.metadata.labels"}},
		{name: "negative template replicas", mutate: func(s *apps.YurtAppSet) {
			s.Spec.Workload.WorkloadTemplate.DeploymentTemplate.Spec.Replicas = ptr(int32(-1))
		}, want: []string{invalid + " " + tmpl + ".deploymentTemplate.spec.replicas"}},
		{name: "selector does not match pod labels", mutate: func(s *apps.YurtAppSet) {
			s.Spec.Workload.WorkloadTemplate.DeploymentTemplate.Spec.Selector.MatchLabels = map[string]string{"app": "api"}
		}, want: []string{invalid + " " + tmpl + ".deploymentTemplate.spec.template.metadata.labels"}},
		{name: "invalid selector operator", mutate: func(s *apps.YurtAppSet) {
			s.Spec.Workload.WorkloadTemplate.StatefulSetTemplate = statefulSetTemplate()
			s.Spec.Workload.WorkloadTemplate.DeploymentTemplate = nil
			s.Spec.Workload.WorkloadTemplate.StatefulSetTemplate.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Like"}}
		}, want: []string{invalid + " " + tmpl + ".statefulSetTemplate.spec.selector.matchExpressions[0].operator"}},
		{name: "no containers", mutate: func(s *apps.YurtAppSet) {
			s.Spec.Workload.WorkloadTemplate.DeploymentTemplate.Spec.Template.Spec.Containers = nil
		}, want: []string{required + " " + tmpl + ".deploymentTemplate.spec.template.spec.containers"}},
		{name: "bad and duplicate container names", mutate: func(s *apps.YurtAppSet) {
			s.Spec.Workload.WorkloadTemplate.DeploymentTemplate.Spec.Template.Spec.Containers = []corev1.Container{
				{Name: "init"}, {Name: "Bad_Name"}, {},
			}
		}, want: []string{
			duplicate + " " + tmpl + ".deploymentTemplate.spec.template.spec.containers[0].name",
			invalid + " " + tmpl + ".deploymentTemplate.spec.template.spec.containers[1].name",
			required + " " + tmpl + ".deploymentTemplate.spec.template.spec.containers[2].name",
		}},
		{name: "tweak selects nothing", mutate: func(s *apps.YurtAppSet) {
			s.Spec.Workload.WorkloadTweaks[0].Pools = nil
			s.Spec.Workload.WorkloadTweaks[0].NodePoolSelector = nil
		}, want: []string{required + " " + tweak}},
		{name: "tweak with selector only", mutate: func(s *apps.YurtAppSet) { s.Spec.Workload.WorkloadTweaks[0].Pools = nil }},
		{name: "tweak with bad selector", mutate: func(s *apps.YurtAppSet) {
			s.Spec.Workload.WorkloadTweaks[0].NodePoolSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"-": "x"}}
		}, want: []string{invalid + " " + tweak + ".nodepoolSelector.matchLabels"}},
		{name: "tweak with bad pools", mutate: func(s *apps.YurtAppSet) {
			s.Spec.Workload.WorkloadTweaks[0].Pools = []string{"", "Bad", "a", "a"}
		}, want: []string{required + " " + tweak + ".pools[0]", invalid + " " + tweak + ".pools[1]", duplicate + " " + tweak + ".pools[3]"}},
		{name: "negative tweak replicas", mutate: func(s *apps.YurtAppSet) {
			s.Spec.Workload.WorkloadTweaks[0].Tweaks.Replicas = ptr(int32(-2))
		}, want: []string{invalid + " " + tweak + ".tweaks.replicas"}},
		{name: "zero tweak replicas", mutate: func(s *apps.YurtAppSet) {
			s.Spec.Workload.WorkloadTweaks[0].Tweaks.Replicas = ptr(int32(0))
		}},
		{name: "bad container images", mutate: func(s *apps.YurtAppSet) {
			s.Spec.Workload.WorkloadTweaks[0].Tweaks.ContainerImages = []apps.ImageItem{{}, {Name: "a", TargetImage: "x"}, {Name: "a", TargetImage: " "}}
		}, want: []string{
			required + " " + tweak + ".tweaks.containerImages[0].name",
			required + " " + tweak + ".tweaks.containerImages[0].targetImage",
			duplicate + " " + tweak + ".tweaks.containerImages[2].name",
			required + " " + tweak + ".tweaks.containerImages[2].targetImage",
		}},
		{name: "bad patches", mutate: func(s *apps.YurtAppSet) {
			s.Spec.Workload.WorkloadTweaks[0].Tweaks.Patches = []apps.Patch{
				{},
				{Path: "spec/replicas", Operation: "move", Value: apiextensionsv1.JSON{Raw: []byte(`1`)}},
				{Path: "/spec/replicas", Operation: apps.REPLACE},
				{Path: "/spec/replicas", Operation: apps.ADD, Value: apiextensionsv1.JSON{Raw: []byte(`null`)}},
				{Path: "/spec/replicas", Operation: apps.REPLACE, Value: apiextensionsv1.JSON{Raw: []byte(`0`)}},
			}
		}, want: []string{
			required + " " + tweak + ".tweaks.patches[0].path",
			required + " " + tweak + ".tweaks.patches[0].operation",
			invalid + " " + tweak + ".tweaks.patches[1].path",
			notSupported + " " + tweak + ".tweaks.patches[1].operation",
			required + " " + tweak + ".tweaks.patches[2].value",
			required + " " + tweak + ".tweaks.patches[3].value",
		}},
		{name: "bad set pools and selector", mutate: func(s *apps.YurtAppSet) {
			s.Spec.Pools = []string{"x", "x"}
			s.Spec.NodePoolSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "k", Operator: metav1.LabelSelectorOpIn}}}
		}, want: []string{duplicate + " spec.pools[1]", required + " spec.nodepoolSelector.matchExpressions[0].values"}},
		{name: "negative revision history limit", mutate: func(s *apps.YurtAppSet) { s.Spec.RevisionHistoryLimit = ptr(int32(-1)) },
			want: []string{invalid + " spec.revisionHistoryLimit"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := validYurtAppSet()
			tc.mutate(set)
			expectErrors(t, ValidateYurtAppSet(set), tc.want...)
		})
	}
}

func TestValidateYurtAppSetUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*apps.YurtAppSet)
		want   []string
	}{
		{name: "no change", mutate: func(*apps.YurtAppSet) {}},
		{name: "tweaks and template change", mutate: func(s *apps.YurtAppSet) {
			s.Spec.Workload.WorkloadTweaks = nil
			s.Spec.Workload.WorkloadTemplate.DeploymentTemplate.Spec.Replicas = ptr(int32(5))
		}},
		{name: "template kind cannot change", mutate: func(s *apps.YurtAppSet) {
			s.Spec.Workload.WorkloadTemplate = apps.WorkloadTemplate{StatefulSetTemplate: statefulSetTemplate()}
		}, want: []string{forbidden + " spec.workload.workloadTemplate"}},
		{name: "new spec is validated", mutate: func(s *apps.YurtAppSet) { s.Spec.Workload.WorkloadTemplate = apps.WorkloadTemplate{} },
			want: []string{required + " spec.workload.workloadTemplate"}},
		{name: "namespace is immutable", mutate: func(s *apps.YurtAppSet) { s.Namespace = "kube-system" },
			want: []string{invalid + " metadata.namespace"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldSet := validYurtAppSet()
			newSet := oldSet.DeepCopy()
			tc.mutate(newSet)
			expectErrors(t, ValidateYurtAppSetUpdate(newSet, oldSet), tc.want...)
		})
	}
}

func TestValidateYurtAppSetStatusUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*apps.YurtAppSet)
		want   []string
	}{
		{name: "valid", mutate: func(s *apps.YurtAppSet) {
			s.Status = apps.YurtAppSetStatus{
				ObservedGeneration: 3, CollisionCount: ptr(int32(1)), CurrentRevision: "web-abc",
				Conditions:     []apps.YurtAppSetCondition{{Type: apps.AppSetAppReady, Status: corev1.ConditionTrue}},
				ReadyWorkloads: 1, UpdatedWorkloads: 2, TotalWorkloads: 2,
			}
		}},
		{name: "negative numbers", mutate: func(s *apps.YurtAppSet) {
			s.Status = apps.YurtAppSetStatus{ObservedGeneration: -1, CollisionCount: ptr(int32(-1)), ReadyWorkloads: -1, UpdatedWorkloads: -1, TotalWorkloads: -1}
		}, want: []string{
			invalid + " status.observedGeneration", invalid + " status.collisionCount", invalid + " status.readyWorkloads",
			invalid + " status.updatedWorkloads", invalid + " status.totalWorkloads",
		}},
		{name: "bad conditions", mutate: func(s *apps.YurtAppSet) {
			s.Status.Conditions = []apps.YurtAppSetCondition{{}, {Type: apps.AppSetPoolFound}, {Type: apps.AppSetPoolFound}}
		}, want: []string{required + " status.conditions[0].type", duplicate + " status.conditions[2].type"}},
		{name: "spec is not checked", mutate: func(s *apps.YurtAppSet) { s.Spec.Workload.WorkloadTemplate = apps.WorkloadTemplate{} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldSet := validYurtAppSet()
			newSet := oldSet.DeepCopy()
			tc.mutate(newSet)
			expectErrors(t, ValidateYurtAppSetStatusUpdate(newSet, oldSet), tc.want...)
		})
	}
}
