package filter

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
)

// compilePair compiles a filter twice: with fast plans and with cel-go's programs only.
func compilePair(t testing.TB, rf *appsv1alpha1.ResponseFilter, opts CompilerOptions) (fast, slow *Filter) {
	t.Helper()
	cf := newCompiler(t, opts)
	cs := newCompiler(t, opts)
	cs.noFastPlans = true
	fast, errs := cf.Compile(rf)
	if len(errs) > 0 {
		t.Fatalf("compiling %s: %v", rf.Name, errs.ToAggregate())
	}
	slow, errs = cs.Compile(rf)
	if len(errs) > 0 {
		t.Fatalf("compiling %s without plans: %v", rf.Name, errs.ToAggregate())
	}
	return fast, slow
}

// planned lists the fields of a filter that have fast plans.
func planned(f *Filter) []string {
	var out []string
	for i, p := range f.variableSet.fast {
		if p != nil {
			out = append(out, fmt.Sprintf("variables[%d]", i))
		}
	}
	for _, c := range f.conditions {
		if c.fast != nil {
			out = append(out, c.path)
		}
	}
	if f.keep != nil && f.keep.fast != nil {
		out = append(out, f.keep.path)
	}
	for _, m := range f.mutations {
		if m.fast != nil {
			out = append(out, m.path)
		}
	}
	return out
}

// sameEvaluation evaluates an object with both filters and says how they differ ("" if they
// do not): the same result (or error message), and a cost at least cel-go's.
func sameEvaluation(fast, slow *Filter, obj *unstructured.Unstructured, req Request, node Node) (string, Result, Result) {
	ctx := context.Background()
	in := obj.DeepCopy()
	rf, errf := fast.Evaluate(ctx, obj, req, node)
	rs, errs := slow.Evaluate(ctx, obj, req, node)
	if !reflect.DeepEqual(in.Object, obj.Object) {
		return "the object was modified", rf, rs
	}
	if (errf == nil) != (errs == nil) || (errf != nil && errf.Error() != errs.Error()) {
		return fmt.Sprintf("error %v, cel-go %v", errf, errs), rf, rs
	}
	if errf != nil {
		return "", rf, rs
	}
	if rf.Keep != rs.Keep || rf.Skipped != rs.Skipped {
		return fmt.Sprintf("keep %v skipped %v, cel-go keep %v skipped %v", rf.Keep, rf.Skipped, rs.Keep, rs.Skipped), rf, rs
	}
	if (rf.Object == nil) != (rs.Object == nil) || (rf.Object != nil && !reflect.DeepEqual(rf.Object.Object, rs.Object.Object)) {
		return fmt.Sprintf("object\n%#v\ncel-go\n%#v", objectOf(rf), objectOf(rs)), rf, rs
	}
	if rf.Cost < rs.Cost {
		return fmt.Sprintf("cost %d below cel-go's %d", rf.Cost, rs.Cost), rf, rs
	}
	return "", rf, rs
}

func objectOf(r Result) any {
	if r.Object == nil {
		return nil
	}
	return r.Object.Object
}

