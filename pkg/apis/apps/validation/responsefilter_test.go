package validation

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yurt-edge/yurt/pkg/apis/apps"
)

func validResponseFilter() *apps.ResponseFilter {
	return &apps.ResponseFilter{
		ObjectMeta: metav1.ObjectMeta{Name: "drop-lb-services", ResourceVersion: "1"},
		Spec: apps.ResponseFilterSpec{
			Priority:      10,
			FailurePolicy: ptr(apps.Ignore),
			Match: apps.MatchResources{
				UserAgents: []string{"kube-proxy", "coredns"},
				Resources: []apps.ResourceRule{
					{Group: "", Resources: []string{"services"}, Verbs: []string{"list", "watch"}},
					{Group: "discovery.k8s.io", Resources: []string{"*"}, Verbs: []string{"*"}},
				},
			},
			MatchConditions: []apps.MatchCondition{{Name: "is-lb", Expression: `object.spec.type == "LoadBalancer"`}},
			Variables:       []apps.Variable{{Name: "pool_name", Expression: `node.labels["apps.openyurt.io/nodepool"]`}},
			Keep:            `variables.pool_name != ""`,
			Mutations: []apps.Mutation{
				{PatchType: apps.PatchTypeApplyConfiguration, ApplyConfiguration: &apps.ApplyConfiguration{Expression: `Object{metadata: Object.metadata{labels: {"filtered": "true"}}}`}},
				{PatchType: apps.PatchTypeJSONPatch, JSONPatch: &apps.JSONPatch{Expression: `[JSONPatch{op: "remove", path: "/spec/externalIPs"}]`}},
			},
		},
	}
}

