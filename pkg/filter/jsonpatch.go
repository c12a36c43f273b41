package filter

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	celtypes "github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"google.golang.org/protobuf/types/known/structpb"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apiserver/pkg/cel/mutation"
	"k8s.io/apiserver/pkg/cel/mutation/dynamic"
)

// A JSON patch (RFC 6902) applied to unstructured content directly: encoding the object to
// JSON and back for every patched object costs more than evaluating the filter.

type patchOp struct {
	op, path, from string
	value          any
	hasValue       bool
	// parsedPath is path parsed, when it was known before (a fast plan's constant path).
	parsedPath []string
}

// errTestFailed is a failed "test" operation: the object is left unchanged, as in
// MutatingAdmissionPolicy.
var errTestFailed = errors.New("test operation failed")

// patchOpsOf converts the value of a JSONPatch expression.
func patchOpsOf(val ref.Val) ([]patchOp, error) {
	list, ok := val.(traits.Lister)
	if !ok {
		return nil, fmt.Errorf("JSON patch evaluated to %v, not a list", val.Type())
	}
	var out []patchOp
	for it := list.Iterator(); it.HasNext() == celtypes.True; {
		native, err := it.Next().ConvertToNative(reflect.TypeOf(&mutation.JSONPatchVal{}))
		if err != nil {
			return nil, fmt.Errorf("JSON patch: not a JSONPatch: %w", err)
		}
		p, ok := native.(*mutation.JSONPatchVal)
		if !ok {
			return nil, fmt.Errorf("JSON patch: element of type %T, not a JSONPatch", native)
		}
		op := patchOp{op: p.Op, path: p.Path, from: p.From}
		if p.Val != nil {
			if objVal, ok := p.Val.(*dynamic.ObjectVal); ok {
				if err := objVal.CheckTypeNamesMatchFieldPathNames(); err != nil {
					return nil, fmt.Errorf("JSON patch: type mismatch: %w", err)
				}
			}
			v, err := toJSONValue(p.Val)
			if err != nil {
				return nil, fmt.Errorf("JSON patch %s %s: value cannot be JSON: %w", p.Op, p.Path, err)
			}
			op.value, op.hasValue = v, true
		}
		out = append(out, op)
	}
	return out, nil
}

// toJSONValue converts a CEL value to unstructured content (what encoding/json produces, with
// int64 integers). Parts of the object a filter passes through (e.g. kept endpoints) are not
// copied: the patcher copies containers before it changes them, so sharing is safe.
func toJSONValue(v ref.Val) (any, error) {
	switch v := v.(type) {
	case celtypes.String:
		return string(v), nil
	case celtypes.Int:
		return int64(v), nil
	case celtypes.Uint:
		return int64(v), nil
	case celtypes.Double:
		return float64(v), nil
	case celtypes.Bool:
		return bool(v), nil
	case celtypes.Null:
		return nil, nil
	case celtypes.Bytes:
		return base64.StdEncoding.EncodeToString(v), nil
	case *dynamic.ObjectVal:
		return viaJSON(v)
	}
	if native := v.Value(); isJSONContainer(native) {
		return native, nil
	}
	switch c := v.(type) {
	case traits.Lister:
		n, _ := c.Size().(celtypes.Int)
		out := make([]any, 0, int(n))
		for it := c.Iterator(); it.HasNext() == celtypes.True; {
			e, err := toJSONValue(it.Next())
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	case traits.Mapper:
		out := map[string]any{}
		for it := c.Iterator(); it.HasNext() == celtypes.True; {
			k := it.Next()
			ks, ok := k.(celtypes.String)
			if !ok {
				return nil, fmt.Errorf("map key %v is a %v, not a string", k, k.Type())
			}
			e, err := toJSONValue(c.Get(k))
			if err != nil {
				return nil, err
			}
			out[string(ks)] = e
		}
		return out, nil
	}
	return viaJSON(v)
}

func isJSONContainer(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// viaJSON converts values with no direct unstructured form (timestamps, durations, objects)
// the way k8s.io/apiserver's JSON patcher does.
func viaJSON(v ref.Val) (any, error) {
	pb, err := v.ConvertToNative(reflect.TypeOf(&structpb.Value{}))
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(pb)
	if err != nil {
		return nil, err
	}
	var out any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return normalizeNumbers(out), nil
}

func normalizeNumbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, e := range t {
			t[k] = normalizeNumbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = normalizeNumbers(e)
		}
	}
	return v
}

