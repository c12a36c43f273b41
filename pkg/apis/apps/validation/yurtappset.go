package validation

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/yurt-edge/yurt/pkg/apis/apps"
)

var supportedPatchOperations = []apps.PatchOperation{apps.ADD, apps.REMOVE, apps.REPLACE}

// ValidateYurtAppSet checks a YurtAppSet on creation.
func ValidateYurtAppSet(set *apps.YurtAppSet) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMeta(&set.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, validateYurtAppSetSpec(&set.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateYurtAppSetUpdate checks an update of a YurtAppSet: the new set must be valid and keep
// its kind of workload.
func ValidateYurtAppSetUpdate(newSet, oldSet *apps.YurtAppSet) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(&newSet.ObjectMeta, &oldSet.ObjectMeta, field.NewPath("metadata"))
	specPath := field.NewPath("spec")
	allErrs = append(allErrs, validateYurtAppSetSpec(&newSet.Spec, specPath)...)
	allErrs = append(allErrs, validateWorkloadTemplateKindUpdate(&newSet.Spec.Workload.WorkloadTemplate,
		&oldSet.Spec.Workload.WorkloadTemplate, specPath.Child("workload", "workloadTemplate"))...)
	return allErrs
}

// ValidateYurtAppSetStatusUpdate checks an update of a YurtAppSet's status.
func ValidateYurtAppSetStatusUpdate(newSet, oldSet *apps.YurtAppSet) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(&newSet.ObjectMeta, &oldSet.ObjectMeta, field.NewPath("metadata"))
	status, fldPath := &newSet.Status, field.NewPath("status")
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(status.ObservedGeneration, fldPath.Child("observedGeneration"))...)
	if status.CollisionCount != nil {
		allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(*status.CollisionCount), fldPath.Child("collisionCount"))...)
	}
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(status.ReadyWorkloads), fldPath.Child("readyWorkloads"))...)
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(status.UpdatedWorkloads), fldPath.Child("updatedWorkloads"))...)
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(status.TotalWorkloads), fldPath.Child("totalWorkloads"))...)
	seen := map[apps.YurtAppSetConditionType]bool{}
	for i, cond := range status.Conditions {
		typePath := fldPath.Child("conditions").Index(i).Child("type")
		if cond.Type == "" {
			allErrs = append(allErrs, field.Required(typePath, ""))
		} else if seen[cond.Type] {
			allErrs = append(allErrs, field.Duplicate(typePath, cond.Type))
		}
		seen[cond.Type] = true
	}
	return allErrs
}

func validateYurtAppSetSpec(spec *apps.YurtAppSetSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	workloadPath := fldPath.Child("workload")
	allErrs = append(allErrs, validateWorkloadTemplate(&spec.Workload.WorkloadTemplate, workloadPath.Child("workloadTemplate"))...)
	for i := range spec.Workload.WorkloadTweaks {
		allErrs = append(allErrs, validateWorkloadTweak(&spec.Workload.WorkloadTweaks[i], workloadPath.Child("workloadTweaks").Index(i))...)
	}
	// Pools and nodepoolSelector may both be set: the selected pools are their union.
	allErrs = append(allErrs, metav1validation.ValidateLabelSelector(spec.NodePoolSelector, metav1validation.LabelSelectorValidationOptions{}, fldPath.Child("nodepoolSelector"))...)
	allErrs = append(allErrs, validatePoolNames(spec.Pools, fldPath.Child("pools"))...)
	if spec.RevisionHistoryLimit != nil {
		allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(*spec.RevisionHistoryLimit), fldPath.Child("revisionHistoryLimit"))...)
	}
	return allErrs
}

