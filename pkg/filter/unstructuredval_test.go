package filter

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	celtypes "github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"

	"k8s.io/apiserver/pkg/cel/environment"
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
			eval := func(object ref.Val) (ref.Val, error, uint64) {
				val, details, err := prog.ContextEval(context.Background(), map[string]any{ObjectVarName: object})
				var cost uint64
				if details != nil && details.ActualCost() != nil {
					cost = *details.ActualCost()
				}
				return val, err, cost
			}
			wantVal, wantErr, wantCost := eval(celtypes.DefaultTypeAdapter.NativeToValue(unstructuredTestObject()))
			gotVal, gotErr, gotCost := eval(unstructuredValue(unstructuredTestObject()))
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Fatalf("error %v, cel-go's wrapper: %v", gotErr, wantErr)
			}
			if gotCost != wantCost {
				t.Errorf("cost %d, cel-go's wrapper: %d", gotCost, wantCost)
			}
			if wantErr != nil {
				return
			}
			if eq := gotVal.Equal(wantVal); eq != celtypes.True {
				t.Errorf("value %v, cel-go's wrapper %v (equal: %v)", gotVal, wantVal, eq)
			}
			if eq := wantVal.Equal(gotVal); eq != celtypes.True {
				t.Errorf("cel-go's wrapper %v does not equal %v (%v)", wantVal, gotVal, eq)
			}
			if gotVal.Type() != wantVal.Type() {
				t.Errorf("type %v, cel-go's wrapper %v", gotVal.Type(), wantVal.Type())
			}
			gotJSON, gerr := toJSONValue(gotVal)
			wantJSON, werr := toJSONValue(wantVal)
			if fmt.Sprint(gerr) != fmt.Sprint(werr) || !reflect.DeepEqual(gotJSON, wantJSON) {
				t.Errorf("as JSON %v (%v), cel-go's wrapper %v (%v)", gotJSON, gerr, wantJSON, werr)
			}
		})
	}
}
