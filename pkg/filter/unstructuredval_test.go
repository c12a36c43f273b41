package filter

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/google/cel-go/cel"
	celtypes "github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"

	"k8s.io/apiserver/pkg/cel/environment"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
)

// unstructuredTestObject has maps, lists of maps and scalars, nulls, ints and floats, as JSON
// decodes them.
func unstructuredTestObject() map[string]any {
	return map[string]any{
		"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
		"metadata": map[string]any{"name": "web-abc", "namespace": "ns", "labels": map[string]any{"a": "b", "c": "d"}},
		"endpoints": []any{
			map[string]any{"addresses": []any{"10.0.0.1"}, "nodeName": "n1", "conditions": map[string]any{"ready": true}},
			map[string]any{"addresses": []any{"10.0.0.2", "10.0.0.3"}, "conditions": map[string]any{"ready": false}},
			map[string]any{"addresses": []any{}, "nodeName": "n2", "zone": nil},
		},
		"ports":  []any{map[string]any{"port": int64(80), "name": "http"}, map[string]any{"port": int64(443)}},
		"weight": 1.5,
		"tags":   []any{"x", int64(1), true, nil, 2.5},
		"empty":  map[string]any{},
	}
}

// TestUnstructuredValuesBehaveAsCELs evaluates expressions on the object wrapped by cel-go's
// default type adapter and by unstructuredValue: same value, same error, same cost.
func TestUnstructuredValuesBehaveAsCELs(t *testing.T) {
	envSet, _, err := newFilterEnvSet(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()), noLookup{})
	if err != nil {
		t.Fatal(err)
	}
	env, err := envSet.Env(environment.StoredExpressions)
	if err != nil {
		t.Fatal(err)
	}
	exprs := []string{
		// Reads, presence, optionals.
		"object.metadata.name", "object.metadata.labels", "object.metadata.labels['a']",
		"has(object.metadata.labels)", "has(object.metadata.missing)", "has(object.endpoints[1].nodeName)",
		"object.missing", "object.metadata.labels['zz']", "object.?metadata.?labels[?'a'].orValue('')",
		"object.?nothing.orValue(1)", "object.endpoints[0].nodeName", "object.endpoints[5]", "object.endpoints[-1]",
		"object.endpoints['x']", "object.metadata[1]", "object.endpoints[1u]", "object.endpoints[0.0]",
		"object.endpoints[2].zone", "object.endpoints[2].zone == null", "object.weight", "object.ports[0].port + 1",
		"object.tags", "object.tags[3]", "object.empty", "has(object.empty.x)",
		// Loops, sizes, membership.
		"object.endpoints.filter(e, has(e.nodeName)).map(e, e.nodeName)",
		"object.endpoints.filter(e, has(e.nodeName) && e.nodeName == 'n1')",
		"object.endpoints.map(e, e.addresses.size())", "object.endpoints.all(e, has(e.addresses))",
		"object.endpoints.exists(e, e.conditions.ready)", "object.endpoints.exists_one(e, has(e.zone))",
		// (No short-circuiting loops over maps: their order, and so their cost, is random.)
		"object.metadata.labels.all(k, k in ['a', 'c'])", "object.metadata.labels.filter(k, object.metadata.labels[k] == 'b')",
		"object.endpoints.all(i, e, i < 3 && has(e.addresses))", "object.metadata.labels.all(k, v, k != v)",
		"size(object.endpoints)", "object.endpoints.size()", "size(object.metadata)", "size(object.metadata.name)",
		"'a' in object.metadata.labels", "'z' in object.metadata.labels", "'x' in object.tags", "1 in object.tags",
		"object.ports[0] in object.ports", "{'port': 443} in object.ports",
		// Equality, concatenation, conversion.
		"object.metadata == object.metadata", "object.metadata.labels == {'a': 'b', 'c': 'd'}",
		"object.metadata.labels == {'a': 'b'}", "object.endpoints == object.endpoints", "object.tags == [dyn('x'), dyn(1), dyn(true), dyn(null), dyn(2.5)]", "object.tags == [dyn('x'), dyn(1), dyn(true), dyn(null), dyn(2.0)]",
		"object.endpoints[0] == object.endpoints[1]", "object.tags + ['y']", "['y'] + object.tags", "object.tags + object.tags",
		"type(object.metadata) == map", "type(object.tags) == list", "dyn(object.metadata).name",
		"string(object.metadata.name)", "object.endpoints.map(e, e.addresses).flatten()", "object.tags.slice(1, 3)",
		"object.metadata.labels.exists(k, k == 'zz')", "object.tags.reverse()", "object.ports.map(p, p.port).sum()",
		"object.ports.sortBy(p, p.port)", "object.endpoints[0].addresses.isSorted()", "object.tags.distinct()",
		"sets.contains(object.tags, ['x'])", "object.metadata.name.startsWith('web')", "object.endpoints.transformList(i, e, i > 0, e)",
	}
	for _, expr := range exprs {
		t.Run(expr, func(t *testing.T) {
			ast, issues := env.Compile(expr)
			if issues != nil && issues.Err() != nil {
				t.Fatalf("compile: %v", issues.Err())
			}
			prog, err := env.Program(ast)
			if err != nil {
				t.Fatal(err)
			}
			if diff := compareWithCELWrappers(prog, unstructuredTestObject); diff != "" {
				t.Error(diff)
			}
		})
	}
}

