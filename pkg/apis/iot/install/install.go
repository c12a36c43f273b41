// Package install adds every version of iot.openyurt.io to a scheme.
package install

import (
	"k8s.io/apimachinery/pkg/runtime"

	iotv1alpha1 "github.com/yurt-edge/yurt/apis/iot/v1alpha1"
	"github.com/yurt-edge/yurt/pkg/apis/iot"
	"github.com/yurt-edge/yurt/pkg/apis/iot/v1alpha1"
)

// Install registers the group's internal and versioned types.
func Install(scheme *runtime.Scheme) error {
	if err := iot.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	return scheme.SetVersionPriority(iotv1alpha1.SchemeGroupVersion)
}
