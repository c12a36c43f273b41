// Package install adds every version of apps.openyurt.io to a scheme.
package install

import (
	"k8s.io/apimachinery/pkg/runtime"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
	appsv1beta1 "github.com/yurt-edge/yurt/apis/apps/v1beta1"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	"github.com/yurt-edge/yurt/pkg/apis/apps"
	"github.com/yurt-edge/yurt/pkg/apis/apps/v1alpha1"
	"github.com/yurt-edge/yurt/pkg/apis/apps/v1beta1"
	"github.com/yurt-edge/yurt/pkg/apis/apps/v1beta2"
)

// Install registers the group's internal and versioned types, with v1beta2 preferred.
func Install(scheme *runtime.Scheme) error {
	for _, add := range []func(*runtime.Scheme) error{
		apps.AddToScheme, v1beta2.AddToScheme, v1beta1.AddToScheme, v1alpha1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			return err
		}
	}
	return scheme.SetVersionPriority(appsv1beta2.SchemeGroupVersion,
		appsv1beta1.SchemeGroupVersion, appsv1alpha1.SchemeGroupVersion)
}
