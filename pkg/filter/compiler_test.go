package filter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
)

func newFilter(name string, mutate func(*appsv1alpha1.ResponseFilterSpec)) *appsv1alpha1.ResponseFilter {
	rf := &appsv1alpha1.ResponseFilter{}
	rf.Name = name
	rf.Spec.Match = appsv1alpha1.MatchResources{
		UserAgents: []string{"kube-proxy"},
		Resources:  []appsv1alpha1.ResourceRule{{Group: "", Resources: []string{"services"}, Verbs: []string{"list", "watch"}}},
	}
	rf.Spec.Keep = "true"
	if mutate != nil {
		mutate(&rf.Spec)
	}
	return rf
}

func newCompiler(t testing.TB, opts CompilerOptions) *Compiler {
	t.Helper()
	c, err := NewCompiler(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func jsonPatch(expr string) appsv1alpha1.Mutation {
	return appsv1alpha1.Mutation{PatchType: appsv1alpha1.PatchTypeJSONPatch, JSONPatch: &appsv1alpha1.JSONPatch{Expression: expr}}
}

func applyConfig(expr string) appsv1alpha1.Mutation {
	return appsv1alpha1.Mutation{PatchType: appsv1alpha1.PatchTypeApplyConfiguration, ApplyConfiguration: &appsv1alpha1.ApplyConfiguration{Expression: expr}}
}

func TestCompileErrors(t *testing.T) {
	c := newCompiler(t, CompilerOptions{NewExpressions: true})
	cases := []struct {
		name      string
		spec      func(*appsv1alpha1.ResponseFilterSpec)
		wantField string
		wantType  field.ErrorType
		wantMsg   string
	}{
		{"syntax error in keep", func(s *appsv1alpha1.ResponseFilterSpec) { s.Keep = "object.metadata.name ==" },
			"spec.keep", field.ErrorTypeInvalid, "Syntax error"},
		{"undeclared reference", func(s *appsv1alpha1.ResponseFilterSpec) { s.Keep = "oldObject == null" },
			"spec.keep", field.ErrorTypeInvalid, "undeclared reference to 'oldObject'"},
		{"unknown function", func(s *appsv1alpha1.ResponseFilterSpec) { s.Keep = "nodePools('x') == ''" },
			"spec.keep", field.ErrorTypeInvalid, "undeclared reference to 'nodePools'"},
		{"wrong argument types", func(s *appsv1alpha1.ResponseFilterSpec) { s.Keep = "nodePool(1) == ''" },
			"spec.keep", field.ErrorTypeInvalid, "found no matching overload for 'nodePool'"},
		{"keep must be bool", func(s *appsv1alpha1.ResponseFilterSpec) { s.Keep = "'yes'" },
			"spec.keep", field.ErrorTypeInvalid, "must evaluate to bool but evaluates to string"},
		{"keep of dyn type", func(s *appsv1alpha1.ResponseFilterSpec) { s.Keep = "object.spec.enabled" },
			"spec.keep", field.ErrorTypeInvalid, "must evaluate to bool but evaluates to dyn"},
		{"match condition must be bool", func(s *appsv1alpha1.ResponseFilterSpec) {
			s.MatchConditions = []appsv1alpha1.MatchCondition{{Name: "a", Expression: "true"}, {Name: "b", Expression: "1"}}
		}, "spec.matchConditions[1].expression", field.ErrorTypeInvalid, "must evaluate to bool but evaluates to int"},
		{"variable syntax error", func(s *appsv1alpha1.ResponseFilterSpec) {
			s.Variables = []appsv1alpha1.Variable{{Name: "a", Expression: "((("}}
		}, "spec.variables[0].expression", field.ErrorTypeInvalid, "compilation failed"},
		{"variable used before it is defined", func(s *appsv1alpha1.ResponseFilterSpec) {
			s.Variables = []appsv1alpha1.Variable{{Name: "a", Expression: "variables.b"}, {Name: "b", Expression: "1"}}
		}, "spec.variables[0].expression", field.ErrorTypeInvalid, "undefined field 'b'"},
		{"variable type is checked where it is used", func(s *appsv1alpha1.ResponseFilterSpec) {
			s.Variables = []appsv1alpha1.Variable{{Name: "n", Expression: "1"}}
			s.Keep = "variables.n.startsWith('x')"
		}, "spec.keep", field.ErrorTypeInvalid, "found no matching overload for 'startsWith'"},
		{"apply configuration must be an Object", func(s *appsv1alpha1.ResponseFilterSpec) {
			s.Mutations = []appsv1alpha1.Mutation{applyConfig("{'a': 1}")}
		}, "spec.mutations[0].applyConfiguration.expression", field.ErrorTypeInvalid, "must evaluate to Object"},
		{"JSON patch must be a list of JSONPatch", func(s *appsv1alpha1.ResponseFilterSpec) {
			s.Mutations = []appsv1alpha1.Mutation{jsonPatch("[]"), jsonPatch("JSONPatch{op: 'remove', path: '/a'}")}
		}, "spec.mutations[1].jsonPatch.expression", field.ErrorTypeInvalid, "must evaluate to list(JSONPatch)"},
		{"JSON patch with an unknown field", func(s *appsv1alpha1.ResponseFilterSpec) {
			s.Mutations = []appsv1alpha1.Mutation{jsonPatch("[JSONPatch{op: 'remove', where: '/a'}]")}
		}, "spec.mutations[0].jsonPatch.expression", field.ErrorTypeInvalid, "where"},
		{"patch type without its expression", func(s *appsv1alpha1.ResponseFilterSpec) {
			s.Mutations = []appsv1alpha1.Mutation{{PatchType: appsv1alpha1.PatchTypeJSONPatch}}
		}, "spec.mutations[0].jsonPatch", field.ErrorTypeRequired, ""},
		{"unknown patch type", func(s *appsv1alpha1.ResponseFilterSpec) {
			s.Mutations = []appsv1alpha1.Mutation{{PatchType: "StrategicMerge"}}
		}, "spec.mutations[0].patchType", field.ErrorTypeNotSupported, ""},
		{"empty expression", func(s *appsv1alpha1.ResponseFilterSpec) {
			s.MatchConditions = []appsv1alpha1.MatchCondition{{Name: "a"}}
		}, "spec.matchConditions[0].expression", field.ErrorTypeRequired, ""},
		{"neither keep nor mutations", func(s *appsv1alpha1.ResponseFilterSpec) { s.Keep = "" },
			"spec.keep", field.ErrorTypeRequired, ""},
		{"bad regex literal", func(s *appsv1alpha1.ResponseFilterSpec) { s.Keep = "object.metadata.name.matches('(')" },
			"spec.keep", field.ErrorTypeInvalid, "invalid matches argument"},
		{"runaway: three nested loops over the object", func(s *appsv1alpha1.ResponseFilterSpec) {
			s.Keep = "object.spec.ports.all(a, object.spec.ports.all(b, object.spec.ports.all(c, a == b || b == c)))"
		}, "spec.keep", field.ErrorTypeInvalid, "estimated cost"},
		{"runaway in a variable", func(s *appsv1alpha1.ResponseFilterSpec) {
			s.Variables = []appsv1alpha1.Variable{{Name: "x", Expression: "object.a.map(a, object.a.map(b, object.a.map(c, [a, b, c])))"}}
		}, "spec.variables[0].expression", field.ErrorTypeInvalid, "exceeds the limit"},
		{"runaway in a mutation", func(s *appsv1alpha1.ResponseFilterSpec) {
			s.Mutations = []appsv1alpha1.Mutation{jsonPatch("object.a.map(a, object.a.map(b, object.a.map(c, JSONPatch{op: 'remove', path: '/a'})))")}
		}, "spec.mutations[0].jsonPatch.expression", field.ErrorTypeInvalid, "must evaluate to list(JSONPatch)"},
		{"bad failure policy", func(s *appsv1alpha1.ResponseFilterSpec) {
			p := appsv1alpha1.FailurePolicyType("Retry")
			s.FailurePolicy = &p
		}, "spec.failurePolicy", field.ErrorTypeNotSupported, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, errs := c.Compile(newFilter("bad", tc.spec))
			if f != nil {
				t.Fatal("a filter with errors compiled")
			}
			for _, e := range errs {
				if e.Field == tc.wantField && e.Type == tc.wantType && strings.Contains(e.Error(), tc.wantMsg) {
					return
				}
			}
			t.Fatalf("errors %v, want a %s error on %s containing %q", errs, tc.wantType, tc.wantField, tc.wantMsg)
		})
	}
}

// TestTwoNestedLoopsFit: the estimate allows looping over an Endpoints object's subsets and
// their addresses, which servicetopology needs.
func TestTwoNestedLoopsFit(t *testing.T) {
	c := newCompiler(t, CompilerOptions{NewExpressions: true})
	_, errs := c.Compile(newFilter("ok", func(s *appsv1alpha1.ResponseFilterSpec) {
		s.Keep = "object.subsets.all(s, s.addresses.all(a, a.nodeName != node.name))"
	}))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
}

func service(name string, labels map[string]any) *unstructured.Unstructured {
	md := map[string]any{"name": name, "namespace": "ns"}
	if labels != nil {
		md["labels"] = labels
	}
	return mustObjectFrom(map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": md,
		"spec": map[string]any{"type": "ClusterIP", "ports": []any{map[string]any{"name": "http", "port": int64(80), "protocol": "TCP"}}}})
}

