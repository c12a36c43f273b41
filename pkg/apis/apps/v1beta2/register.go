package v1beta2

import (
	"k8s.io/apimachinery/pkg/runtime"

	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	"github.com/yurt-edge/yurt/pkg/apis/fieldselector"
)

var (
	localSchemeBuilder = &appsv1beta2.SchemeBuilder
	// AddToScheme adds the v1beta2 types with their conversions and defaults to a scheme.
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
	return fieldselector.Register(scheme, appsv1beta2.SchemeGroupVersion.WithKind("NodePool"), "spec.type")
}
