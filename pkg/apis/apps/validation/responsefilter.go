package validation

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/yurt-edge/yurt/pkg/apis/apps"
)

const (
	// MaxExpressionLength is the longest CEL expression a ResponseFilter may hold, in bytes.
	MaxExpressionLength = 5000
	// MaxFilterListItems bounds the number of match conditions, variables and mutations of a
	// ResponseFilter, and the number of user agents and resource rules it matches.
	MaxFilterListItems = 64
	// MaxUserAgentLength is the longest user agent a ResponseFilter may match, in bytes.
	MaxUserAgentLength = 256
)

var (
	supportedFailurePolicies = []apps.FailurePolicyType{apps.Ignore, apps.Fail}
	supportedFilterVerbs     = []string{"get", "list", "watch", "*"}
	supportedPatchTypes      = []apps.PatchType{apps.PatchTypeApplyConfiguration, apps.PatchTypeJSONPatch}
)

// ValidateResponseFilter checks a ResponseFilter on creation. It checks the filter's structure
// only; its CEL expressions are compiled elsewhere.
func ValidateResponseFilter(filter *apps.ResponseFilter) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMeta(&filter.ObjectMeta, false, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, validateResponseFilterSpec(&filter.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateResponseFilterUpdate checks an update of a ResponseFilter.
func ValidateResponseFilterUpdate(newFilter, oldFilter *apps.ResponseFilter) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(&newFilter.ObjectMeta, &oldFilter.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateResponseFilterSpec(&newFilter.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateResponseFilterStatusUpdate checks an update of a ResponseFilter's status.
func ValidateResponseFilterStatusUpdate(newFilter, oldFilter *apps.ResponseFilter) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(&newFilter.ObjectMeta, &oldFilter.ObjectMeta, field.NewPath("metadata"))
	fldPath := field.NewPath("status")
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(newFilter.Status.ObservedGeneration, fldPath.Child("observedGeneration"))...)
	allErrs = append(allErrs, metav1validation.ValidateConditions(newFilter.Status.Conditions, fldPath.Child("conditions"))...)
	return allErrs
}

func validateResponseFilterSpec(spec *apps.ResponseFilterSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList

	// A missing policy is tolerated and means Fail, the default.
	if spec.FailurePolicy != nil && !slices.Contains(supportedFailurePolicies, *spec.FailurePolicy) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("failurePolicy"), *spec.FailurePolicy, supportedFailurePolicies))
	}
	allErrs = append(allErrs, validateMatchResources(&spec.Match, fldPath.Child("match"))...)

	conditionsPath := fldPath.Child("matchConditions")
	if len(spec.MatchConditions) > MaxFilterListItems {
		allErrs = append(allErrs, field.TooMany(conditionsPath, len(spec.MatchConditions), MaxFilterListItems))
	}
	seenConditions := map[string]bool{}
	for i, cond := range spec.MatchConditions {
		idxPath := conditionsPath.Index(i)
		namePath := idxPath.Child("name")
		if cond.Name == "" {
			allErrs = append(allErrs, field.Required(namePath, ""))
		} else {
			for _, msg := range content.IsLabelKey(cond.Name) {
				allErrs = append(allErrs, field.Invalid(namePath, cond.Name, msg))
			}
			if seenConditions[cond.Name] {
				allErrs = append(allErrs, field.Duplicate(namePath, cond.Name))
			}
			seenConditions[cond.Name] = true
		}
		allErrs = append(allErrs, validateExpression(cond.Expression, idxPath.Child("expression"))...)
	}

	variablesPath := fldPath.Child("variables")
	if len(spec.Variables) > MaxFilterListItems {
		allErrs = append(allErrs, field.TooMany(variablesPath, len(spec.Variables), MaxFilterListItems))
	}
	seenVariables := map[string]bool{}
	for i, v := range spec.Variables {
		idxPath := variablesPath.Index(i)
		namePath := idxPath.Child("name")
		if v.Name == "" {
			allErrs = append(allErrs, field.Required(namePath, ""))
		} else {
			// Variables are referenced as variables.<name> in CEL.
			for _, msg := range content.IsCIdentifier(v.Name) {
				allErrs = append(allErrs, field.Invalid(namePath, v.Name, msg))
			}
			if seenVariables[v.Name] {
				allErrs = append(allErrs, field.Duplicate(namePath, v.Name))
			}
			seenVariables[v.Name] = true
		}
		allErrs = append(allErrs, validateExpression(v.Expression, idxPath.Child("expression"))...)
	}

	if spec.Keep == "" && len(spec.Mutations) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("keep"), "at least one of keep or mutations must be set"))
	}
	if spec.Keep != "" {
		allErrs = append(allErrs, validateExpression(spec.Keep, fldPath.Child("keep"))...)
	}

	mutationsPath := fldPath.Child("mutations")
	if len(spec.Mutations) > MaxFilterListItems {
		allErrs = append(allErrs, field.TooMany(mutationsPath, len(spec.Mutations), MaxFilterListItems))
	}
	for i := range spec.Mutations {
		allErrs = append(allErrs, validateMutation(&spec.Mutations[i], mutationsPath.Index(i))...)
	}
	return allErrs
}