func validateWorkloadTweak(tweak *apps.WorkloadTweak, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if tweak.NodePoolSelector == nil && len(tweak.Pools) == 0 {
		allErrs = append(allErrs, field.Required(fldPath, "nodepoolSelector or pools must select the pools the tweaks apply to"))
	}
	allErrs = append(allErrs, metav1validation.ValidateLabelSelector(tweak.NodePoolSelector, metav1validation.LabelSelectorValidationOptions{}, fldPath.Child("nodepoolSelector"))...)
	allErrs = append(allErrs, validatePoolNames(tweak.Pools, fldPath.Child("pools"))...)

	tweaksPath := fldPath.Child("tweaks")
	if tweak.Tweaks.Replicas != nil {
		allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(*tweak.Tweaks.Replicas), tweaksPath.Child("replicas"))...)
	}
	seenContainers := map[string]bool{}
	for i, image := range tweak.Tweaks.ContainerImages {
		idxPath := tweaksPath.Child("containerImages").Index(i)
		if image.Name == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("name"), ""))
		} else if seenContainers[image.Name] {
			allErrs = append(allErrs, field.Duplicate(idxPath.Child("name"), image.Name))
		}
		seenContainers[image.Name] = true
		if strings.TrimSpace(image.TargetImage) == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("targetImage"), ""))
		}
	}
	for i, patch := range tweak.Tweaks.Patches {
		allErrs = append(allErrs, validatePatch(&patch, tweaksPath.Child("patches").Index(i))...)
	}
	return allErrs
}

func validatePatch(patch *apps.Patch, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch {
	case patch.Path == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("path"), "must be a JSON pointer"))
	case !strings.HasPrefix(patch.Path, "/"):
		allErrs = append(allErrs, field.Invalid(fldPath.Child("path"), patch.Path, "must be a JSON pointer starting with '/'"))
	}
	switch {
	case patch.Operation == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("operation"), ""))
	case !slices.Contains(supportedPatchOperations, patch.Operation):
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("operation"), patch.Operation, supportedPatchOperations))
	}
	if (patch.Operation == apps.ADD || patch.Operation == apps.REPLACE) && isJSONNull(patch.Value.Raw) {
		allErrs = append(allErrs, field.Required(fldPath.Child("value"), "must be set for add and replace"))
	}
	return allErrs
}

// isJSONNull tells whether raw JSON is absent, which is how a null value decodes.
func isJSONNull(raw []byte) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}

// validatePoolNames checks a list of pool names: each non-empty, a valid pool name, and unique.
func validatePoolNames(pools []string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := map[string]bool{}
	for i, pool := range pools {
		idxPath := fldPath.Index(i)
		if pool == "" {
			allErrs = append(allErrs, field.Required(idxPath, ""))
			continue
		}
		for _, msg := range ValidateNodePoolName(pool, false) {
			allErrs = append(allErrs, field.Invalid(idxPath, pool, msg))
		}
		if seen[pool] {
			allErrs = append(allErrs, field.Duplicate(idxPath, pool))
		}
		seen[pool] = true
	}
	return allErrs
}

// validateWorkloadTemplate checks that exactly one template is set and that it can become a
// Deployment or StatefulSet. The full Kubernetes workload validation is left to the API server
// the workloads are created in; this catches the mistakes that would make every pool fail.
func validateWorkloadTemplate(tmpl *apps.WorkloadTemplate, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch {
	case tmpl.DeploymentTemplate == nil && tmpl.StatefulSetTemplate == nil:
		allErrs = append(allErrs, field.Required(fldPath, "exactly one of deploymentTemplate or statefulSetTemplate must be set"))
	case tmpl.DeploymentTemplate != nil && tmpl.StatefulSetTemplate != nil:
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("statefulSetTemplate"), "may not be set together with deploymentTemplate"))
	}
	if d := tmpl.DeploymentTemplate; d != nil {
		path := fldPath.Child("deploymentTemplate")
		allErrs = append(allErrs, validateTemplateMeta(&d.ObjectMeta, path.Child("metadata"))...)
		specPath := path.Child("spec")
		if d.Spec.Replicas != nil {
			allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(*d.Spec.Replicas), specPath.Child("replicas"))...)
		}
		allErrs = append(allErrs, validateSelectorAndPodTemplate(d.Spec.Selector, &d.Spec.Template, specPath)...)
	}
	if s := tmpl.StatefulSetTemplate; s != nil {
		path := fldPath.Child("statefulSetTemplate")
		allErrs = append(allErrs, validateTemplateMeta(&s.ObjectMeta, path.Child("metadata"))...)
		specPath := path.Child("spec")
		if s.Spec.Replicas != nil {
			allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(*s.Spec.Replicas), specPath.Child("replicas"))...)
		}
		allErrs = append(allErrs, validateSelectorAndPodTemplate(s.Spec.Selector, &s.Spec.Template, specPath)...)
	}
	return allErrs
}

