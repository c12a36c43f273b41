package responsefilter

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yurt-edge/yurt/pkg/apis/apps"
	"github.com/yurt-edge/yurt/pkg/filter"
)

func validFilter() *apps.ResponseFilter {
	policy := apps.Ignore
	return &apps.ResponseFilter{
		ObjectMeta: metav1.ObjectMeta{Name: "f", Generation: 1, ResourceVersion: "1"},
		Spec: apps.ResponseFilterSpec{
			FailurePolicy: &policy,
			Match: apps.MatchResources{
				UserAgents: []string{"kube-proxy"},
				Resources:  []apps.ResourceRule{{Resources: []string{"services"}, Verbs: []string{"list"}}},
			},
			Keep: "object.metadata.name != 'hidden'",
		},
	}
}

func newValidator(t *testing.T) *validator {
	c, err := filter.NewCompiler(filter.CompilerOptions{NewExpressions: true})
	if err != nil {
		t.Fatal(err)
	}
	return &validator{compiler: c}
}

func TestValidate(t *testing.T) {
	v := newValidator(t)
	if errs := v.validate(validFilter()); len(errs) > 0 {
		t.Fatalf("valid filter: %v", errs)
	}
	cases := []struct {
		name   string
		mutate func(*apps.ResponseFilter)
		field  string
		detail string
	}{
		{"bad CEL", func(rf *apps.ResponseFilter) { rf.Spec.Keep = "object.metadata.name ==" }, "spec.keep", "Syntax error"},
		{"wrong type", func(rf *apps.ResponseFilter) { rf.Spec.Keep = "object.metadata.name" }, "spec.keep", "must evaluate to bool"},
		{"cost", func(rf *apps.ResponseFilter) {
			rf.Spec.MatchConditions = []apps.MatchCondition{{Name: "x", Expression: "object.a.all(a, object.a.all(b, object.a.all(c, a == c)))"}}
		}, "spec.matchConditions[0].expression", "estimated cost"},
		{"bad mutation", func(rf *apps.ResponseFilter) {
			rf.Spec.Mutations = []apps.Mutation{{PatchType: apps.PatchTypeJSONPatch, JSONPatch: &apps.JSONPatch{Expression: "[1]"}}}
		}, "spec.mutations[0].jsonPatch.expression", "must evaluate to list(JSONPatch)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rf := validFilter()
			tc.mutate(rf)
			errs := v.validate(rf)
			if len(errs) != 1 || errs[0].Field != tc.field || !strings.Contains(errs[0].Error(), tc.detail) {
				t.Fatalf("errors %v, want one on %s containing %q", errs, tc.field, tc.detail)
			}
		})
	}
	// A structural error on a field is not reported twice.
	rf := validFilter()
	rf.Spec.Variables = []apps.Variable{{Name: "v"}}
	if errs := v.validate(rf); len(errs) != 1 || errs[0].Field != "spec.variables[0].expression" {
		t.Fatalf("errors %v, want one Required on spec.variables[0].expression", errs)
	}
}

func TestValidateUpdate(t *testing.T) {
	v := newValidator(t)
	old := validFilter()
	// An unchanged spec is not recompiled; a changed one is.
	metaOnly := old.DeepCopy()
	metaOnly.Labels = map[string]string{"a": "b"}
	if errs := v.validateUpdate(metaOnly, old); len(errs) > 0 {
		t.Fatal(errs)
	}
	changed := old.DeepCopy()
	changed.Spec.Keep = "1"
	if errs := v.validateUpdate(changed, old); len(errs) != 1 || errs[0].Field != "spec.keep" {
		t.Fatalf("errors %v", errs)
	}
}

func TestServerOwnedStatus(t *testing.T) {
	rf := validFilter()
	setCompiled(rf)
	c := meta.FindStatusCondition(rf.Status.Conditions, ConditionReady)
	if rf.Status.ObservedGeneration != 1 || c == nil || c.Status != metav1.ConditionTrue || c.Reason != ReasonCompiled || c.ObservedGeneration != 1 {
		t.Fatalf("status %+v", rf.Status)
	}
	// Clients may add conditions, not change the server's.
	withOther := rf.DeepCopy()
	meta.SetStatusCondition(&withOther.Status.Conditions, metav1.Condition{Type: "Applied", Status: metav1.ConditionTrue, Reason: "Hubs", LastTransitionTime: metav1.Now()})
	if errs := validateClientStatusUpdate(withOther, rf); len(errs) > 0 {
		t.Fatalf("adding a condition: %v", errs)
	}
	forged := rf.DeepCopy()
	forged.Status.ObservedGeneration = 7
	meta.SetStatusCondition(&forged.Status.Conditions, metav1.Condition{Type: ConditionReady, Status: metav1.ConditionFalse, Reason: "Forged", LastTransitionTime: metav1.Now()})
	errs := validateClientStatusUpdate(forged, rf)
	if len(errs) != 2 || errs[0].Field != "status.observedGeneration" || errs[1].Field != "status.conditions" {
		t.Fatalf("errors %v", errs)
	}
}
