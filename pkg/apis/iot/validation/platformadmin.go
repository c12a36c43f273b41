package validation

import (
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/yurt-edge/yurt/pkg/apis/iot"
)

// PlatformEdgeX is the only IoT platform a PlatformAdmin can run.
const PlatformEdgeX = "edgex"

// ValidatePlatformAdmin checks a PlatformAdmin on creation.
func ValidatePlatformAdmin(admin *iot.PlatformAdmin) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMeta(&admin.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, validatePlatformAdminSpec(&admin.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidatePlatformAdminUpdate checks an update of a PlatformAdmin.
func ValidatePlatformAdminUpdate(newAdmin, oldAdmin *iot.PlatformAdmin) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(&newAdmin.ObjectMeta, &oldAdmin.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validatePlatformAdminSpec(&newAdmin.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidatePlatformAdminStatusUpdate checks an update of a PlatformAdmin's status.
func ValidatePlatformAdminStatusUpdate(newAdmin, oldAdmin *iot.PlatformAdmin) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(&newAdmin.ObjectMeta, &oldAdmin.ObjectMeta, field.NewPath("metadata"))
	status, fldPath := &newAdmin.Status, field.NewPath("status")
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(status.ReadyComponentNum), fldPath.Child("readyComponentNum"))...)
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(status.UnreadyComponentNum), fldPath.Child("unreadyComponentNum"))...)
	allErrs = append(allErrs, validateConditions(status.Conditions, fldPath.Child("conditions"))...)
	return allErrs
}

func validatePlatformAdminSpec(spec *iot.PlatformAdminSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	poolPath := fldPath.Child("poolName")
	if spec.PoolName == "" {
		allErrs = append(allErrs, field.Required(poolPath, "must name the node pool the platform runs in"))
	} else {
		allErrs = append(allErrs, validateNodePoolRef(spec.PoolName, poolPath)...)
	}
	switch spec.Platform {
	case PlatformEdgeX:
	case "":
		allErrs = append(allErrs, field.Required(fldPath.Child("platform"), "must be edgex"))
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("platform"), spec.Platform, []string{PlatformEdgeX}))
	}
	seen := map[string]bool{}
	for i, c := range spec.Components {
		namePath := fldPath.Child("components").Index(i).Child("name")
		if c.Name == "" {
			allErrs = append(allErrs, field.Required(namePath, ""))
		} else if seen[c.Name] {
			allErrs = append(allErrs, field.Duplicate(namePath, c.Name))
		}
		seen[c.Name] = true
	}
	return allErrs
}