// compareWithCELWrappers evaluates prog on the object wrapped by cel-go's default type adapter
// and by unstructuredValue and describes any difference in value, error or cost.
func compareWithCELWrappers(prog cel.Program, object func() map[string]any) string {
	eval := func(object ref.Val) (ref.Val, error, uint64) {
		val, details, err := prog.ContextEval(context.Background(), map[string]any{ObjectVarName: object})
		var cost uint64
		if details != nil && details.ActualCost() != nil {
			cost = *details.ActualCost()
		}
		return val, err, cost
	}
	wantVal, wantErr, wantCost := eval(celtypes.DefaultTypeAdapter.NativeToValue(object()))
	gotVal, gotErr, gotCost := eval(unstructuredValue(object()))
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		return fmt.Sprintf("error %v, cel-go's wrapper: %v", gotErr, wantErr)
	}
	if gotCost != wantCost {
		return fmt.Sprintf("cost %d, cel-go's wrapper: %d", gotCost, wantCost)
	}
	if wantErr != nil {
		return ""
	}
	if eq := gotVal.Equal(wantVal); eq != celtypes.True {
		return fmt.Sprintf("value %v, cel-go's wrapper %v (equal: %v)", gotVal, wantVal, eq)
	}
	if eq := wantVal.Equal(gotVal); eq != celtypes.True {
		return fmt.Sprintf("cel-go's wrapper %v does not equal %v (%v)", wantVal, gotVal, eq)
	}
	if gotVal.Type() != wantVal.Type() {
		return fmt.Sprintf("type %v, cel-go's wrapper %v", gotVal.Type(), wantVal.Type())
	}
	gotJSON, gerr := toJSONValue(gotVal)
	wantJSON, werr := toJSONValue(wantVal)
	if fmt.Sprint(gerr) != fmt.Sprint(werr) || !reflect.DeepEqual(gotJSON, wantJSON) {
		return fmt.Sprintf("as JSON %v (%v), cel-go's wrapper %v (%v)", gotJSON, gerr, wantJSON, werr)
	}
	return ""
}

// fuzzObject has no map of more than one key but the object itself, so that most loops over
// maps have one order (Go's map order is random, and a loop that stops early costs what the
// order makes it cost).
func fuzzObject() map[string]any {
	return map[string]any{
		"metadata": map[string]any{"name": "web"},
		"items": []any{
			map[string]any{"a": int64(1)}, map[string]any{"b": "s"}, map[string]any{}, "str", int64(2), nil, 1.5, true,
			[]any{int64(1), "x", map[string]any{"c": []any{}}},
		},
	}
}

