package validation

import (
	"slices"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/yurt-edge/yurt/pkg/apis/iot"
)

var supportedReadWrite = []string{"R", "W", "RW"}

// ValidateDeviceProfile checks a DeviceProfile on creation.
func ValidateDeviceProfile(profile *iot.DeviceProfile) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMeta(&profile.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, validateDeviceProfileSpec(&profile.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateDeviceProfileUpdate checks an update of a DeviceProfile.
func ValidateDeviceProfileUpdate(newProfile, oldProfile *iot.DeviceProfile) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(&newProfile.ObjectMeta, &oldProfile.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateDeviceProfileSpec(&newProfile.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateDeviceProfileStatusUpdate checks an update of a DeviceProfile's status. The status
// holds only the platform id and whether it is synced, so only the metadata is checked.
func ValidateDeviceProfileStatusUpdate(newProfile, oldProfile *iot.DeviceProfile) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(&newProfile.ObjectMeta, &oldProfile.ObjectMeta, field.NewPath("metadata"))
}

func validateDeviceProfileSpec(spec *iot.DeviceProfileSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	allErrs = append(allErrs, validateNodePoolRef(spec.NodePool, fldPath.Child("nodePool"))...)

	resourcesPath := fldPath.Child("deviceResources")
	resources := map[string]bool{}
	for i, res := range spec.DeviceResources {
		idxPath := resourcesPath.Index(i)
		if res.Name == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("name"), ""))
		} else if resources[res.Name] {
			allErrs = append(allErrs, field.Duplicate(idxPath.Child("name"), res.Name))
		}
		resources[res.Name] = true
		allErrs = append(allErrs, validateReadWrite(res.Properties.ReadWrite, idxPath.Child("properties", "readWrite"))...)
	}

	commandsPath := fldPath.Child("deviceCommands")
	commands := map[string]bool{}
	for i, cmd := range spec.DeviceCommands {
		idxPath := commandsPath.Index(i)
		if cmd.Name == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("name"), ""))
		} else if commands[cmd.Name] {
			allErrs = append(allErrs, field.Duplicate(idxPath.Child("name"), cmd.Name))
		}
		commands[cmd.Name] = true
		allErrs = append(allErrs, validateReadWrite(cmd.ReadWrite, idxPath.Child("readWrite"))...)

		opsPath := idxPath.Child("resourceOperations")
		if len(cmd.ResourceOperations) == 0 {
			allErrs = append(allErrs, field.Required(opsPath, "a command must read or write at least one device resource"))
		}
		for j, op := range cmd.ResourceOperations {
			refPath := opsPath.Index(j).Child("deviceResource")
			switch {
			case op.DeviceResource == "":
				allErrs = append(allErrs, field.Required(refPath, ""))
			case !resources[op.DeviceResource]:
				allErrs = append(allErrs, field.NotFound(refPath, op.DeviceResource))
			}
		}
	}
	return allErrs
}

func validateReadWrite(rw string, fldPath *field.Path) field.ErrorList {
	switch {
	case rw == "":
		return field.ErrorList{field.Required(fldPath, "must be R, W or RW")}
	case !slices.Contains(supportedReadWrite, rw):
		return field.ErrorList{field.NotSupported(fldPath, rw, supportedReadWrite)}
	}
	return nil
}