var svcList = Request{UserAgent: "kube-proxy", Verb: "list", Version: "v1", Resource: "services"}

func TestFailurePolicy(t *testing.T) {
	c := newCompiler(t, CompilerOptions{})
	ignore, fail := appsv1alpha1.Ignore, appsv1alpha1.Fail
	runtimeErrors := map[string]func(*appsv1alpha1.ResponseFilterSpec){
		"missing key in keep": func(s *appsv1alpha1.ResponseFilterSpec) { s.Keep = "object.metadata.labels['x'] == 'y'" },
		"division by zero in a variable": func(s *appsv1alpha1.ResponseFilterSpec) {
			s.Variables = []appsv1alpha1.Variable{{Name: "d", Expression: "1 / (size(object.metadata.name) - 1)"}}
			s.Keep = "variables.d > 0"
		},
		"error in a match condition": func(s *appsv1alpha1.ResponseFilterSpec) {
			s.MatchConditions = []appsv1alpha1.MatchCondition{{Name: "c", Expression: "object.nope.x == 1"}}
		},
		"JSON patch of a missing path": func(s *appsv1alpha1.ResponseFilterSpec) {
			s.Mutations = []appsv1alpha1.Mutation{jsonPatch("[JSONPatch{op: 'replace', path: '/spec/nope/x', value: 1}]")}
		},
		"apply configuration of an atomic list": func(s *appsv1alpha1.ResponseFilterSpec) {
			s.Mutations = []appsv1alpha1.Mutation{applyConfig("Object{spec: Object.spec{externalIPs: ['1.2.3.4']}}")}
		},
		"runtime cost limit": func(s *appsv1alpha1.ResponseFilterSpec) {
			// Fits the estimate (two loops) but not the per-call limit on a large object.
			s.Keep = "object.spec.ports.all(a, object.spec.ports.all(b, a.port != b.port || a.name == b.name))"
		},
	}
	big := service("a", nil)
	var ports []any
	for i := 0; i < 1100; i++ {
		ports = append(ports, map[string]any{"name": fmt.Sprintf("p%d", i), "port": int64(i), "protocol": "TCP"})
	}
	big.Object["spec"].(map[string]any)["ports"] = ports
	for name, spec := range runtimeErrors {
		for _, policy := range []*appsv1alpha1.FailurePolicyType{&ignore, &fail, nil} {
			policyName := "default"
			if policy != nil {
				policyName = string(*policy)
			}
			t.Run(name+"/"+policyName, func(t *testing.T) {
				f, errs := c.Compile(newFilter("flaky", func(s *appsv1alpha1.ResponseFilterSpec) {
					spec(s)
					s.FailurePolicy = policy
				}))
				if len(errs) > 0 {
					t.Fatal(errs)
				}
				obj := service("a", nil)
				if name == "runtime cost limit" {
					obj = big
				}
				// A later filter still runs after an ignored failure.
				after, _ := c.Compile(newFilter("zz-after", func(s *appsv1alpha1.ResponseFilterSpec) {
					s.Priority = 1000
					s.Mutations = []appsv1alpha1.Mutation{applyConfig("Object{metadata: Object.metadata{labels: {'after': 'ran'}}}")}
				}))
				out, err := NewChain(f, after).Apply(context.Background(), obj, svcList, Node{Name: "n1"})
				if policy != nil && *policy == ignore {
					if err != nil {
						t.Fatalf("Ignore: %v", err)
					}
					if !out.Keep || len(out.Ignored) != 1 {
						t.Fatalf("Ignore: keep %v, ignored %v", out.Keep, out.Ignored)
					}
					if out.Object.GetLabels()["after"] != "ran" {
						t.Fatalf("the next filter did not run: %v", out.Object.Object["metadata"])
					}
					var ee *EvaluationError
					if !errors.As(out.Ignored[0], &ee) || ee.Filter != "flaky" || !strings.HasPrefix(ee.Field, "spec.") {
						t.Fatalf("ignored error %v does not name the filter and field", out.Ignored[0])
					}
					if name == "runtime cost limit" && !errors.Is(out.Ignored[0], ErrOutOfBudget) {
						t.Fatalf("cost error %v is not ErrOutOfBudget", out.Ignored[0])
					}
					return
				}
				// Fail, and the default (Fail).
				var ee *EvaluationError
				if err == nil || !errors.As(err, &ee) || ee.Filter != "flaky" {
					t.Fatalf("Fail: err %v, want the filter's evaluation error", err)
				}
				t.Logf("error: %v", err)
			})
		}
	}
}