func TestValidateResponseFilter(t *testing.T) {
	long := strings.Repeat("x", MaxExpressionLength+1)
	tests := []struct {
		name   string
		mutate func(*apps.ResponseFilter)
		want   []string
	}{
		{name: "valid", mutate: func(*apps.ResponseFilter) {}},
		{name: "keep only", mutate: func(f *apps.ResponseFilter) { f.Spec.Mutations = nil }},
		{name: "mutations only", mutate: func(f *apps.ResponseFilter) { f.Spec.Keep = "" }},
		{name: "nil failure policy tolerated", mutate: func(f *apps.ResponseFilter) { f.Spec.FailurePolicy = nil }},
		{name: "expression at the size limit", mutate: func(f *apps.ResponseFilter) { f.Spec.Keep = strings.Repeat("x", MaxExpressionLength) }},
		{name: "namespace on a cluster-scoped kind", mutate: func(f *apps.ResponseFilter) { f.Namespace = "kube-system" },
			want: []string{forbidden + " metadata.namespace"}},
		{name: "bad name", mutate: func(f *apps.ResponseFilter) { f.Name = "Drop LB" },
			want: []string{invalid + " metadata.name"}},
		{name: "unknown failure policy", mutate: func(f *apps.ResponseFilter) { f.Spec.FailurePolicy = ptr(apps.FailurePolicyType("Retry")) },
			want: []string{notSupported + " spec.failurePolicy"}},
		{name: "no user agents", mutate: func(f *apps.ResponseFilter) { f.Spec.Match.UserAgents = nil },
			want: []string{required + " spec.match.userAgents"}},
		{name: "empty, long and duplicate user agents", mutate: func(f *apps.ResponseFilter) {
			f.Spec.Match.UserAgents = []string{"", strings.Repeat("a", MaxUserAgentLength+1), "kubelet", "kubelet", "*"}
		}, want: []string{required + " spec.match.userAgents[0]", tooLong + " spec.match.userAgents[1]", duplicate + " spec.match.userAgents[3]"}},
		{name: "too many user agents", mutate: func(f *apps.ResponseFilter) {
			f.Spec.Match.UserAgents = nil
			for i := 0; i <= MaxFilterListItems; i++ {
				f.Spec.Match.UserAgents = append(f.Spec.Match.UserAgents, fmt.Sprintf("agent-%d", i))
			}
		}, want: []string{tooMany + " spec.match.userAgents"}},
		{name: "no resource rules", mutate: func(f *apps.ResponseFilter) { f.Spec.Match.Resources = nil },
			want: []string{required + " spec.match.resources"}},
		{name: "empty resource rule", mutate: func(f *apps.ResponseFilter) {
			f.Spec.Match.Resources = []apps.ResourceRule{{}}
		}, want: []string{required + " spec.match.resources[0].resources", required + " spec.match.resources[0].verbs"}},
		{name: "bad resource rule", mutate: func(f *apps.ResponseFilter) {
			f.Spec.Match.Resources = []apps.ResourceRule{{
				Group:     "Discovery_",
				Resources: []string{"", "EndpointSlices", "pods", "pods"},
				Verbs:     []string{"get", "create", "", "get"},
			}}
		}, want: []string{
			invalid + " spec.match.resources[0].group",
			required + " spec.match.resources[0].resources[0]",
			invalid + " spec.match.resources[0].resources[1]",
			duplicate + " spec.match.resources[0].resources[3]",
			notSupported + " spec.match.resources[0].verbs[1]",
			required + " spec.match.resources[0].verbs[2]",
			duplicate + " spec.match.resources[0].verbs[3]",
		}},
		{name: "bad match conditions", mutate: func(f *apps.ResponseFilter) {
			f.Spec.MatchConditions = []apps.MatchCondition{
				{Expression: "true"},
				{Name: "not a name", Expression: "true"},
				{Name: "a", Expression: " "},
				{Name: "a", Expression: long},
			}
		}, want: []string{
			required + " spec.matchConditions[0].name",
			invalid + " spec.matchConditions[1].name",
			required + " spec.matchConditions[2].expression",
			duplicate + " spec.matchConditions[3].name",
			tooLong + " spec.matchConditions[3].expression",
		}},
		{name: "too many match conditions", mutate: func(f *apps.ResponseFilter) {
			f.Spec.MatchConditions = nil
			for i := 0; i <= MaxFilterListItems; i++ {
				f.Spec.MatchConditions = append(f.Spec.MatchConditions, apps.MatchCondition{Name: fmt.Sprintf("c%d", i), Expression: "true"})
			}
		}, want: []string{tooMany + " spec.matchConditions"}},
		{name: "bad variables", mutate: func(f *apps.ResponseFilter) {
			f.Spec.Variables = []apps.Variable{
				{Expression: "1"},
				{Name: "pool-name", Expression: "1"},
				{Name: "9lives", Expression: "1"},
				{Name: "_ok", Expression: ""},
				{Name: "_ok", Expression: long},
			}
		}, want: []string{
			required + " spec.variables[0].name",
			invalid + " spec.variables[1].name",
			invalid + " spec.variables[2].name",
			required + " spec.variables[3].expression",
			duplicate + " spec.variables[4].name",
			tooLong + " spec.variables[4].expression",
		}},
		{name: "too many variables", mutate: func(f *apps.ResponseFilter) {
			f.Spec.Variables = nil
			for i := 0; i <= MaxFilterListItems; i++ {
				f.Spec.Variables = append(f.Spec.Variables, apps.Variable{Name: fmt.Sprintf("v%d", i), Expression: "1"})
			}
		}, want: []string{tooMany + " spec.variables"}},
		{name: "neither keep nor mutations", mutate: func(f *apps.ResponseFilter) { f.Spec.Keep, f.Spec.Mutations = "", nil },
			want: []string{required + " spec.keep"}},
		{name: "blank keep", mutate: func(f *apps.ResponseFilter) { f.Spec.Keep = "  " },
			want: []string{required + " spec.keep"}},
		{name: "keep too long", mutate: func(f *apps.ResponseFilter) { f.Spec.Keep = long },
			want: []string{tooLong + " spec.keep"}},
		{name: "bad mutations", mutate: func(f *apps.ResponseFilter) {
			f.Spec.Mutations = []apps.Mutation{
				{},
				{PatchType: "StrategicMerge"},
				{PatchType: apps.PatchTypeApplyConfiguration},
				{PatchType: apps.PatchTypeApplyConfiguration, ApplyConfiguration: &apps.ApplyConfiguration{Expression: "x"}, JSONPatch: &apps.JSONPatch{Expression: "y"}},
				{PatchType: apps.PatchTypeJSONPatch, ApplyConfiguration: &apps.ApplyConfiguration{}},
				{PatchType: apps.PatchTypeJSONPatch, JSONPatch: &apps.JSONPatch{Expression: long}},
			}
		}, want: []string{
			required + " spec.mutations[0].patchType",
			notSupported + " spec.mutations[1].patchType",
			required + " spec.mutations[2].applyConfiguration",
			forbidden + " spec.mutations[3].jsonPatch",
			required + " spec.mutations[4].jsonPatch",
			forbidden + " spec.mutations[4].applyConfiguration",
			required + " spec.mutations[4].applyConfiguration.expression",
			tooLong + " spec.mutations[5].jsonPatch.expression",
		}},
		{name: "too many mutations", mutate: func(f *apps.ResponseFilter) {
			f.Spec.Mutations = nil
			for i := 0; i <= MaxFilterListItems; i++ {
				f.Spec.Mutations = append(f.Spec.Mutations, apps.Mutation{PatchType: apps.PatchTypeJSONPatch, JSONPatch: &apps.JSONPatch{Expression: "[]"}})
			}
		}, want: []string{tooMany + " spec.mutations"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			filter := validResponseFilter()
			tc.mutate(filter)
			expectErrors(t, ValidateResponseFilter(filter), tc.want...)
		})
	}
}

func TestValidateResponseFilterUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*apps.ResponseFilter)
		want   []string
	}{
		{name: "no change", mutate: func(*apps.ResponseFilter) {}},
		{name: "spec changes", mutate: func(f *apps.ResponseFilter) {
			f.Spec.Priority = -1
			f.Spec.FailurePolicy = ptr(apps.Fail)
			f.Spec.Mutations = nil
		}},
		{name: "new spec is validated", mutate: func(f *apps.ResponseFilter) { f.Spec.Match.UserAgents = nil },
			want: []string{required + " spec.match.userAgents"}},
		{name: "missing resource version", mutate: func(f *apps.ResponseFilter) { f.ResourceVersion = "" },
			want: []string{invalid + " metadata.resourceVersion"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldFilter := validResponseFilter()
			newFilter := oldFilter.DeepCopy()
			tc.mutate(newFilter)
			expectErrors(t, ValidateResponseFilterUpdate(newFilter, oldFilter), tc.want...)
		})
	}
}

func TestValidateResponseFilterStatusUpdate(t *testing.T) {
	now := metav1.NewTime(time.Unix(1700000000, 0))
	tests := []struct {
		name   string
		mutate func(*apps.ResponseFilter)
		want   []string
	}{
		{name: "valid", mutate: func(f *apps.ResponseFilter) {
			f.Status = apps.ResponseFilterStatus{
				ObservedGeneration: 2,
				Conditions:         []metav1.Condition{{Type: "Compiled", Status: metav1.ConditionTrue, Reason: "Compiled", LastTransitionTime: now}},
			}
		}},
		{name: "bad status", mutate: func(f *apps.ResponseFilter) {
			f.Status = apps.ResponseFilterStatus{
				ObservedGeneration: -1,
				Conditions:         []metav1.Condition{{Type: "Compiled", Status: "Maybe", Reason: "Compiled", LastTransitionTime: now}},
			}
		}, want: []string{invalid + " status.observedGeneration", notSupported + " status.conditions[0].status"}},
		{name: "spec is not checked", mutate: func(f *apps.ResponseFilter) { f.Spec.Match = apps.MatchResources{} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldFilter := validResponseFilter()
			newFilter := oldFilter.DeepCopy()
			tc.mutate(newFilter)
			expectErrors(t, ValidateResponseFilterStatusUpdate(newFilter, oldFilter), tc.want...)
		})
	}
}