func validateMatchResources(match *apps.MatchResources, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList

	agentsPath := fldPath.Child("userAgents")
	switch {
	case len(match.UserAgents) == 0:
		allErrs = append(allErrs, field.Required(agentsPath, `must list at least one user agent, or "*"`))
	case len(match.UserAgents) > MaxFilterListItems:
		allErrs = append(allErrs, field.TooMany(agentsPath, len(match.UserAgents), MaxFilterListItems))
	}
	seenAgents := map[string]bool{}
	for i, agent := range match.UserAgents {
		idxPath := agentsPath.Index(i)
		switch {
		case agent == "":
			allErrs = append(allErrs, field.Required(idxPath, ""))
		case len(agent) > MaxUserAgentLength:
			allErrs = append(allErrs, field.TooLong(idxPath, "", MaxUserAgentLength))
		case seenAgents[agent]:
			allErrs = append(allErrs, field.Duplicate(idxPath, agent))
		}
		seenAgents[agent] = true
	}

	rulesPath := fldPath.Child("resources")
	switch {
	case len(match.Resources) == 0:
		allErrs = append(allErrs, field.Required(rulesPath, "must list at least one resource rule"))
	case len(match.Resources) > MaxFilterListItems:
		allErrs = append(allErrs, field.TooMany(rulesPath, len(match.Resources), MaxFilterListItems))
	}
	for i := range match.Resources {
		allErrs = append(allErrs, validateResourceRule(&match.Resources[i], rulesPath.Index(i))...)
	}
	return allErrs
}

func validateResourceRule(rule *apps.ResourceRule, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if rule.Group != "" {
		for _, msg := range content.IsDNS1123Subdomain(rule.Group) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("group"), rule.Group, msg))
		}
	}

	resourcesPath := fldPath.Child("resources")
	if len(rule.Resources) == 0 {
		allErrs = append(allErrs, field.Required(resourcesPath, `must list at least one resource, or "*"`))
	}
	seenResources := map[string]bool{}
	for i, resource := range rule.Resources {
		idxPath := resourcesPath.Index(i)
		switch {
		case resource == "":
			allErrs = append(allErrs, field.Required(idxPath, ""))
		case resource == "*":
		default:
			for _, msg := range content.IsDNS1123Label(resource) {
				allErrs = append(allErrs, field.Invalid(idxPath, resource, msg))
			}
		}
		if seenResources[resource] {
			allErrs = append(allErrs, field.Duplicate(idxPath, resource))
		}
		seenResources[resource] = true
	}

	verbsPath := fldPath.Child("verbs")
	if len(rule.Verbs) == 0 {
		allErrs = append(allErrs, field.Required(verbsPath, `must list at least one of get, list, watch, or "*"`))
	}
	seenVerbs := map[string]bool{}
	for i, verb := range rule.Verbs {
		idxPath := verbsPath.Index(i)
		switch {
		case verb == "":
			allErrs = append(allErrs, field.Required(idxPath, ""))
		case !slices.Contains(supportedFilterVerbs, verb):
			allErrs = append(allErrs, field.NotSupported(idxPath, verb, supportedFilterVerbs))
		case seenVerbs[verb]:
			allErrs = append(allErrs, field.Duplicate(idxPath, verb))
		}
		seenVerbs[verb] = true
	}
	return allErrs
}

func validateMutation(m *apps.Mutation, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	applyPath, jsonPatchPath := fldPath.Child("applyConfiguration"), fldPath.Child("jsonPatch")
	switch m.PatchType {
	case "":
		allErrs = append(allErrs, field.Required(fldPath.Child("patchType"), ""))
	case apps.PatchTypeApplyConfiguration:
		if m.ApplyConfiguration == nil {
			allErrs = append(allErrs, field.Required(applyPath, "must be set when patchType is ApplyConfiguration"))
		}
		if m.JSONPatch != nil {
			allErrs = append(allErrs, field.Forbidden(jsonPatchPath, "must not be set when patchType is ApplyConfiguration"))
		}
	case apps.PatchTypeJSONPatch:
		if m.JSONPatch == nil {
			allErrs = append(allErrs, field.Required(jsonPatchPath, "must be set when patchType is JSONPatch"))
		}
		if m.ApplyConfiguration != nil {
			allErrs = append(allErrs, field.Forbidden(applyPath, "must not be set when patchType is JSONPatch"))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("patchType"), m.PatchType, supportedPatchTypes))
	}
	if m.ApplyConfiguration != nil {
		allErrs = append(allErrs, validateExpression(m.ApplyConfiguration.Expression, applyPath.Child("expression"))...)
	}
	if m.JSONPatch != nil {
		allErrs = append(allErrs, validateExpression(m.JSONPatch.Expression, jsonPatchPath.Child("expression"))...)
	}
	return allErrs
}

func validateExpression(expr string, fldPath *field.Path) field.ErrorList {
	switch {
	case strings.TrimSpace(expr) == "":
		return field.ErrorList{field.Required(fldPath, "must be a CEL expression")}
	case len(expr) > MaxExpressionLength:
		return field.ErrorList{field.TooLong(fldPath, "", MaxExpressionLength)}
	}
	return nil
}