func TestRuntimeBudgetAcrossExpressions(t *testing.T) {
	// Each expression fits the per-call limit; together they exceed the filter's budget.
	c := newCompiler(t, CompilerOptions{RuntimeCostBudget: 5000})
	f, errs := c.Compile(newFilter("budget", func(s *appsv1alpha1.ResponseFilterSpec) {
		s.Variables = []appsv1alpha1.Variable{{Name: "n", Expression: "object.spec.ports.filter(p, p.port > 10).size()"}}
		s.MatchConditions = []appsv1alpha1.MatchCondition{{Name: "a", Expression: "variables.n >= 0"}}
		s.Keep = "object.spec.ports.all(p, p.port >= 0)"
	}))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	obj := serviceWithPorts(500)
	_, err := f.Evaluate(context.Background(), obj, svcList, Node{})
	if !errors.Is(err, ErrOutOfBudget) {
		t.Fatalf("err = %v, want ErrOutOfBudget", err)
	}
}

func TestMatchingNothingPassesThrough(t *testing.T) {
	c := newCompiler(t, CompilerOptions{})
	drop, _ := c.Compile(newFilter("drop-all", func(s *appsv1alpha1.ResponseFilterSpec) {
		s.Match.UserAgents = []string{"nobody"}
		s.Keep = "false"
	}))
	skip, _ := c.Compile(newFilter("condition-false", func(s *appsv1alpha1.ResponseFilterSpec) {
		s.MatchConditions = []appsv1alpha1.MatchCondition{{Name: "never", Expression: "object.metadata.name == 'nothing'"}}
		s.Keep = "false"
	}))
	chain := NewChain(drop, skip)
	if got := chain.For(svcList).Filters(); len(got) != 1 || got[0].Name != "condition-false" {
		t.Fatalf("For(kube-proxy) = %v", got)
	}
	if !chain.For(Request{UserAgent: "kubelet", Verb: "list", Resource: "services"}).Empty() {
		t.Fatal("filters match kubelet")
	}
	obj := service("a", nil)
	out, err := chain.Apply(context.Background(), obj, svcList, Node{})
	if err != nil || !out.Keep || out.Object != obj {
		t.Fatalf("out %+v, err %v: the object must pass unchanged", out, err)
	}
	res, err := skip.Evaluate(context.Background(), obj, svcList, Node{})
	if err != nil || !res.Skipped || !res.Keep {
		t.Fatalf("res %+v, err %v", res, err)
	}
}

