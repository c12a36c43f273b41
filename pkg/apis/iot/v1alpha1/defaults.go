package v1alpha1

import (
	iotv1alpha1 "github.com/yurt-edge/yurt/apis/iot/v1alpha1"
)

// SetDefaults_PlatformAdminSpec runs EdgeX unless told otherwise; it is the only platform.
func SetDefaults_PlatformAdminSpec(obj *iotv1alpha1.PlatformAdminSpec) {
	if obj.Platform == "" {
		obj.Platform = "edgex"
	}
}
