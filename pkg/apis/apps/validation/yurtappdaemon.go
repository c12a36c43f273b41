package validation

import (
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/yurt-edge/yurt/pkg/apis/apps"
)

// ValidateYurtAppDaemon checks a YurtAppDaemon on creation.
func ValidateYurtAppDaemon(daemon *apps.YurtAppDaemon) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMeta(&daemon.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, validateYurtAppDaemonSpec(&daemon.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateYurtAppDaemonUpdate checks an update of a YurtAppDaemon: the new daemon must be valid
// and keep its kind of workload.
func ValidateYurtAppDaemonUpdate(newDaemon, oldDaemon *apps.YurtAppDaemon) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(&newDaemon.ObjectMeta, &oldDaemon.ObjectMeta, field.NewPath("metadata"))
	specPath := field.NewPath("spec")
	allErrs = append(allErrs, validateYurtAppDaemonSpec(&newDaemon.Spec, specPath)...)
	allErrs = append(allErrs, validateWorkloadTemplateKindUpdate(&newDaemon.Spec.WorkloadTemplate,
		&oldDaemon.Spec.WorkloadTemplate, specPath.Child("workloadTemplate"))...)
	return allErrs
}

// ValidateYurtAppDaemonStatusUpdate checks an update of a YurtAppDaemon's status.
func ValidateYurtAppDaemonStatusUpdate(newDaemon, oldDaemon *apps.YurtAppDaemon) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(&newDaemon.ObjectMeta, &oldDaemon.ObjectMeta, field.NewPath("metadata"))
	status, fldPath := &newDaemon.Status, field.NewPath("status")
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(status.ObservedGeneration, fldPath.Child("observedGeneration"))...)
	if status.CollisionCount != nil {
		allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(*status.CollisionCount), fldPath.Child("collisionCount"))...)
	}
	seen := map[apps.YurtAppDaemonConditionType]bool{}
	for i, cond := range status.Conditions {
		typePath := fldPath.Child("conditions").Index(i).Child("type")
		if cond.Type == "" {
			allErrs = append(allErrs, field.Required(typePath, ""))
		} else if seen[cond.Type] {
			allErrs = append(allErrs, field.Duplicate(typePath, cond.Type))
		}
		seen[cond.Type] = true
	}
	allErrs = append(allErrs, validatePoolNames(status.NodePools, fldPath.Child("nodepools"))...)
	return allErrs
}

func validateYurtAppDaemonSpec(spec *apps.YurtAppDaemonSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList

	selectorPath := fldPath.Child("selector")
	var selector labels.Selector
	switch {
	case spec.Selector == nil:
		allErrs = append(allErrs, field.Required(selectorPath, ""))
	case len(spec.Selector.MatchLabels)+len(spec.Selector.MatchExpressions) == 0:
		allErrs = append(allErrs, field.Invalid(selectorPath, spec.Selector, "empty selector is invalid: it would select every pod"))
	default:
		errs := metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, selectorPath)
		allErrs = append(allErrs, errs...)
		if len(errs) == 0 {
			var err error
			if selector, err = metav1.LabelSelectorAsSelector(spec.Selector); err != nil {
				allErrs = append(allErrs, field.Invalid(selectorPath, spec.Selector, err.Error()))
				selector = nil
			}
		}
	}

	// An empty nodepoolSelector is allowed and selects every pool; a missing one is not, so
	// that running everywhere is always a deliberate choice.
	if spec.NodePoolSelector == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("nodepoolSelector"), ""))
	} else {
		allErrs = append(allErrs, metav1validation.ValidateLabelSelector(spec.NodePoolSelector, metav1validation.LabelSelectorValidationOptions{}, fldPath.Child("nodepoolSelector"))...)
	}

	tmplPath := fldPath.Child("workloadTemplate")
	allErrs = append(allErrs, validateWorkloadTemplate(&spec.WorkloadTemplate, tmplPath)...)
	// The daemon's selector finds its workloads, so it must match their labels.
	if selector != nil {
		if d := spec.WorkloadTemplate.DeploymentTemplate; d != nil && !selector.Matches(labels.Set(d.Labels)) {
			allErrs = append(allErrs, field.Invalid(tmplPath.Child("deploymentTemplate", "metadata", "labels"), d.Labels, "`selector` does not match template `labels`"))
		}
		if s := spec.WorkloadTemplate.StatefulSetTemplate; s != nil && !selector.Matches(labels.Set(s.Labels)) {
			allErrs = append(allErrs, field.Invalid(tmplPath.Child("statefulSetTemplate", "metadata", "labels"), s.Labels, "`selector` does not match template `labels`"))
		}
	}

	if spec.RevisionHistoryLimit != nil {
		allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(*spec.RevisionHistoryLimit), fldPath.Child("revisionHistoryLimit"))...)
	}
	return allErrs
}