func TestChainOrder(t *testing.T) {
	c := newCompiler(t, CompilerOptions{})
	// Each filter appends its name to an annotation; the result shows the order.
	mk := func(name string, priority int32) *Filter {
		f, errs := c.Compile(newFilter(name, func(s *appsv1alpha1.ResponseFilterSpec) {
			s.Priority = priority
			s.Mutations = []appsv1alpha1.Mutation{applyConfig(fmt.Sprintf(
				"Object{metadata: Object.metadata{annotations: {'order': object.metadata.?annotations[?'order'].orValue('') + '%s,'}}}", name))}
		}))
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return f
	}
	chain := NewChain(mk("c", 10), mk("b", 10), mk("a", 20), mk("d", -5), nil)
	out, err := chain.Apply(context.Background(), service("x", nil), svcList, Node{})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Object.GetAnnotations()["order"]; got != "d,b,c,a," {
		t.Fatalf("order %q, want d,b,c,a,", got)
	}
	// A drop stops the chain.
	dropper, _ := c.Compile(newFilter("b0", func(s *appsv1alpha1.ResponseFilterSpec) { s.Priority = 10; s.Keep = "false" }))
	out, err = NewChain(mk("c", 10), dropper, mk("a", 20)).Apply(context.Background(), service("x", nil), svcList, Node{})
	if err != nil || out.Keep || out.DroppedBy != "b0" || out.Object != nil {
		t.Fatalf("out %+v, err %v", out, err)
	}
}

