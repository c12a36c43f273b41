package filter

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestPatchOpsMatchReference applies the same patches with applyPatchOps and with
// gopkg.in/evanphx/json-patch.v4 (what k8s.io/apiserver's JSON patcher uses) and compares.
func TestPatchOpsMatchReference(t *testing.T) {
	doc := `{"a":{"b":1,"c":[1,2,3],"d~/e":"x"},"l":[{"n":"x"},{"n":"y"}]}`
	cases := []struct {
		name string
		ops  string
	}{
		{"add to object", `[{"op":"add","path":"/a/z","value":{"k":[true,null]}}]`},
		{"add replaces", `[{"op":"add","path":"/a/b","value":"s"}]`},
		{"add into list", `[{"op":"add","path":"/a/c/1","value":9}]`},
		{"append to list", `[{"op":"add","path":"/a/c/-","value":9}]`},
		{"add at list end index", `[{"op":"add","path":"/a/c/3","value":9}]`},
		{"add past list end", `[{"op":"add","path":"/a/c/4","value":9}]`},
		{"add under missing parent", `[{"op":"add","path":"/nope/x","value":1}]`},
		{"escaped key", `[{"op":"replace","path":"/a/d~0~1e","value":"y"}]`},
		{"remove key", `[{"op":"remove","path":"/a/b"}]`},
		{"remove list item", `[{"op":"remove","path":"/l/0"}]`},
		{"remove missing", `[{"op":"remove","path":"/a/nope"}]`},
		{"replace missing", `[{"op":"replace","path":"/a/nope","value":1}]`},
		{"replace list item field", `[{"op":"replace","path":"/l/1/n","value":"z"}]`},
		{"bad index", `[{"op":"replace","path":"/a/c/01","value":1}]`},
		{"move", `[{"op":"move","from":"/a/b","path":"/l/0/m"}]`},
		{"copy", `[{"op":"copy","from":"/a/c","path":"/copy"},{"op":"add","path":"/copy/-","value":4}]`},
		{"test passes then add", `[{"op":"test","path":"/a/c","value":[1,2,3]},{"op":"add","path":"/t","value":1}]`},
		{"sequence", `[{"op":"add","path":"/l/-","value":{"n":"w"}},{"op":"remove","path":"/l/0"},{"op":"replace","path":"/l/0/n","value":"v"}]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ref, refErr := jsonpatch.Patch(mustPatch(t, tc.ops)).Apply([]byte(doc))
			obj := decodeDoc(t, doc)
			before := obj.DeepCopy()
			got, err := applyPatchOps(obj, opsFromJSON(t, tc.ops))
			if (err != nil) != (refErr != nil) {
				t.Fatalf("err %v, reference err %v", err, refErr)
			}
			if !reflect.DeepEqual(obj.Object, before.Object) {
				t.Fatal("the input was modified")
			}
			if err != nil {
				return
			}
			want := decodeDoc(t, string(ref))
			if !reflect.DeepEqual(got.Object, want.Object) {
				t.Fatalf("got  %v\nwant %v", got.Object, want.Object)
			}
		})
	}
	// A failed test leaves the object alone.
	obj := decodeDoc(t, doc)
	if _, err := applyPatchOps(obj, opsFromJSON(t, `[{"op":"test","path":"/a/b","value":2}]`)); !errors.Is(err, errTestFailed) {
		t.Fatalf("err = %v, want errTestFailed", err)
	}
}

func mustPatch(t *testing.T, ops string) jsonpatch.Patch {
	p, err := jsonpatch.DecodePatch([]byte(ops))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func opsFromJSON(t *testing.T, ops string) []patchOp {
	var raw []map[string]any
	if err := json.Unmarshal([]byte(ops), &raw); err != nil {
		t.Fatal(err)
	}
	var out []patchOp
	for _, r := range raw {
		op := patchOp{op: r["op"].(string), path: r["path"].(string)}
		if f, ok := r["from"].(string); ok {
			op.from = f
		}
		if v, ok := r["value"]; ok {
			op.value, op.hasValue = normalizeFloats(v), true
		}
		out = append(out, op)
	}
	return out
}

// normalizeFloats turns encoding/json's float64 integers into int64, as unstructured content has.
func normalizeFloats(v any) any {
	switch t := v.(type) {
	case float64:
		if t == float64(int64(t)) {
			return int64(t)
		}
	case map[string]any:
		for k, e := range t {
			t[k] = normalizeFloats(e)
		}
	case []any:
		for i, e := range t {
			t[i] = normalizeFloats(e)
		}
	}
	return v
}

func decodeDoc(t *testing.T, doc string) *unstructured.Unstructured {
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: normalizeFloats(m).(map[string]any)}
}

// FuzzPatchOps compares applyPatchOps with gopkg.in/evanphx/json-patch.v4 on random patches
// and checks the input is never modified.
func FuzzPatchOps(f *testing.F) {
	f.Add(`{"a":{"b":1,"c":[1,2,3]},"l":[{"n":"x"}]}`, `[{"op":"add","path":"/a/c/1","value":9}]`)
	f.Add(`{"a":{"b":1}}`, `[{"op":"move","from":"/a/b","path":"/b"},{"op":"remove","path":"/a"}]`)
	f.Add(`{"l":[1,2]}`, `[{"op":"copy","from":"/l","path":"/m"},{"op":"add","path":"/m/-","value":3},{"op":"replace","path":"/l/0","value":0}]`)
	f.Add(`{"a":{"b":{"c":1}}}`, `[{"op":"test","path":"/a/b","value":{"c":1}},{"op":"add","path":"/a/b/d","value":2}]`)
	f.Fuzz(func(t *testing.T, doc, patch string) {
		var m map[string]any
		if json.Unmarshal([]byte(doc), &m) != nil || m == nil {
			return
		}
		var raw []map[string]any
		if json.Unmarshal([]byte(patch), &raw) != nil {
			return
		}
		var ops []patchOp
		for _, r := range raw {
			op, _ := r["op"].(string)
			path, ok := r["path"].(string)
			if !ok {
				return
			}
			p := patchOp{op: op, path: path}
			if from, ok := r["from"].(string); ok {
				p.from = from
			} else if op == "move" || op == "copy" {
				return
			}
			if v, ok := r["value"]; ok {
				p.value, p.hasValue = normalizeFloats(v), true
			}
			ops = append(ops, p)
		}
		ref, refErr := referenceApply(doc, patch)
		obj := &unstructured.Unstructured{Object: normalizeFloats(m).(map[string]any)}
		before := obj.DeepCopy()
		got, err := applyPatchOps(obj, ops)
		if !reflect.DeepEqual(obj.Object, before.Object) {
			t.Fatal("the input was modified")
		}
		if err != nil || refErr != nil {
			// Negative indices and a few lenient cases differ; only successes are compared.
			return
		}
		var want map[string]any
		if json.Unmarshal(ref, &want) != nil {
			return
		}
		if !reflect.DeepEqual(got.Object, normalizeFloats(want)) {
			t.Fatalf("patch %s on %s:\ngot  %v\nwant %v", patch, doc, got.Object, want)
		}
	})
}

func mustPatchOrNil(ops string) jsonpatch.Patch {
	p, _ := jsonpatch.DecodePatch([]byte(ops))
	return p
}

// referenceApply runs evanphx/json-patch, which panics on some inputs (e.g. a "test" of the
// whole document without a value; testdata/fuzz/FuzzPatchOps holds one).
func referenceApply(doc, patch string) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("reference panicked: %v", r)
		}
	}()
	return jsonpatch.Patch(mustPatchOrNil(patch)).Apply([]byte(doc))
}
