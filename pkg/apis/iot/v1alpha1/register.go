package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime"

	iotv1alpha1 "github.com/yurt-edge/yurt/apis/iot/v1alpha1"
	"github.com/yurt-edge/yurt/pkg/apis/fieldselector"
)

var (
	localSchemeBuilder = &iotv1alpha1.SchemeBuilder
	// AddToScheme adds the v1alpha1 types with their conversions and defaults to a scheme.
	AddToScheme = localSchemeBuilder.AddToScheme
)

func init() {
	// The generated conversions register themselves in init; defaults are registered here.
	localSchemeBuilder.Register(addDefaultingFuncs, addFieldLabelConversions)
}

func addDefaultingFuncs(scheme *runtime.Scheme) error {
	return RegisterDefaults(scheme)
}

func addFieldLabelConversions(scheme *runtime.Scheme) error {
	gv := iotv1alpha1.SchemeGroupVersion
	for _, kind := range []string{"Device", "DeviceService", "DeviceProfile"} {
		if err := fieldselector.Register(scheme, gv.WithKind(kind), "spec.nodePool"); err != nil {
			return err
		}
	}
	return fieldselector.Register(scheme, gv.WithKind("PlatformAdmin"), "spec.poolName")
}