// validateWorkloadTemplateKindUpdate forbids turning a Deployment template into a StatefulSet
// template or back: the per-pool workloads of the old kind would be orphaned.
func validateWorkloadTemplateKindUpdate(newTmpl, oldTmpl *apps.WorkloadTemplate, fldPath *field.Path) field.ErrorList {
	if (oldTmpl.DeploymentTemplate != nil && newTmpl.DeploymentTemplate == nil && newTmpl.StatefulSetTemplate != nil) ||
		(oldTmpl.StatefulSetTemplate != nil && newTmpl.StatefulSetTemplate == nil && newTmpl.DeploymentTemplate != nil) {
		return field.ErrorList{field.Forbidden(fldPath, "the kind of workload template may not be changed")}
	}
	return nil
}

func validateTemplateMeta(meta *metav1.ObjectMeta, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	allErrs = append(allErrs, metav1validation.ValidateLabels(meta.Labels, fldPath.Child("labels"))...)
	allErrs = append(allErrs, apivalidation.ValidateAnnotations(meta.Annotations, fldPath.Child("annotations"))...)
	return allErrs
}

// validateSelectorAndPodTemplate checks a workload's selector, which must match its pod
// template's labels, and that the pod template has containers with valid, unique names.
func validateSelectorAndPodTemplate(selector *metav1.LabelSelector, tmpl *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	selectorPath := fldPath.Child("selector")
	selectorErrs := metav1validation.ValidateLabelSelector(selector, metav1validation.LabelSelectorValidationOptions{}, selectorPath)
	allErrs = append(allErrs, selectorErrs...)

	tmplPath := fldPath.Child("template")
	allErrs = append(allErrs, validateTemplateMeta(&tmpl.ObjectMeta, tmplPath.Child("metadata"))...)
	if selector != nil && len(selectorErrs) == 0 {
		sel, err := metav1.LabelSelectorAsSelector(selector)
		if err != nil {
			allErrs = append(allErrs, field.Invalid(selectorPath, selector, err.Error()))
		} else if !sel.Empty() && !sel.Matches(labels.Set(tmpl.Labels)) {
			allErrs = append(allErrs, field.Invalid(tmplPath.Child("metadata", "labels"), tmpl.Labels, "`selector` does not match template `labels`"))
		}
	}

	podSpecPath := tmplPath.Child("spec")
	if len(tmpl.Spec.Containers) == 0 {
		allErrs = append(allErrs, field.Required(podSpecPath.Child("containers"), "must have at least one container"))
	}
	seen := map[string]bool{}
	checkNames := func(containers []corev1.Container, path *field.Path) {
		for i, c := range containers {
			namePath := path.Index(i).Child("name")
			if c.Name == "" {
				allErrs = append(allErrs, field.Required(namePath, ""))
				continue
			}
			for _, msg := range content.IsDNS1123Label(c.Name) {
				allErrs = append(allErrs, field.Invalid(namePath, c.Name, msg))
			}
			if seen[c.Name] {
				allErrs = append(allErrs, field.Duplicate(namePath, c.Name))
			}
			seen[c.Name] = true
		}
	}
	checkNames(tmpl.Spec.InitContainers, podSpecPath.Child("initContainers"))
	checkNames(tmpl.Spec.Containers, podSpecPath.Child("containers"))
	return allErrs
}
