package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
)

var (
	localSchemeBuilder = &appsv1alpha1.SchemeBuilder
	// AddToScheme adds the v1alpha1 types with their conversions and defaults to a scheme.
	AddToScheme = localSchemeBuilder.AddToScheme
)

func init() {
	// The generated conversions register themselves in init; defaults are registered here.
	localSchemeBuilder.Register(addDefaultingFuncs)
}

func addDefaultingFuncs(scheme *runtime.Scheme) error {
	return RegisterDefaults(scheme)
}