func TestPlanBuiltinFilters(t *testing.T) {
	lookup := topologyLookup()
	nodes := []Node{{Name: "n1", Pool: "pool-a"}, {Name: "n3", Pool: "pool-b"}, {Name: "n9"}}
	epsReq := Request{UserAgent: "kube-proxy", Verb: "list", Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
	epReq := Request{UserAgent: "kube-proxy", Verb: "list", Version: "v1", Resource: "endpoints"}
	svcReq := svcList
	cmReq := Request{UserAgent: "kubelet", Verb: "list", Version: "v1", Resource: "configmaps"}
	services := []string{"svc-hostname", "svc-nodepool", "svc-zone", "svc-unknown", "svc-spaced", "svc-other", "svc-none", "missing", ""}

	var sliceObjs, endpointObjs []*unstructured.Unstructured
	for _, s := range services {
		sliceObjs = append(sliceObjs, mustObjectFrom(slice(s, "n1", "n2", "n3", "", "n9")), mustObjectFrom(slice(s)))
		endpointObjs = append(endpointObjs, mustObjectFrom(endpoints(s, []string{"n1", "", "n3"}, []string{"n2", "n9"})),
			mustObjectFrom(endpoints(s, nil, []string{"n3"})))
	}
	kubeSlice := mustObjectFrom(slice("kubernetes", "n1"))
	kubeSlice.Object["metadata"].(map[string]any)["namespace"] = "default"
	kubeSlice.Object["metadata"].(map[string]any)["name"] = "kubernetes"
	kubeSlice.Object["ports"] = []any{map[string]any{"name": "https", "port": int64(6443)}}
	sliceObjs = append(sliceObjs, kubeSlice)

	svc := func(mut func(m map[string]any)) *unstructured.Unstructured {
		o := service("web", nil)
		mut(o.Object)
		return o
	}
	md := func(m map[string]any) map[string]any { return m["metadata"].(map[string]any) }
	spec := func(m map[string]any) map[string]any { return m["spec"].(map[string]any) }
	serviceObjs := []*unstructured.Unstructured{
		service("web", nil),
		svc(func(m map[string]any) { spec(m)["type"] = "LoadBalancer" }),
		svc(func(m map[string]any) {
			spec(m)["type"] = "LoadBalancer"
			md(m)["annotations"] = map[string]any{"svc.openyurt.io/discard": "true"}
		}),
		svc(func(m map[string]any) {
			md(m)["namespace"], md(m)["name"] = "kube-system", "x-tunnel-server-internal-svc"
		}),
		svc(func(m map[string]any) {
			md(m)["namespace"], md(m)["name"] = "default", "kubernetes"
			spec(m)["clusterIPs"] = []any{"10.0.0.1"}
			spec(m)["ports"] = []any{map[string]any{"name": "https", "port": int64(443)}}
		}),
		svc(func(m map[string]any) {
			spec(m)["type"] = "NodePort"
			md(m)["annotations"] = map[string]any{"nodeport.openyurt.io/listen": "pool-a, -pool-b,*"}
		}),
		svc(func(m map[string]any) {
			spec(m)["type"] = "NodePort"
			md(m)["annotations"] = map[string]any{"nodeport.openyurt.io/listen": "-pool-a"}
		}),
		svc(func(m map[string]any) { delete(m, "spec") }),
	}
	cm := mustObjectFrom(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "kube-proxy", "namespace": "kube-system"},
		"data":     map[string]any{"config.conf": "a: b\n  kubeconfig: /x\n"}})

	cases := []struct {
		filter string
		req    []Request
		objs   []*unstructured.Unstructured
		// all says every expression of the filter must have a plan.
		all bool
		// inexactCost: an expression evaluated by cel-go reads a variable a plan evaluated
		// before, and cel-go evaluates (and charges) it again.
		inexactCost bool
	}{
		{"servicetopology", []Request{epsReq, epReq}, append(sliceObjs, endpointObjs...), true, false},
		{"discardcloudservice", []Request{svcReq}, serviceObjs, true, false},
		{"masterservice", []Request{svcReq}, serviceObjs, false, false},
		{"nodeportisolation", []Request{svcReq}, serviceObjs, true, false},
		{"forwardkubesvctraffic", []Request{epsReq}, sliceObjs, false, false},
		// The mutation is an ApplyConfiguration (never planned): cel-go reads the value of
		// variables.lines a plan computed.
		{"inclusterconfig", []Request{cmReq}, []*unstructured.Unstructured{cm}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.filter, func(t *testing.T) {
			fast, slow := compilePair(t, loadArtifact(t, tc.filter), CompilerOptions{Lookup: lookup})
			t.Logf("planned: %v", planned(fast))
			if tc.all {
				n := len(fast.variableSet.names) + len(fast.conditions) + len(fast.mutations)
				if fast.keep != nil {
					n++
				}
				if len(planned(fast)) != n {
					t.Errorf("planned %v, want all %d expressions", planned(fast), n)
				}
			}
			equalCost, total := 0, 0
			for _, req := range tc.req {
				for _, node := range nodes {
					for i, obj := range tc.objs {
						diff, rf, rs := sameEvaluation(fast, slow, obj, req, node)
						if diff != "" {
							t.Errorf("%s object %d node %s: %s", req.Resource, i, node.Name, diff)
						}
						total++
						if rf.Cost == rs.Cost {
							equalCost++
						} else if !tc.inexactCost {
							// The fast plans charge the built-in filters exactly what cel-go
							// does (more would still be correct, but would show in Result.Cost).
							t.Errorf("%s object %d node %s: cost %d, cel-go %d", req.Resource, i, node.Name, rf.Cost, rs.Cost)
						}
					}
				}
			}
			t.Logf("cost equal to cel-go's in %d of %d evaluations", equalCost, total)
		})
	}
}