func TestCache(t *testing.T) {
	c := newCompiler(t, CompilerOptions{})
	rf := newFilter("cached", nil)
	rf.UID, rf.Generation = "u1", 1
	f1, _ := c.Compile(rf)
	f2, _ := c.Compile(rf.DeepCopy())
	if f1 != f2 {
		t.Fatal("same name, UID and generation compiled twice")
	}
	rf.Generation = 2
	rf.Spec.Keep = "false"
	f3, _ := c.Compile(rf)
	if f3 == f1 || f3.Generation != 2 {
		t.Fatal("a new generation was not recompiled")
	}
	// Deleted and recreated: generation 1 again, another UID.
	rf2 := newFilter("cached", func(s *appsv1alpha1.ResponseFilterSpec) { s.Keep = "1 == 1" })
	rf2.UID, rf2.Generation = "u2", 1
	if f4, _ := c.Compile(rf2); f4 == f1 || f4 == f3 {
		t.Fatal("a recreated filter reused the old program")
	}
	// Errors are cached too.
	bad := newFilter("bad", func(s *appsv1alpha1.ResponseFilterSpec) { s.Keep = "(" })
	bad.UID, bad.Generation = "u3", 1
	if _, errs := c.Compile(bad); len(errs) == 0 {
		t.Fatal("no error")
	}
	if _, errs := c.Compile(bad); len(errs) == 0 {
		t.Fatal("cached errors lost")
	}
	c.Forget("cached")
	if f5, _ := c.Compile(rf2); f5 == nil {
		t.Fatal("recompile after Forget failed")
	}
}

func TestVariablesAreLazyAndShared(t *testing.T) {
	lookups := 0
	lk := countingLookup{fakeLookup: fakeLookup{pools: map[string]string{"n1": "a"}}, calls: &lookups}
	c := newCompiler(t, CompilerOptions{Lookup: lk})
	f, errs := c.Compile(newFilter("lazy", func(s *appsv1alpha1.ResponseFilterSpec) {
		s.Variables = []appsv1alpha1.Variable{
			{Name: "pool", Expression: "nodePool(node.name)"},
			{Name: "unused", Expression: "nodePool('other')"},
			{Name: "twice", Expression: "variables.pool + variables.pool"},
		}
		s.MatchConditions = []appsv1alpha1.MatchCondition{{Name: "p", Expression: "variables.pool == 'a'"}}
		s.Keep = "variables.twice == 'aa' && request.userAgent == 'kube-proxy' && node.labels['zone'] == 'z'"
	}))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	res, err := f.Evaluate(context.Background(), service("x", nil), svcList, Node{Name: "n1", Labels: map[string]string{"zone": "z"}})
	if err != nil || !res.Keep || res.Skipped {
		t.Fatalf("res %+v, err %v", res, err)
	}
	if lookups != 1 {
		t.Fatalf("nodePool called %d times, want once (lazy, evaluated once per object)", lookups)
	}
}

type countingLookup struct {
	fakeLookup
	calls *int
}

func (l countingLookup) NodePool(n string) string {
	*l.calls++
	return l.fakeLookup.NodePool(n)
}

func TestApplyConfigurationOfOtherKinds(t *testing.T) {
	c := newCompiler(t, CompilerOptions{})
	f, errs := c.Compile(newFilter("label", func(s *appsv1alpha1.ResponseFilterSpec) {
		s.Mutations = []appsv1alpha1.Mutation{applyConfig("Object{metadata: Object.metadata{labels: {'seen': 'yes'}}, spec: Object.spec{extra: [1, 2]}}")}
	}))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	// A kind unknown to Yurt (a custom resource) is typed with a deduced schema.
	obj := mustObjectFrom(map[string]any{"apiVersion": "example.com/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w", "labels": map[string]any{"a": "b"}}, "spec": map[string]any{"extra": []any{int64(0)}, "keep": "me"}})
	res, err := f.Evaluate(context.Background(), obj, svcList, Node{})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Object.GetLabels(); got["seen"] != "yes" || got["a"] != "b" {
		t.Fatalf("labels %v", got)
	}
	spec := res.Object.Object["spec"].(map[string]any)
	if spec["keep"] != "me" || len(spec["extra"].([]any)) != 2 {
		t.Fatalf("spec %v", spec)
	}
	// Without apiVersion and kind there is no schema: a clear error.
	noKind := mustObjectFrom(map[string]any{"metadata": map[string]any{"name": "x"}})
	if _, err := f.Evaluate(context.Background(), noKind, svcList, Node{}); err == nil || !strings.Contains(err.Error(), "apiVersion and kind") {
		t.Fatalf("err = %v", err)
	}
}

