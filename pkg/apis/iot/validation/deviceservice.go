package validation

import (
	"net/url"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/yurt-edge/yurt/pkg/apis/iot"
)

// ValidateDeviceService checks a DeviceService on creation.
func ValidateDeviceService(service *iot.DeviceService) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMeta(&service.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, validateDeviceServiceSpec(&service.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateDeviceServiceUpdate checks an update of a DeviceService.
func ValidateDeviceServiceUpdate(newService, oldService *iot.DeviceService) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(&newService.ObjectMeta, &oldService.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateDeviceServiceSpec(&newService.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateDeviceServiceStatusUpdate checks an update of a DeviceService's status.
func ValidateDeviceServiceStatusUpdate(newService, oldService *iot.DeviceService) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(&newService.ObjectMeta, &oldService.ObjectMeta, field.NewPath("metadata"))
	status, fldPath := &newService.Status, field.NewPath("status")
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(status.LastConnected, fldPath.Child("lastConnected"))...)
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(status.LastReported, fldPath.Child("lastReported"))...)
	allErrs = append(allErrs, validateAdminState(status.AdminState, fldPath.Child("adminState"))...)
	allErrs = append(allErrs, validateConditions(status.Conditions, fldPath.Child("conditions"))...)
	return allErrs
}

func validateDeviceServiceSpec(spec *iot.DeviceServiceSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	allErrs = append(allErrs, validateAdminState(spec.AdminState, fldPath.Child("adminState"))...)
	allErrs = append(allErrs, validateBaseAddress(spec.BaseAddress, fldPath.Child("baseAddress"))...)
	allErrs = append(allErrs, validateNodePoolRef(spec.NodePool, fldPath.Child("nodePool"))...)
	return allErrs
}

// validateBaseAddress requires an absolute URL with a scheme and a host, such as
// http://edgex-device-virtual:59900, which is what the edge platform dials.
func validateBaseAddress(address string, fldPath *field.Path) field.ErrorList {
	if address == "" {
		return field.ErrorList{field.Required(fldPath, "must be the service's URL, e.g. http://device-virtual:59900")}
	}
	u, err := url.Parse(address)
	switch {
	case err != nil:
		return field.ErrorList{field.Invalid(fldPath, address, "must be a URL: "+err.Error())}
	case u.Scheme == "" || u.Host == "":
		return field.ErrorList{field.Invalid(fldPath, address, "must be an absolute URL with a scheme and a host, e.g. http://device-virtual:59900")}
	}
	return nil
}