// TestPlanExpressions evaluates expressions of the subset (and some outside it) as the keep of a
// filter and as the value of a JSON patch, with and without plans: same results, same errors,
// costs at least cel-go's.
func TestPlanExpressions(t *testing.T) {
	cases := []struct {
		expr    string
		planned bool
	}{
		{"object.metadata.name", true},
		{"object.metadata.name == 'web'", true},
		{"has(object.metadata.name) && !has(object.metadata.uid)", true},
		{"object.?metadata.?name.orValue('')", true},
		{"object.metadata.?labels[?'a'].orValue('none')", true},
		{"object.metadata[?'name'].orValue('')", true},
		// x[?k] on a dyn x is typed dyn: an optional where a bool is expected (found by
		// TestPlanDifferentialSample: the plan had no bool form for it).
		{"!object.metadata[?'name']", true},
		{"object.metadata[?'name'] == 'web'", true},
		{"object.?spec.?ports.orValue([]).filter(p, has(p.name) && p.name == 'http')", true},
		{"object.spec.ports.map(p, p.port)", true},
		{"object.spec.ports.map(p, p.port > 10, {'n': p.name, 'p': p.port + 1})", true},
		{"object.spec.ports.exists(p, p.port > 0)", true},
		{"object.spec.ports.all(p, p.port < 80)", true},
		{"object.spec.ports.exists(p, p.missing == 1)", true},
		{"object.spec.ports.all(p, p.missing == 1)", true},
		{"object.spec.ports.all(p, p.port > 'a')", true},
		{"object.metadata.missing", true},
		{"object.metadata.name.missing", true},
		{"size(object.spec.ports) + size(object.metadata.name) > 3", true},
		{"object.spec.ports[0].port * 1000000000000 * 1000000000", true},
		{"object.spec.ports[0].port / 0", true},
		{"object.spec.ports[1]", true},
		{"object.spec.ports[?1].orValue('none')", true},
		{"{'a': 'b', 'c': object.metadata.name}", true},
		{"{'a': 'b'}[?object.metadata.name].orValue('x')", true},
		{"{'a': 'b'}[object.metadata.name]", true},
		{"['x', 'y'] + [object.metadata.name]", true},
		{"'web' in [object.metadata.name, 'b']", true},
		{"object.metadata.name in {'web': 1}", true},
		{"object.metadata.name + '-' + string(object.spec.ports[0].port)", true},
		{"object.metadata.name.startsWith('w') && object.metadata.name.endsWith('b') && object.metadata.name.contains('e')", true},
		{"nodePool(node.name) == node.pool", true},
		{"service(object.metadata.namespace, 'svc-nodepool').?metadata.?annotations[?'openyurt.io/topologyKeys'].orValue('')", true},
		{"service('ns', 'missing').hasValue()", true},
		{"request.resource == 'services' ? dyn(1) : dyn('a')", true},
		{"node.labels[?'zone'].orValue('none')", true},
		{"dyn(object.spec.ports[0].port) == 80.0", true},
		{"object.spec.ports[0].port == 80", true},
		{"object.spec.ports == object.spec.ports", true},
		{"[1, 2, 3].filter(x, x > 1).map(x, x * 2)", true},
		{"object.metadata.name.matches('w.*')", true},
		{"object.metadata.name.matches(object.metadata.name + '[')", true},
		{"'a, b ,,c'.split(',').map(e, e.trim()).filter(e, e != '')", true},
		{"object.metadata.name.split('')", true},
		{"object.metadata.name.substring(1) + object.metadata.name.substring(0, 2)", true},
		{"object.metadata.name.substring(4)", true},
		{"object.metadata.name.substring(2, 1)", true},
		{"'é-ü'.substring(1, 2)", true},
		{"object.metadata.name.upperAscii() + 'ÄbC'.lowerAscii()", true},
		{"object.metadata.name.replace('e', 'E') + object.metadata.name.replace('w', '', 1)", true},
		{"['a', object.metadata.name].join('/') + ['x'].join()", true},
		{"dyn([1, 'a']).join(',')", true},
		{"object.spec.ports.transformList(i, p, p.port)", true},
		{"object.spec.ports.transformList(i, p, p.name == 'http', i)", true},
		{"{'a': dyn({'ready': true}), 'b': string(1)}", true},
		{"object.spec.ports.transformMap(i, p, p.port)", false},
		{"object.metadata.name.indexOf('e')", false},
		{"object.metadata.name.size() > 2u", false},
	}
	obj := service("web", map[string]any{"a": "b"})
	node := Node{Name: "n1", Pool: "pool-a", Labels: map[string]string{"zone": "z1"}}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			forms := []func(s *appsv1alpha1.ResponseFilterSpec){
				func(s *appsv1alpha1.ResponseFilterSpec) {
					s.Mutations = []appsv1alpha1.Mutation{jsonPatch("[JSONPatch{op: 'add', path: '/result', value: " + tc.expr + "}]")}
				},
				func(s *appsv1alpha1.ResponseFilterSpec) {
					s.Variables = []appsv1alpha1.Variable{{Name: "v", Expression: tc.expr}}
					s.Keep = "dyn(variables.v) == dyn(variables.v) || true"
				},
			}
			for i, form := range forms {
				rf := newFilter("expr", form)
				cf, cs := newCompiler(t, CompilerOptions{Lookup: topologyLookup()}), newCompiler(t, CompilerOptions{Lookup: topologyLookup()})
				cs.noFastPlans = true
				fast, errs := cf.Compile(rf)
				if len(errs) > 0 {
					if i == 0 {
						t.Logf("form %d does not compile: %v", i, errs.ToAggregate())
					}
					continue
				}
				slow, _ := cs.Compile(rf)
				if i == 0 && (fast.mutations[0].fast != nil) != tc.planned {
					t.Errorf("planned %v, want planned %v", planned(fast), tc.planned)
				}
				if diff, rf, rs := sameEvaluation(fast, slow, obj, svcList, node); diff != "" {
					t.Errorf("form %d: %s", i, diff)
				} else {
					t.Logf("form %d: cost %d, cel-go %d", i, rf.Cost, rs.Cost)
				}
			}
		})
	}
}

