package filter

import (
	"errors"
	"fmt"
	"sync"

	"github.com/google/cel-go/common/types/ref"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apiserver/pkg/admission/plugin/policy/mutating/patch"
	"k8s.io/apiserver/pkg/cel/mutation/dynamic"
	kubeapplyconfigurations "k8s.io/client-go/applyconfigurations"
	kubescheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/structured-merge-diff/v6/typed"

	yurtapplyconfigurations "github.com/yurt-edge/yurt/generated/applyconfiguration"
	yurtscheme "github.com/yurt-edge/yurt/generated/clientset/versioned/scheme"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
)

func (f *Filter) applyMutation(pt appsv1alpha1.PatchType, obj *unstructured.Unstructured, val ref.Val) (*unstructured.Unstructured, error) {
	switch pt {
	case appsv1alpha1.PatchTypeApplyConfiguration:
		return f.applyConfiguration(obj, val)
	case appsv1alpha1.PatchTypeJSONPatch:
		return applyJSONPatch(obj, val)
	}
	return nil, fmt.Errorf("unsupported patch type %q", pt)
}

// applyConfiguration merges an Object{...} value into obj with structured merge diff, as
// MutatingAdmissionPolicy does: maps and granular lists merge, and setting an atomic list,
// map or struct is refused (use a JSONPatch to replace one).
func (f *Filter) applyConfiguration(obj *unstructured.Unstructured, val ref.Val) (*unstructured.Unstructured, error) {
	objVal, ok := val.(*dynamic.ObjectVal)
	if !ok {
		return nil, fmt.Errorf("apply configuration evaluated to %v, not an Object", val.Type())
	}
	if err := objVal.CheckTypeNamesMatchFieldPathNames(); err != nil {
		return nil, fmt.Errorf("type mismatch: %w", err)
	}
	content, ok := objVal.Value().(map[string]any)
	if !ok {
		return nil, fmt.Errorf("apply configuration evaluated to %T, not an object", objVal.Value())
	}
	gvk := obj.GroupVersionKind()
	if gvk.Kind == "" || gvk.Version == "" {
		return nil, errors.New("the object has no apiVersion and kind, which an apply configuration needs")
	}
	p := &unstructured.Unstructured{Object: content}
	p.SetGroupVersionKind(gvk)
	out, err := patch.ApplyStructuredMergeDiff(f.typeConverter, obj, p)
	if err != nil {
		return nil, err
	}
	u, ok := out.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("apply configuration produced %T, not an unstructured object", out)
	}
	return u, nil
}

// applyJSONPatch applies a list of JSONPatch{...} values to a copy of obj. A failed "test"
// operation leaves the object unchanged, as in MutatingAdmissionPolicy.
func applyJSONPatch(obj *unstructured.Unstructured, val ref.Val) (*unstructured.Unstructured, error) {
	ops, err := patchOpsOf(val)
	if err != nil {
		return nil, err
	}
	return applyPatchOpsTo(obj, ops)
}

// applyPatchOpsTo applies the operations of a JSONPatch mutation (from cel-go's value or a fast
// plan's) to a copy of obj.
func applyPatchOpsTo(obj *unstructured.Unstructured, ops []patchOp) (*unstructured.Unstructured, error) {
	if len(ops) == 0 {
		return obj, nil
	}
	out, err := applyPatchOps(obj, ops)
	if errors.Is(err, errTestFailed) {
		return obj, nil
	}
	return out, err
}

// typeConverter types objects of the Kubernetes and Yurt APIs with their schemas and any
// other kind with a deduced schema (maps merge, lists are replaced). The schema converters are
// built on first use: parsing the Kubernetes schemas costs several MiB of heap, which a hub
// whose filters use no ApplyConfiguration mutation should not carry.
type typeConverter struct {
	kube, yurt func() managedfields.TypeConverter
	deduced    managedfields.TypeConverter
}

func newTypeConverter() (managedfields.TypeConverter, error) {
	return &typeConverter{
		kube:    sync.OnceValue(func() managedfields.TypeConverter { return kubeapplyconfigurations.NewTypeConverter(kubescheme.Scheme) }),
		yurt:    sync.OnceValue(func() managedfields.TypeConverter { return yurtapplyconfigurations.NewTypeConverter(yurtscheme.Scheme) }),
		deduced: managedfields.NewDeducedTypeConverter(),
	}, nil
}

func (t *typeConverter) pick(gvk schema.GroupVersionKind) managedfields.TypeConverter {
	switch {
	case kubescheme.Scheme.Recognizes(gvk):
		return t.kube()
	case yurtscheme.Scheme.Recognizes(gvk):
		return t.yurt()
	}
	return t.deduced
}

func (t *typeConverter) ObjectToTyped(obj runtime.Object, opts ...typed.ValidationOptions) (*typed.TypedValue, error) {
	return t.pick(obj.GetObjectKind().GroupVersionKind()).ObjectToTyped(obj, opts...)
}

func (t *typeConverter) TypedToObject(v *typed.TypedValue) (runtime.Object, error) {
	return t.deduced.TypedToObject(v)
}
