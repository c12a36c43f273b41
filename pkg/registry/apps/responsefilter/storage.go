package responsefilter

import (
	"context"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
	"github.com/yurt-edge/yurt/pkg/apis/apps"
	appsconversion "github.com/yurt-edge/yurt/pkg/apis/apps/v1alpha1"
	"github.com/yurt-edge/yurt/pkg/apis/apps/validation"
	"github.com/yurt-edge/yurt/pkg/filter"
	"github.com/yurt-edge/yurt/pkg/printers"
	"github.com/yurt-edge/yurt/pkg/registry/resource"
)

const (
	// ConditionReady is the condition the server sets on a stored (and so compiled) filter.
	ConditionReady = "Ready"
	// ReasonCompiled is its reason.
	ReasonCompiled = "Compiled"
)

// NewStorage builds the storage of responsefilters.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, versions []schema.GroupVersion) (*resource.Storage, error) {
	// Writes are checked with the environment for new expressions, so a filter accepted
	// here compiles on every hub of a supported version.
	compiler, err := filter.NewCompiler(filter.CompilerOptions{NewExpressions: true})
	if err != nil {
		return nil, fmt.Errorf("building the ResponseFilter compiler: %w", err)
	}
	v := &validator{compiler: compiler}
	s, err := resource.NewStorage(scheme, optsGetter, &resource.Definition[*apps.ResponseFilter]{
		Resource:                   apps.Resource("responsefilters"),
		Singular:                   "responsefilter",
		Kind:                       "ResponseFilter",
		ShortNames:                 []string{"rf"},
		Categories:                 []string{"yurt"},
		Versions:                   versions,
		New:                        func() *apps.ResponseFilter { return &apps.ResponseFilter{} },
		NewList:                    func() runtime.Object { return &apps.ResponseFilterList{} },
		Validate:                   v.validate,
		ValidateUpdate:             v.validateUpdate,
		ValidateStatusUpdate:       validateClientStatusUpdate,
		ValidateServerStatusUpdate: validation.ValidateResponseFilterStatusUpdate,
		PrepareForCreate: func(_ context.Context, rf *apps.ResponseFilter) {
			setCompiled(rf)
		},
		Table: printers.NewResponseFilterTableConvertor(),
	})
	if err != nil {
		return nil, err
	}
	// The generic strategy keeps the old status on update; the status follows the new spec.
	s.REST.Store.UpdateStrategy = compiledOnUpdate{RESTUpdateStrategy: s.REST.Store.UpdateStrategy}
	return s, nil
}

type validator struct {
	compiler *filter.Compiler
}

func (v *validator) validate(rf *apps.ResponseFilter) field.ErrorList {
	errs := validation.ValidateResponseFilter(rf)
	return append(errs, v.compile(rf, errs)...)
}

func (v *validator) validateUpdate(rf, old *apps.ResponseFilter) field.ErrorList {
	errs := validation.ValidateResponseFilterUpdate(rf, old)
	if apiequality.Semantic.DeepEqual(rf.Spec, old.Spec) {
		// Unchanged expressions compiled when they were written; a metadata update must not
		// fail because the environment for new expressions is stricter than the stored one.
		return errs
	}
	return append(errs, v.compile(rf, errs)...)
}

// compile type checks the expressions and returns the errors of fields that the structural
// validation did not already report.
func (v *validator) compile(rf *apps.ResponseFilter, structural field.ErrorList) field.ErrorList {
	var spec appsv1alpha1.ResponseFilterSpec
	if err := appsconversion.Convert_apps_ResponseFilterSpec_To_v1alpha1_ResponseFilterSpec(&rf.Spec, &spec, nil); err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("spec"), fmt.Errorf("converting the spec: %w", err))}
	}
	reported := map[string]bool{}
	for _, e := range structural {
		reported[e.Field] = true
	}
	var out field.ErrorList
	for _, e := range v.compiler.CompileSpec(&spec, field.NewPath("spec")) {
		if !reported[e.Field] {
			out = append(out, e)
		}
	}
	return out
}

// setCompiled records that the filter's current generation compiled.
func setCompiled(rf *apps.ResponseFilter) {
	rf.Status.ObservedGeneration = rf.Generation
	meta.SetStatusCondition(&rf.Status.Conditions, metav1.Condition{
		Type:               ConditionReady,
		Status:             metav1.ConditionTrue,
		Reason:             ReasonCompiled,
		Message:            "every expression compiled and type checked",
		ObservedGeneration: rf.Generation,
	})
}

type compiledOnUpdate struct {
	rest.RESTUpdateStrategy
}

func (s compiledOnUpdate) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	s.RESTUpdateStrategy.PrepareForUpdate(ctx, obj, old)
	if rf, ok := obj.(*apps.ResponseFilter); ok {
		// Validation runs next: an update that does not compile is not stored.
		setCompiled(rf)
	}
}

// validateClientStatusUpdate lets clients (e.g. a controller aggregating hub reports) add
// conditions, but not change what the server derives from compiling the spec.
func validateClientStatusUpdate(rf, old *apps.ResponseFilter) field.ErrorList {
	errs := validation.ValidateResponseFilterStatusUpdate(rf, old)
	statusPath := field.NewPath("status")
	if rf.Status.ObservedGeneration != old.Status.ObservedGeneration {
		errs = append(errs, field.Forbidden(statusPath.Child("observedGeneration"), "is set by yurt-apiserver when the spec compiles"))
	}
	newReady := meta.FindStatusCondition(rf.Status.Conditions, ConditionReady)
	oldReady := meta.FindStatusCondition(old.Status.Conditions, ConditionReady)
	if !apiequality.Semantic.DeepEqual(newReady, oldReady) {
		errs = append(errs, field.Forbidden(statusPath.Child("conditions"), "the Ready condition is set by yurt-apiserver when the spec compiles"))
	}
	return errs
}