// TestPlanBudget runs planned filters near and over their budget: the same results and errors as
// cel-go's (a budget error is cel-go's own: the evaluation is redone by cel-go alone).
func TestPlanBudget(t *testing.T) {
	obj := service("a", nil)
	var ports []any
	for i := 0; i < 300; i++ {
		ports = append(ports, map[string]any{"port": int64(i), "name": fmt.Sprintf("p%d", i)})
	}
	obj.Object["spec"].(map[string]any)["ports"] = ports
	specs := []func(s *appsv1alpha1.ResponseFilterSpec){
		func(s *appsv1alpha1.ResponseFilterSpec) {
			s.Variables = []appsv1alpha1.Variable{{Name: "n", Expression: "object.spec.ports.filter(p, p.port > 10).size()"}}
			s.MatchConditions = []appsv1alpha1.MatchCondition{{Name: "a", Expression: "variables.n >= 0"}}
			s.Keep = "object.spec.ports.all(p, p.port >= 0)"
		},
		func(s *appsv1alpha1.ResponseFilterSpec) {
			s.Keep = "object.spec.ports.all(p, object.spec.ports.exists(q, q.port == p.port))"
		},
		func(s *appsv1alpha1.ResponseFilterSpec) {
			s.Mutations = []appsv1alpha1.Mutation{jsonPatch("[JSONPatch{op: 'add', path: '/spec/ports', value: object.spec.ports.map(p, {'name': dyn(p.name + '-x'), 'port': dyn(p.port + 1)})}]")}
		},
		func(s *appsv1alpha1.ResponseFilterSpec) {
			// A variable read by a planned and an unplanned expression.
			s.Variables = []appsv1alpha1.Variable{{Name: "names", Expression: "object.spec.ports.map(p, p.name)"}}
			s.MatchConditions = []appsv1alpha1.MatchCondition{{Name: "a", Expression: "size(variables.names) > 0"}}
			s.Keep = "variables.names.exists(n, n.indexOf('9') >= 0)"
		},
	}
	for i, spec := range specs {
		for _, budget := range []int64{50, 500, 2000, 5000, 20000, 100000} {
			fast, slow := compilePair(t, newFilter("budget", spec), CompilerOptions{RuntimeCostBudget: budget})
			if len(planned(fast)) == 0 {
				t.Fatalf("filter %d: nothing planned", i)
			}
			diff, rf, rs := sameEvaluation(fast, slow, obj, svcList, Node{Name: "n1"})
			if diff != "" {
				t.Errorf("filter %d, budget %d: %s", i, budget, diff)
			}
			if rf.Cost != rs.Cost {
				t.Errorf("filter %d, budget %d: cost %d, cel-go %d", i, budget, rf.Cost, rs.Cost)
			}
		}
	}
}

// TestPlanConcurrent evaluates one planned filter from several goroutines (a Filter is safe for
// concurrent use: plans share only read-only state; run with -race).
func TestPlanConcurrent(t *testing.T) {
	fast, slow := compilePair(t, loadArtifact(t, "servicetopology"), CompilerOptions{Lookup: topologyLookup()})
	req := Request{UserAgent: "kube-proxy", Verb: "list", Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
	var objs []*unstructured.Unstructured
	for _, s := range []string{"svc-hostname", "svc-nodepool", "svc-zone", "svc-none"} {
		objs = append(objs, mustObjectFrom(slice(s, "n1", "n2", "n3", "")))
	}
	errs := make(chan string, 8)
	for g := 0; g < 4; g++ {
		go func(g int) {
			for i := 0; i < 200; i++ {
				obj := objs[(g+i)%len(objs)]
				node := Node{Name: fmt.Sprintf("n%d", 1+i%3), Pool: "pool-a"}
				if diff, _, _ := sameEvaluation(fast, slow, obj, req, node); diff != "" {
					errs <- diff
					return
				}
			}
			errs <- ""
		}(g)
	}
	for g := 0; g < 4; g++ {
		if d := <-errs; d != "" {
			t.Error(d)
		}
	}
}
