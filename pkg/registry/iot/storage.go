// Package iot builds the storage of the iot.openyurt.io resources.
package iot

import (
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/yurt-edge/yurt/pkg/apis/iot"
	"github.com/yurt-edge/yurt/pkg/apis/iot/validation"
	"github.com/yurt-edge/yurt/pkg/printers"
	"github.com/yurt-edge/yurt/pkg/registry/resource"
)

// nodePoolField lets clients select objects by the pool they belong to
// (--field-selector spec.nodePool=hangzhou).
func nodePoolField(pool string) fields.Set { return fields.Set{"spec.nodePool": pool} }

// NewDeviceStorage builds the storage of devices.
func NewDeviceStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, versions []schema.GroupVersion) (*resource.Storage, error) {
	return resource.NewStorage(scheme, optsGetter, &resource.Definition[*iot.Device]{
		Resource:             iot.Resource("devices"),
		Singular:             "device",
		Kind:                 "Device",
		Namespaced:           true,
		ShortNames:           []string{"dev"},
		Categories:           []string{"yurt"},
		Versions:             versions,
		New:                  func() *iot.Device { return &iot.Device{} },
		NewList:              func() runtime.Object { return &iot.DeviceList{} },
		Validate:             validation.ValidateDevice,
		ValidateUpdate:       validation.ValidateDeviceUpdate,
		ValidateStatusUpdate: validation.ValidateDeviceStatusUpdate,
		Fields:               func(obj *iot.Device) fields.Set { return nodePoolField(obj.Spec.NodePool) },
		Table:                printers.NewDeviceTableConvertor(),
	})
}

// NewDeviceServiceStorage builds the storage of deviceservices.
func NewDeviceServiceStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, versions []schema.GroupVersion) (*resource.Storage, error) {
	return resource.NewStorage(scheme, optsGetter, &resource.Definition[*iot.DeviceService]{
		Resource:             iot.Resource("deviceservices"),
		Singular:             "deviceservice",
		Kind:                 "DeviceService",
		Namespaced:           true,
		ShortNames:           []string{"dsvc"},
		Categories:           []string{"yurt"},
		Versions:             versions,
		New:                  func() *iot.DeviceService { return &iot.DeviceService{} },
		NewList:              func() runtime.Object { return &iot.DeviceServiceList{} },
		Validate:             validation.ValidateDeviceService,
		ValidateUpdate:       validation.ValidateDeviceServiceUpdate,
		ValidateStatusUpdate: validation.ValidateDeviceServiceStatusUpdate,
		Fields:               func(obj *iot.DeviceService) fields.Set { return nodePoolField(obj.Spec.NodePool) },
		Table:                printers.NewDeviceServiceTableConvertor(),
	})
}

// NewDeviceProfileStorage builds the storage of deviceprofiles.
func NewDeviceProfileStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, versions []schema.GroupVersion) (*resource.Storage, error) {
	return resource.NewStorage(scheme, optsGetter, &resource.Definition[*iot.DeviceProfile]{
		Resource:             iot.Resource("deviceprofiles"),
		Singular:             "deviceprofile",
		Kind:                 "DeviceProfile",
		Namespaced:           true,
		ShortNames:           []string{"dp"},
		Categories:           []string{"yurt"},
		Versions:             versions,
		New:                  func() *iot.DeviceProfile { return &iot.DeviceProfile{} },
		NewList:              func() runtime.Object { return &iot.DeviceProfileList{} },
		Validate:             validation.ValidateDeviceProfile,
		ValidateUpdate:       validation.ValidateDeviceProfileUpdate,
		ValidateStatusUpdate: validation.ValidateDeviceProfileStatusUpdate,
		Fields:               func(obj *iot.DeviceProfile) fields.Set { return nodePoolField(obj.Spec.NodePool) },
		Table:                printers.NewDeviceProfileTableConvertor(),
	})
}

// NewPlatformAdminStorage builds the storage of platformadmins.
func NewPlatformAdminStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, versions []schema.GroupVersion) (*resource.Storage, error) {
	return resource.NewStorage(scheme, optsGetter, &resource.Definition[*iot.PlatformAdmin]{
		Resource:             iot.Resource("platformadmins"),
		Singular:             "platformadmin",
		Kind:                 "PlatformAdmin",
		Namespaced:           true,
		ShortNames:           []string{"pa"},
		Categories:           []string{"yurt"},
		Versions:             versions,
		New:                  func() *iot.PlatformAdmin { return &iot.PlatformAdmin{} },
		NewList:              func() runtime.Object { return &iot.PlatformAdminList{} },
		Validate:             validation.ValidatePlatformAdmin,
		ValidateUpdate:       validation.ValidatePlatformAdminUpdate,
		ValidateStatusUpdate: validation.ValidatePlatformAdminStatusUpdate,
		Fields:               func(obj *iot.PlatformAdmin) fields.Set { return fields.Set{"spec.poolName": obj.Spec.PoolName} },
		Table:                printers.NewPlatformAdminTableConvertor(),
	})
}
