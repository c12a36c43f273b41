package validation

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	wellknown "github.com/yurt-edge/yurt/apis/apps"
	"github.com/yurt-edge/yurt/pkg/apis/apps"
	appsv1beta1 "github.com/yurt-edge/yurt/pkg/apis/apps/v1beta1"
)

var (
	supportedNodePoolTypes = []apps.NodePoolType{apps.Edge, apps.Cloud}

	supportedLeaderElectionStrategies = []apps.LeaderElectionStrategy{
		apps.ElectionStrategyRandom, apps.ElectionStrategyMark,
	}

	supportedTaintEffects = []corev1.TaintEffect{
		corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute,
	}

	// reservedPoolNodeLabels may not be in spec.labels: the pool's controller copies spec.labels
	// onto its nodes, and these labels bind a node to its pool or are managed by the node
	// webhook, which refuses to change them in place.
	reservedPoolNodeLabels = []string{
		wellknown.NodePoolLabel,
		wellknown.DesiredNodePoolLabel,
		wellknown.NodePoolHostNetworkLabel,
	}

	// reservedPoolNodeAnnotations may not be in spec.annotations: the pool's controller keeps
	// its own bookkeeping on the nodes there.
	reservedPoolNodeAnnotations = []string{
		wellknown.PreviousAttributesAnnotation,
	}
)

// ValidateNodePoolName checks a pool name. A pool is bound to its nodes through the node label
// apps.openyurt.io/nodepool=<pool>, so besides being a DNS subdomain the name must be a valid
// label value (at most 63 characters).
func ValidateNodePoolName(name string, prefix bool) []string {
	msgs := apivalidation.NameIsDNSSubdomain(name, prefix)
	if len(msgs) == 0 && !prefix {
		msgs = append(msgs, content.IsLabelValue(name)...)
	}
	return msgs
}

// ValidateNodePool checks a NodePool on creation.
func ValidateNodePool(pool *apps.NodePool) field.ErrorList {
	metaPath := field.NewPath("metadata")
	allErrs := apivalidation.ValidateObjectMeta(&pool.ObjectMeta, false, ValidateNodePoolName, metaPath)
	allErrs = append(allErrs, validateNodePoolAnnotations(pool.Annotations, metaPath.Child("annotations"))...)
	allErrs = append(allErrs, validateNodePoolSpec(&pool.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateNodePoolUpdate checks an update of a NodePool: the new pool must be valid, and its
// type, hostNetwork and interConnectivity cannot change.
func ValidateNodePoolUpdate(newPool, oldPool *apps.NodePool) field.ErrorList {
	metaPath := field.NewPath("metadata")
	allErrs := apivalidation.ValidateObjectMetaUpdate(&newPool.ObjectMeta, &oldPool.ObjectMeta, metaPath)
	allErrs = append(allErrs, validateNodePoolAnnotations(newPool.Annotations, metaPath.Child("annotations"))...)
	specPath := field.NewPath("spec")
	allErrs = append(allErrs, validateNodePoolSpec(&newPool.Spec, specPath)...)
	allErrs = append(allErrs, apivalidation.ValidateImmutableField(newPool.Spec.Type, oldPool.Spec.Type, specPath.Child("type"))...)
	allErrs = append(allErrs, apivalidation.ValidateImmutableField(newPool.Spec.HostNetwork, oldPool.Spec.HostNetwork, specPath.Child("hostNetwork"))...)
	allErrs = append(allErrs, apivalidation.ValidateImmutableField(newPool.Spec.InterConnectivity, oldPool.Spec.InterConnectivity, specPath.Child("interConnectivity"))...)
	return allErrs
}

// ValidateNodePoolStatusUpdate checks an update of a NodePool's status.
func ValidateNodePoolStatusUpdate(newPool, oldPool *apps.NodePool) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(&newPool.ObjectMeta, &oldPool.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateNodePoolStatus(&newPool.Status, field.NewPath("status"))...)
	return allErrs
}

// validateNodePoolAnnotations rejects the annotation that carries v1beta2-only fields through
// v1beta1. Conversion from v1beta1 always removes it, so an internal pool only has it when a
// v1beta2 client wrote it by hand; storing it would make the pool read back differently
// through v1beta1, or not at all.
func validateNodePoolAnnotations(annotations map[string]string, fldPath *field.Path) field.ErrorList {
	if _, ok := annotations[appsv1beta1.V1beta2SpecAnnotation]; ok {
		return field.ErrorList{field.Forbidden(fldPath.Key(appsv1beta1.V1beta2SpecAnnotation),
			"is reserved for the conversion of NodePools to apps.openyurt.io/v1beta1")}
	}
	return nil
}

func validateNodePoolSpec(spec *apps.NodePoolSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList

	switch {
	case spec.Type == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("type"), "must be Edge or Cloud"))
	case !slices.Contains(supportedNodePoolTypes, spec.Type):
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), spec.Type, supportedNodePoolTypes))
	}
	if spec.Type == apps.Cloud && spec.HostNetwork {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("hostNetwork"), spec.HostNetwork, "must be false for a Cloud pool"))
	}

	labelsPath := fldPath.Child("labels")
	allErrs = append(allErrs, metav1validation.ValidateLabels(spec.Labels, labelsPath)...)
	for _, key := range reservedPoolNodeLabels {
		if _, ok := spec.Labels[key]; ok {
			allErrs = append(allErrs, field.Forbidden(labelsPath.Key(key), "is managed by yurt and may not be set through a pool"))
		}
	}
	annotationsPath := fldPath.Child("annotations")
	allErrs = append(allErrs, apivalidation.ValidateAnnotations(spec.Annotations, annotationsPath)...)
	for _, key := range reservedPoolNodeAnnotations {
		if _, ok := spec.Annotations[key]; ok {
			allErrs = append(allErrs, field.Forbidden(annotationsPath.Key(key), "is managed by yurt and may not be set through a pool"))
		}
	}
	allErrs = append(allErrs, validateTaints(spec.Taints, fldPath.Child("taints"))...)

	// An empty strategy is tolerated and means random: defaulting always sets one, but an
	// internal pool converted from an explicit v1beta1 annotation may lack it.
	if spec.LeaderElectionStrategy != "" && !slices.Contains(supportedLeaderElectionStrategies, spec.LeaderElectionStrategy) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("leaderElectionStrategy"), spec.LeaderElectionStrategy, supportedLeaderElectionStrategies))
	}
	replicasPath := fldPath.Child("leaderReplicas")
	switch {
	case spec.LeaderReplicas < 0:
		allErrs = append(allErrs, field.Invalid(replicasPath, spec.LeaderReplicas, "must be greater than or equal to 0"))
	case spec.LeaderReplicas == 0 && spec.EnableLeaderElection:
		allErrs = append(allErrs, field.Invalid(replicasPath, spec.LeaderReplicas, "must be at least 1 when enableLeaderElection is true"))
	}
	allErrs = append(allErrs, metav1validation.ValidateLabels(spec.LeaderNodeLabelSelector, fldPath.Child("leaderNodeLabelSelector"))...)
	allErrs = append(allErrs, validatePoolScopeMetadata(spec.PoolScopeMetadata, fldPath.Child("poolScopeMetadata"))...)
	return allErrs
}

