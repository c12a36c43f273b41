package resource

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// REST is the storage of a resource's main endpoint.
type REST struct {
	*genericregistry.Store
	shortNames []string
	categories []string
}

var (
	_ rest.StandardStorage     = &REST{}
	_ rest.ShortNamesProvider  = &REST{}
	_ rest.CategoriesProvider  = &REST{}
	_ rest.ResetFieldsStrategy = &REST{}
)

// ShortNames are the resource's short names, for kubectl.
func (r *REST) ShortNames() []string { return r.shortNames }

// Categories are the resource's categories, for `kubectl get yurt`.
func (r *REST) Categories() []string { return r.categories }

// StatusREST is the storage of a resource's status subresource.
type StatusREST struct {
	store *genericregistry.Store
}

var (
	_ rest.Getter              = &StatusREST{}
	_ rest.Updater             = &StatusREST{}
	_ rest.Patcher             = &StatusREST{}
	_ rest.ResetFieldsStrategy = &StatusREST{}
	_ rest.TableConvertor      = &StatusREST{}
)

// New returns an empty object.
func (r *StatusREST) New() runtime.Object { return r.store.New() }

// Destroy does nothing: the main REST owns the storage.
func (r *StatusREST) Destroy() {}

// Get returns the object, status included.
func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update writes the status and leaves the spec alone.
func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	// The status of a missing object cannot be created.
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// GetResetFields says that status writes reset the spec.
func (r *StatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

// ConvertToTable shows the status endpoint like the main one.
func (r *StatusREST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}

// Storage is a resource's main and status endpoints, and a store for the server's own status
// writes (which may set fields users may not).
type Storage struct {
	REST   *REST
	Status *StatusREST
	// ServerStatus writes status on the server's own behalf; it is not served.
	ServerStatus *genericregistry.Store
}

// NewStorage builds the storage of a resource from its definition.
func NewStorage[T runtime.Object](scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, def *Definition[T]) (*Storage, error) {
	if def.Validate == nil || def.ValidateUpdate == nil || def.ValidateStatusUpdate == nil || def.Table == nil {
		return nil, fmt.Errorf("resource %s: validation and table are required", def.Resource)
	}
	s := newStrategy(scheme, def)
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return def.New() },
		NewListFunc:               def.NewList,
		PredicateFunc:             s.match,
		DefaultQualifiedResource:  def.Resource,
		SingularQualifiedResource: schema.GroupResource{Group: def.Resource.Group, Resource: def.Singular},
		CreateStrategy:            s,
		UpdateStrategy:            s,
		DeleteStrategy:            s,
		ResetFieldsStrategy:       s,
		TableConvertor:            def.Table,
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: s.getAttrs}); err != nil {
		return nil, fmt.Errorf("completing the storage of %s: %w", def.Resource, err)
	}
	// The status endpoint shares the storage (and so the watch) and swaps the strategy.
	statusStore := withStatusStrategy(store, statusStrategy[T]{strategy: s, validate: def.ValidateStatusUpdate})
	serverValidate := def.ValidateServerStatusUpdate
	if serverValidate == nil {
		serverValidate = def.ValidateStatusUpdate
	}
	return &Storage{
		REST:         &REST{Store: store, shortNames: def.ShortNames, categories: def.Categories},
		Status:       &StatusREST{store: statusStore},
		ServerStatus: withStatusStrategy(store, statusStrategy[T]{strategy: s, validate: serverValidate}),
	}, nil
}

// withStatusStrategy copies a store, sharing its storage and so its watchers, with a status
// update strategy.
func withStatusStrategy[T runtime.Object](store *genericregistry.Store, status statusStrategy[T]) *genericregistry.Store {
	copied := *store
	copied.UpdateStrategy = status
	copied.ResetFieldsStrategy = status
	return &copied
}