func TestJSONPatchTestOpFailureLeavesObject(t *testing.T) {
	c := newCompiler(t, CompilerOptions{})
	f, errs := c.Compile(newFilter("guarded", func(s *appsv1alpha1.ResponseFilterSpec) {
		s.Mutations = []appsv1alpha1.Mutation{jsonPatch(
			"[JSONPatch{op: 'test', path: '/spec/type', value: 'NodePort'}, JSONPatch{op: 'add', path: '/spec/x', value: 1}]")}
	}))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	obj := service("a", nil)
	res, err := f.Evaluate(context.Background(), obj, svcList, Node{})
	if err != nil || res.Object != obj {
		t.Fatalf("res %+v, err %v", res, err)
	}
}

func TestServiceFunction(t *testing.T) {
	lk := fakeLookup{services: map[string]map[string]any{"ns/web": {"metadata": map[string]any{"name": "web", "labels": map[string]any{"tier": "edge"}}}}}
	c := newCompiler(t, CompilerOptions{Lookup: lk})
	f, errs := c.Compile(newFilter("svc", func(s *appsv1alpha1.ResponseFilterSpec) {
		s.Keep = "service('ns', object.metadata.name).?metadata.?labels[?'tier'].orValue('') == 'edge' && !service('ns', 'missing').hasValue()"
	}))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for name, want := range map[string]bool{"web": true, "other": false} {
		res, err := f.Evaluate(context.Background(), service(name, nil), svcList, Node{})
		if err != nil || res.Keep != want {
			t.Errorf("%s: keep %v, err %v; want %v", name, res.Keep, err, want)
		}
	}
}

func TestNilObjectAndCancelledContext(t *testing.T) {
	c := newCompiler(t, CompilerOptions{})
	f, _ := c.Compile(newFilter("f", func(s *appsv1alpha1.ResponseFilterSpec) {
		s.Keep = "object.spec.ports.all(a, object.spec.ports.all(b, a.port >= 0))"
	}))
	if _, err := f.Evaluate(context.Background(), nil, svcList, Node{}); err == nil {
		t.Fatal("nil object accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	obj := serviceWithPorts(500)
	if _, err := f.Evaluate(ctx, obj, svcList, Node{}); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("err = %v, want the evaluation interrupted", err)
	}
}

func TestRuntimeCostLimitInterruptsRunaway(t *testing.T) {
	// A nested loop over 500 ports costs far more than the budget: the evaluation must be
	// cut off by the cost limit while running, not charged after running to completion.
	c := newCompiler(t, CompilerOptions{RuntimeCostBudget: 5000})
	f, errs := c.Compile(newFilter("runaway", func(s *appsv1alpha1.ResponseFilterSpec) {
		s.Keep = "object.spec.ports.all(p, object.spec.ports.all(q, p.port >= 0 || q.port >= 0))"
	}))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	obj := serviceWithPorts(500)
	_, err := f.Evaluate(context.Background(), obj, svcList, Node{})
	if !errors.Is(err, ErrOutOfBudget) {
		t.Fatalf("err = %v, want ErrOutOfBudget", err)
	}
	if !strings.Contains(err.Error(), "cost limit exceeded") {
		t.Fatalf("err = %v: not interrupted by the runtime cost limit", err)
	}
}

// serviceWithPorts is a Service with n ports numbered 0 to n-1: a list large enough to run
// expressions over it into their cost limits.
func serviceWithPorts(n int) *unstructured.Unstructured {
	obj := service("a", nil)
	ports := make([]any, 0, n)
	for i := 0; i < n; i++ {
		ports = append(ports, map[string]any{"port": int64(i)})
	}
	obj.Object["spec"].(map[string]any)["ports"] = ports
	return obj
}