func validateTaints(taints []corev1.Taint, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	type keyEffect struct {
		key    string
		effect corev1.TaintEffect
	}
	seen := map[keyEffect]bool{}
	for i, taint := range taints {
		idxPath := fldPath.Index(i)
		if taint.Key == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("key"), ""))
		} else {
			allErrs = append(allErrs, metav1validation.ValidateLabelName(taint.Key, idxPath.Child("key"))...)
		}
		for _, msg := range content.IsLabelValue(taint.Value) {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("value"), taint.Value, msg))
		}
		switch {
		case taint.Effect == "":
			allErrs = append(allErrs, field.Required(idxPath.Child("effect"), ""))
		case !slices.Contains(supportedTaintEffects, taint.Effect):
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("effect"), taint.Effect, supportedTaintEffects))
		}
		// Nodes match taints by key and effect, so two with the same pair would fight.
		ke := keyEffect{taint.Key, taint.Effect}
		if seen[ke] {
			allErrs = append(allErrs, field.Duplicate(idxPath, fmt.Sprintf("%s:%s", taint.Key, taint.Effect)))
		}
		seen[ke] = true
	}
	return allErrs
}

func validatePoolScopeMetadata(gvrs []metav1.GroupVersionResource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := map[metav1.GroupVersionResource]bool{}
	for i, gvr := range gvrs {
		idxPath := fldPath.Index(i)
		if gvr.Group != "" {
			for _, msg := range content.IsDNS1123Subdomain(gvr.Group) {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("group"), gvr.Group, msg))
			}
		}
		if gvr.Version == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("version"), ""))
		} else {
			for _, msg := range content.IsDNS1123Label(gvr.Version) {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("version"), gvr.Version, msg))
			}
		}
		if gvr.Resource == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("resource"), ""))
		} else {
			for _, msg := range content.IsDNS1123Label(gvr.Resource) {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("resource"), gvr.Resource, msg))
			}
		}
		if seen[gvr] {
			allErrs = append(allErrs, field.Duplicate(idxPath, gvrString(gvr)))
		}
		seen[gvr] = true
	}
	return allErrs
}

func gvrString(gvr metav1.GroupVersionResource) string {
	return strings.Join([]string{gvr.Group, gvr.Version, gvr.Resource}, "/")
}

func validateNodePoolStatus(status *apps.NodePoolStatus, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(status.ReadyNodeNum), fldPath.Child("readyNodeNum"))...)
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(status.UnreadyNodeNum), fldPath.Child("unreadyNodeNum"))...)
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(status.LeaderNum), fldPath.Child("leaderNum"))...)
	for i, leader := range status.LeaderEndpoints {
		if leader.NodeName == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("leaderEndpoints").Index(i).Child("nodeName"), ""))
		}
	}
	seen := map[apps.NodePoolConditionType]bool{}
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
