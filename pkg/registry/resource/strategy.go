package resource

import (
	"context"
	"fmt"
	"reflect"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// strategy is the create/update/delete strategy of the main resource: users write the spec,
// the status is kept as it was.
type strategy[T runtime.Object] struct {
	runtime.ObjectTyper
	names.NameGenerator
	def *Definition[T]
}

// statusStrategy is the update strategy of the status subresource: the status is written,
// the spec is kept as it was.
type statusStrategy[T runtime.Object] struct {
	strategy[T]
	validate func(obj, old T) field.ErrorList
}

func newStrategy[T runtime.Object](typer runtime.ObjectTyper, def *Definition[T]) strategy[T] {
	return strategy[T]{ObjectTyper: typer, NameGenerator: names.SimpleNameGenerator, def: def}
}

func (s strategy[T]) NamespaceScoped() bool { return s.def.Namespaced }

func (s strategy[T]) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return s.resetFields("status")
}

func (s strategy[T]) resetFields(path string) map[fieldpath.APIVersion]*fieldpath.Set {
	out := make(map[fieldpath.APIVersion]*fieldpath.Set, len(s.def.Versions))
	for _, gv := range s.def.Versions {
		out[fieldpath.APIVersion(gv.String())] = fieldpath.NewSet(fieldpath.MakePathOrDie(path))
	}
	return out
}

func (s strategy[T]) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	t := obj.(T)
	setField(t, "Status", reflect.Zero(fieldOf(t, "Status").Type()))
	if m, err := meta.Accessor(obj); err == nil {
		m.SetGeneration(1)
	}
	if s.def.PrepareForCreate != nil {
		s.def.PrepareForCreate(ctx, t)
	}
}

func (s strategy[T]) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	setField(obj.(T), "Status", fieldOf(old.(T), "Status"))
	bumpGenerationOnSpecChange(obj, old)
}

func (s strategy[T]) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return s.def.Validate(obj.(T))
}

func (s strategy[T]) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return s.def.ValidateUpdate(obj.(T), old.(T))
}

func (strategy[T]) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (strategy[T]) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

func (strategy[T]) Canonicalize(runtime.Object) {}

func (strategy[T]) AllowCreateOnUpdate() bool { return false }

func (strategy[T]) AllowUnconditionalUpdate() bool { return true }

func (s statusStrategy[T]) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return s.resetFields("spec")
}

func (s statusStrategy[T]) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	setField(obj.(T), "Spec", fieldOf(old.(T), "Spec"))
}

func (s statusStrategy[T]) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return s.validate(obj.(T), old.(T))
}

// bumpGenerationOnSpecChange increments metadata.generation when the spec changed, so
// controllers can tell which spec their status describes.
func bumpGenerationOnSpecChange(obj, old runtime.Object) {
	if apiequality.Semantic.DeepEqual(fieldOf(obj, "Spec").Interface(), fieldOf(old, "Spec").Interface()) {
		return
	}
	newMeta, err1 := meta.Accessor(obj)
	oldMeta, err2 := meta.Accessor(old)
	if err1 == nil && err2 == nil {
		newMeta.SetGeneration(oldMeta.GetGeneration() + 1)
	}
}

// fieldOf returns a top-level field of a pointer to struct. Every Yurt kind has Spec and
// Status, which the definitions' types guarantee.
func fieldOf(obj runtime.Object, name string) reflect.Value {
	v := reflect.ValueOf(obj).Elem().FieldByName(name)
	if !v.IsValid() {
		panic(fmt.Sprintf("%T has no field %s", obj, name))
	}
	return v
}

func setField(obj runtime.Object, name string, value reflect.Value) {
	fieldOf(obj, name).Set(value)
}

// getAttrs returns the labels and selectable fields of an object.
func (s strategy[T]) getAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	t, ok := obj.(T)
	if !ok {
		return nil, nil, fmt.Errorf("not a %s: %T", s.def.Kind, obj)
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil, err
	}
	set := fields.Set{"metadata.name": m.GetName()}
	if s.def.Namespaced {
		set["metadata.namespace"] = m.GetNamespace()
	}
	if s.def.Fields != nil {
		set = generic.MergeFieldsSets(set, s.def.Fields(t))
	}
	return m.GetLabels(), set, nil
}

// match returns a storage predicate for label and field selectors.
func (s strategy[T]) match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: s.getAttrs}
}
