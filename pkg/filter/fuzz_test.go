package filter

import (
	"context"
	"strings"
	"testing"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
)

// FuzzCompile compiles random expressions in every position of a filter and runs those that
// compile on a Service: no panic, errors name a spec field, runs stay within the budget.
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{
		"true", "object.metadata.name == 'x'", "(((", "object.spec.ports.all(p, p.port > 0)",
		"[JSONPatch{op: 'add', path: '/metadata/labels', value: {'a': 'b'}}]",
		"Object{metadata: Object.metadata{labels: {'a': 'b'}}}",
		"nodePool(node.name) == node.pool", "service('ns', 'web').hasValue()",
		"variables.v", "object.a.map(a, object.a.map(b, object.a.map(c, 1)))",
		"'x'.matches('(')", "1/0 == 1", "[1,2,3].map(x, x * 2)", "request.verb in ['list', 'watch']",
		"object.?spec.?ports.orValue([]).transformList(i, p, p.port > 0, i)", "\x00", "node.labels['a']",
	} {
		for pos := uint8(0); pos < 5; pos++ {
			f.Add(seed, pos)
		}
	}
	c, err := NewCompiler(CompilerOptions{Lookup: fakeLookup{pools: map[string]string{"n1": "a"}}, RuntimeCostBudget: 200_000})
	if err != nil {
		f.Fatal(err)
	}
	obj := service("web", map[string]any{"a": "b"})
	f.Fuzz(func(t *testing.T, expr string, pos uint8) {
		rf := newFilter("fuzz", func(s *appsv1alpha1.ResponseFilterSpec) {
			s.Variables = []appsv1alpha1.Variable{{Name: "v", Expression: "object.metadata.name"}}
			switch pos % 5 {
			case 0:
				s.Keep = expr
			case 1:
				s.MatchConditions = []appsv1alpha1.MatchCondition{{Name: "c", Expression: expr}}
			case 2:
				s.Variables = append(s.Variables, appsv1alpha1.Variable{Name: "w", Expression: expr})
			case 3:
				s.Mutations = []appsv1alpha1.Mutation{jsonPatch(expr)}
			case 4:
				s.Mutations = []appsv1alpha1.Mutation{applyConfig(expr)}
			}
		})
		filter, errs := c.Compile(rf)
		if (filter == nil) == (len(errs) == 0) {
			t.Fatalf("filter %v with errors %v", filter, errs)
		}
		for _, e := range errs {
			if !strings.HasPrefix(e.Field, "spec.") {
				t.Fatalf("error %v does not name a spec field", e)
			}
		}
		if filter == nil {
			return
		}
		res, err := filter.Evaluate(context.Background(), obj, svcList, Node{Name: "n1", Pool: "a"})
		if res.Cost > 200_000+1_000_000 {
			t.Fatalf("spent %d", res.Cost)
		}
		if err == nil && res.Keep && res.Object == nil {
			t.Fatal("kept a nil object")
		}
	})
}
