package validation

import (
	"slices"
	"sort"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	appsvalidation "github.com/yurt-edge/yurt/pkg/apis/apps/validation"
	"github.com/yurt-edge/yurt/pkg/apis/iot"
)

var (
	supportedAdminStates     = []iot.AdminState{iot.Locked, iot.UnLocked}
	supportedOperatingStates = []iot.OperatingState{iot.Unknown, iot.Up, iot.Down}
)

// ValidateDevice checks a Device on creation.
func ValidateDevice(device *iot.Device) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMeta(&device.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, validateDeviceSpec(&device.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateDeviceUpdate checks an update of a Device.
func ValidateDeviceUpdate(newDevice, oldDevice *iot.Device) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(&newDevice.ObjectMeta, &oldDevice.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateDeviceSpec(&newDevice.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateDeviceStatusUpdate checks an update of a Device's status.
func ValidateDeviceStatusUpdate(newDevice, oldDevice *iot.Device) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(&newDevice.ObjectMeta, &oldDevice.ObjectMeta, field.NewPath("metadata"))
	status, fldPath := &newDevice.Status, field.NewPath("status")
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(status.LastConnected, fldPath.Child("lastConnected"))...)
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(status.LastReported, fldPath.Child("lastReported"))...)
	allErrs = append(allErrs, validateAdminState(status.AdminState, fldPath.Child("adminState"))...)
	allErrs = append(allErrs, validateOperatingState(status.OperatingState, fldPath.Child("operatingState"))...)
	for _, key := range sortedKeys(status.DeviceProperties) {
		if key == "" {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("deviceProperties"), key, "property names must not be empty"))
		}
	}
	allErrs = append(allErrs, validateConditions(status.Conditions, fldPath.Child("conditions"))...)
	return allErrs
}

func validateDeviceSpec(spec *iot.DeviceSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	allErrs = append(allErrs, validateAdminState(spec.AdminState, fldPath.Child("adminState"))...)
	allErrs = append(allErrs, validateOperatingState(spec.OperatingState, fldPath.Child("operatingState"))...)
	if spec.ServiceName == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("serviceName"), "must name the DeviceService that drives the device"))
	}
	if spec.ProfileName == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("profileName"), "must name the DeviceProfile of the device"))
	}
	allErrs = append(allErrs, validateNodePoolRef(spec.NodePool, fldPath.Child("nodePool"))...)
	for _, key := range sortedKeys(spec.Protocols) {
		if key == "" {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("protocols"), key, "protocol names must not be empty"))
		}
	}
	propsPath := fldPath.Child("deviceProperties")
	for _, key := range sortedKeys(spec.DeviceProperties) {
		if key == "" {
			allErrs = append(allErrs, field.Invalid(propsPath, key, "property names must not be empty"))
			continue
		}
		if spec.DeviceProperties[key].Name == "" {
			allErrs = append(allErrs, field.Required(propsPath.Key(key).Child("name"), ""))
		}
	}
	return allErrs
}

// validateAdminState accepts an empty state, which leaves the choice to the edge platform.
func validateAdminState(state iot.AdminState, fldPath *field.Path) field.ErrorList {
	if state != "" && !slices.Contains(supportedAdminStates, state) {
		return field.ErrorList{field.NotSupported(fldPath, state, supportedAdminStates)}
	}
	return nil
}

// validateOperatingState accepts an empty state, which leaves the choice to the edge platform.
func validateOperatingState(state iot.OperatingState, fldPath *field.Path) field.ErrorList {
	if state != "" && !slices.Contains(supportedOperatingStates, state) {
		return field.ErrorList{field.NotSupported(fldPath, state, supportedOperatingStates)}
	}
	return nil
}

// validateNodePoolRef checks an optional reference to a node pool by name.
func validateNodePoolRef(pool string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if pool == "" {
		return nil
	}
	for _, msg := range appsvalidation.ValidateNodePoolName(pool, false) {
		allErrs = append(allErrs, field.Invalid(fldPath, pool, msg))
	}
	return allErrs
}

// validateConditions checks that every condition has a type and no type appears twice.
func validateConditions(conditions []iot.Condition, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := map[string]bool{}
	for i, cond := range conditions {
		typePath := fldPath.Index(i).Child("type")
		if cond.Type == "" {
			allErrs = append(allErrs, field.Required(typePath, ""))
		} else if seen[cond.Type] {
			allErrs = append(allErrs, field.Duplicate(typePath, cond.Type))
		}
		seen[cond.Type] = true
	}
	return allErrs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
