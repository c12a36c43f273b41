package resource

import (
	"context"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Definition describes one resource of type T (a pointer to an internal type with Spec and
// Status fields) and its list type.
type Definition[T runtime.Object] struct {
	// Resource is the plural group-qualified resource, e.g. nodepools.apps.openyurt.io.
	Resource schema.GroupResource
	// Singular is the singular resource name, e.g. nodepool.
	Singular string
	// Kind is the kind, used in error messages.
	Kind string
	// Namespaced says whether objects live in namespaces.
	Namespaced bool
	// ShortNames and Categories are shown in discovery, for kubectl.
	ShortNames []string
	Categories []string
	// Versions are the served group versions; the reset fields are declared for each.
	Versions []schema.GroupVersion

	New     func() T
	NewList func() runtime.Object

	Validate             func(obj T) field.ErrorList
	ValidateUpdate       func(obj, old T) field.ErrorList
	ValidateStatusUpdate func(obj, old T) field.ErrorList
	// ValidateServerStatusUpdate, when set, validates the server's own status writes (through
	// Storage.ServerStatus) instead of ValidateStatusUpdate, for status fields that only the
	// server may set.
	ValidateServerStatusUpdate func(obj, old T) field.ErrorList

	// Fields returns the resource's selectable fields beyond metadata.name and metadata.namespace.
	Fields func(obj T) fields.Set

	// PrepareForCreate, when set, runs after the status has been cleared, e.g. to fill a
	// status the server derives itself.
	PrepareForCreate func(ctx context.Context, obj T)

	Table rest.TableConvertor
}
