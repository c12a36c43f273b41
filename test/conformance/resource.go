package conformance

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Resource is a served resource and how to make valid objects of it.
type Resource struct {
	GVR        schema.GroupVersionResource
	Kind       string
	Namespaced bool
	// Sample returns a valid object named name.
	Sample func(name string) *unstructured.Unstructured
	// MutateSpec changes the spec validly.
	MutateSpec func(obj *unstructured.Unstructured)
	// MutateStatus changes the status in a way clients may write.
	MutateStatus func(obj *unstructured.Unstructured)
	// FieldSelector is a selector on a field beyond metadata that matches Sample's objects,
	// e.g. spec.type=Edge, or empty.
	FieldSelector string
	// Columns are the Table's priority-0 columns, lower case, comma-separated (OpenYurt's
	// printer columns where it has them).
	Columns string
}