// FuzzUnstructuredValues compares unstructuredValue with cel-go's wrappers on random
// expressions. An expression whose result on cel-go's wrappers alone varies between runs
// (map order) is skipped.
func FuzzUnstructuredValues(f *testing.F) {
	for _, seed := range []string{
		"object.items.filter(e, type(e) == map && has(e.a))", "object.items[8][2].c", "object.items.map(i, type(i))",
		"object.items[0] == {'a': 1}", "object.items + [1]", "object.metadata.name.size()", "object.items.exists(i, i == null)",
		"object.?items[?9].orValue(0)", "object.items[0].a + 1", "dyn(object.items[1]).b", "'x' in object.items[8]",
		"object.items.all(i, e, i >= 0)", "object.items[8].flatten()", "size(object.items[8][2])", "object.metadata.all(k, k == 'name')",
	} {
		f.Add(seed)
	}
	envSet, _, err := newFilterEnvSet(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()), noLookup{})
	if err != nil {
		f.Fatal(err)
	}
	env, err := envSet.Env(environment.StoredExpressions)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		ast, issues := env.Compile(expr)
		if issues != nil && issues.Err() != nil {
			return
		}
		prog, err := env.Program(ast)
		if err != nil {
			return
		}
		diff := compareWithCELWrappers(prog, fuzzObject)
		if diff == "" {
			return
		}
		// Deterministic? Compare cel-go's wrappers with themselves.
		run := func() string {
			v, details, err := prog.Eval(map[string]any{ObjectVarName: celtypes.DefaultTypeAdapter.NativeToValue(fuzzObject())})
			return fmt.Sprint(v, err, *details.ActualCost())
		}
		first := run()
		for i := 0; i < 8; i++ {
			if run() != first {
				return
			}
		}
		t.Fatalf("%s: %s", expr, diff)
	})
}

// TestMutationsWithObjectContent: mutations whose values are parts of the object (which a
// filter reads as unstructuredValue) produce the same content as literals.
func TestMutationsWithObjectContent(t *testing.T) {
	c := newCompiler(t, CompilerOptions{})
	cases := []struct {
		name     string
		mutation appsv1alpha1.Mutation
		want     func(obj map[string]any)
	}{
		{"apply configuration copies labels to annotations",
			applyConfig("Object{metadata: Object.metadata{annotations: object.metadata.labels}}"),
			func(obj map[string]any) {
				obj["metadata"].(map[string]any)["annotations"] = map[string]any{"a": "b", "c": "d"}
			}},
		{"apply configuration merges a port list read from the object (by port and protocol)",
			applyConfig("Object{spec: Object.spec{ports: object.spec.ports.map(p, Object.spec.ports{name: p.name + '-x', port: p.port, protocol: p.protocol})}}"),
			func(obj map[string]any) {
				obj["spec"].(map[string]any)["ports"] = []any{map[string]any{"name": "http-x", "port": int64(80), "protocol": "TCP"}}
			}},
		{"JSON patch adds a filtered list of the object's maps",
			jsonPatch("[JSONPatch{op: 'add', path: '/spec/kept', value: object.spec.ports.filter(p, p.port == 80)}]"),
			func(obj map[string]any) {
				spec := obj["spec"].(map[string]any)
				spec["kept"] = spec["ports"]
			}},
		{"JSON patch replaces with a map of the object",
			jsonPatch("[JSONPatch{op: 'replace', path: '/metadata/labels', value: {'copy': object.metadata.labels.a, 'all': object.metadata.labels}}]"),
			func(obj map[string]any) {
				obj["metadata"].(map[string]any)["labels"] = map[string]any{"copy": "b", "all": map[string]any{"a": "b", "c": "d"}}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, errs := c.Compile(newFilter("content", func(s *appsv1alpha1.ResponseFilterSpec) {
				s.Mutations = []appsv1alpha1.Mutation{tc.mutation}
			}))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			in := service("web", map[string]any{"a": "b", "c": "d"})
			res, err := f.Evaluate(context.Background(), in, svcList, Node{Name: "n1"})
			if err != nil {
				t.Fatal(err)
			}
			want := service("web", map[string]any{"a": "b", "c": "d"}).Object
			tc.want(want)
			if !reflect.DeepEqual(res.Object.Object, want) {
				t.Errorf("got %v\nwant %v", res.Object.Object, want)
			}
			if !reflect.DeepEqual(in.Object, service("web", map[string]any{"a": "b", "c": "d"}).Object) {
				t.Errorf("the input changed: %v", in.Object)
			}
		})
	}
}