// applyPatchOps applies operations to obj without modifying it: every container on the path of
// an operation is copied before it changes (copy on write), so the result shares the parts no
// operation touched with obj. A failed test returns errTestFailed.
func applyPatchOps(obj *unstructured.Unstructured, ops []patchOp) (*unstructured.Unstructured, error) {
	var doc any = obj.Object
	for _, op := range ops {
		var err error
		doc, err = applyPatchOp(doc, op)
		if err != nil {
			if errors.Is(err, errTestFailed) {
				return nil, err
			}
			return nil, fmt.Errorf("JSON patch %s %s: %w", op.op, op.path, err)
		}
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("JSON patch made the object a %T", doc)
	}
	return &unstructured.Unstructured{Object: m}, nil
}

func applyPatchOp(doc any, op patchOp) (any, error) {
	path, err := op.parsedPath, error(nil)
	if path == nil {
		path, err = parsePointer(op.path)
	}
	if err != nil {
		return nil, fmt.Errorf("path: %w", err)
	}
	needValue := func() error {
		if !op.hasValue {
			return errors.New("value is required")
		}
		return nil
	}
	switch op.op {
	case "add":
		if err := needValue(); err != nil {
			return nil, err
		}
		return addAt(doc, path, op.value)
	case "remove":
		doc, _, err := removeAt(doc, path)
		return doc, err
	case "replace":
		if err := needValue(); err != nil {
			return nil, err
		}
		if len(path) == 0 {
			return op.value, nil
		}
		// As gopkg.in/evanphx/json-patch.v4 (MutatingAdmissionPolicy's patcher) does, a
		// missing key of an existing object is set; a list index must exist.
		parent, err := getAt(doc, path[:len(path)-1])
		if err != nil {
			return nil, err
		}
		if _, isMap := parent.(map[string]any); isMap {
			return addAt(doc, path, op.value)
		}
		if _, err := getAt(doc, path); err != nil {
			return nil, err
		}
		return setAt(doc, path, op.value)
	case "move", "copy":
		from, err := parsePointer(op.from)
		if err != nil {
			return nil, fmt.Errorf("from: %w", err)
		}
		if op.op == "move" && isPrefix(from, path) && len(from) < len(path) {
			return nil, errors.New("cannot move a value into itself")
		}
		v, err := getAt(doc, from)
		if err != nil {
			return nil, fmt.Errorf("from: %w", err)
		}
		if op.op == "move" {
			if doc, _, err = removeAt(doc, from); err != nil {
				return nil, err
			}
		}
		// A copied value is shared; later operations copy it before changing it.
		return addAt(doc, path, v)
	case "test":
		if err := needValue(); err != nil {
			return nil, err
		}
		v, err := getAt(doc, path)
		if err != nil {
			return nil, errTestFailed
		}
		a, err1 := json.Marshal(v)
		b, err2 := json.Marshal(op.value)
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			return nil, errTestFailed
		}
		return doc, nil
	}
	return nil, fmt.Errorf("unsupported operation %q", op.op)
}

func parsePointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("%q does not start with /", p)
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

func isPrefix(prefix, path []string) bool {
	if len(prefix) > len(path) {
		return false
	}
	for i := range prefix {
		if prefix[i] != path[i] {
			return false
		}
	}
	return true
}

func listIndex(tok string, n int, allowEnd bool) (int, error) {
	if allowEnd && tok == "-" {
		return n, nil
	}
	i, err := strconv.Atoi(tok)
	if err != nil || i < 0 {
		return 0, fmt.Errorf("invalid index %q", tok)
	}
	max := n - 1
	if allowEnd {
		max = n
	}
	if i > max {
		return 0, fmt.Errorf("index %d out of range (length %d)", i, n)
	}
	return i, nil
}

