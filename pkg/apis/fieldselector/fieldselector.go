// Package fieldselector declares which fields of a kind clients may select on, for the
// scheme's field label conversion (what `kubectl get --field-selector` reaches).
package fieldselector

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Register lets clients select objects of kind gvk by metadata.name, metadata.namespace and
// the given fields.
func Register(scheme *runtime.Scheme, gvk schema.GroupVersionKind, fields ...string) error {
	allowed := append([]string{"metadata.name", "metadata.namespace"}, fields...)
	return scheme.AddFieldLabelConversionFunc(gvk, func(label, value string) (string, string, error) {
		if slices.Contains(allowed, label) {
			return label, value, nil
		}
		return "", "", fmt.Errorf("field label %q is not supported for %s; supported: %v", label, gvk.Kind, allowed)
	})
}