func getAt(doc any, path []string) (any, error) {
	cur := doc
	for i, tok := range path {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, fmt.Errorf("missing /%s", strings.Join(path[:i+1], "/"))
			}
			cur = v
		case []any:
			idx, err := listIndex(tok, len(c), false)
			if err != nil {
				return nil, err
			}
			cur = c[idx]
		default:
			return nil, fmt.Errorf("missing /%s", strings.Join(path[:i+1], "/"))
		}
	}
	return cur, nil
}

// withCopiedPath returns a copy of doc in which every container on path has been copied, and
// the container at path in that copy, ready to be changed.
func withCopiedPath(doc any, path []string) (any, any, error) {
	root := shallowCopy(doc)
	cur := root
	for i, tok := range path {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, nil, fmt.Errorf("missing /%s", strings.Join(path[:i+1], "/"))
			}
			v = shallowCopy(v)
			c[tok] = v
			cur = v
		case []any:
			idx, err := listIndex(tok, len(c), false)
			if err != nil {
				return nil, nil, err
			}
			v := shallowCopy(c[idx])
			c[idx] = v
			cur = v
		default:
			return nil, nil, fmt.Errorf("missing /%s", strings.Join(path[:i+1], "/"))
		}
	}
	return root, cur, nil
}

func shallowCopy(v any) any {
	switch c := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(c)+1)
		for k, e := range c {
			m[k] = e
		}
		return m
	case []any:
		return append(make([]any, 0, len(c)+1), c...)
	}
	return v
}

// addAt returns a document with value added at path (RFC 6902 "add").
func addAt(doc any, path []string, value any) (any, error) {
	if len(path) == 0 {
		return value, nil
	}
	parentPath, last := path[:len(path)-1], path[len(path)-1]
	if p, err := getAt(doc, parentPath); err != nil {
		return nil, err
	} else if l, ok := p.([]any); ok {
		idx, err := listIndex(last, len(l), true)
		if err != nil {
			return nil, err
		}
		grown := make([]any, 0, len(l)+1)
		grown = append(append(append(grown, l[:idx]...), value), l[idx:]...)
		return setAt(doc, parentPath, grown)
	} else if _, ok := p.(map[string]any); !ok {
		return nil, fmt.Errorf("/%s is not an object or a list", strings.Join(parentPath, "/"))
	}
	root, parent, err := withCopiedPath(doc, parentPath)
	if err != nil {
		return nil, err
	}
	parent.(map[string]any)[last] = value
	return root, nil
}

// removeAt returns a document without the value at path, and that value.
func removeAt(doc any, path []string) (any, any, error) {
	if len(path) == 0 {
		return nil, nil, errors.New("cannot remove the whole object")
	}
	parentPath, last := path[:len(path)-1], path[len(path)-1]
	v, err := getAt(doc, path)
	if err != nil {
		return nil, nil, err
	}
	p, _ := getAt(doc, parentPath)
	if l, ok := p.([]any); ok {
		idx, _ := listIndex(last, len(l), false)
		shrunk := append(append(make([]any, 0, len(l)-1), l[:idx]...), l[idx+1:]...)
		doc, err = setAt(doc, parentPath, shrunk)
		return doc, v, err
	}
	root, parent, err := withCopiedPath(doc, parentPath)
	if err != nil {
		return nil, nil, err
	}
	delete(parent.(map[string]any), last)
	return root, v, nil
}

// setAt returns a document with the value at an existing path (or the root) replaced.
func setAt(doc any, path []string, value any) (any, error) {
	if len(path) == 0 {
		return value, nil
	}
	parentPath, last := path[:len(path)-1], path[len(path)-1]
	root, parent, err := withCopiedPath(doc, parentPath)
	if err != nil {
		return nil, err
	}
	switch c := parent.(type) {
	case map[string]any:
		c[last] = value
	case []any:
		idx, err := listIndex(last, len(c), false)
		if err != nil {
			return nil, err
		}
		c[idx] = value
	default:
		return nil, fmt.Errorf("missing /%s", strings.Join(path, "/"))
	}
	return root, nil
}
