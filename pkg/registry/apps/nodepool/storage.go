package nodepool

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	corelisters "k8s.io/client-go/listers/core/v1"

	appsapi "github.com/yurt-edge/yurt/apis/apps"
	"github.com/yurt-edge/yurt/pkg/apis/apps"
	"github.com/yurt-edge/yurt/pkg/apis/apps/validation"
	"github.com/yurt-edge/yurt/pkg/printers"
	"github.com/yurt-edge/yurt/pkg/registry/resource"
)

// REST is the NodePool endpoint: the generic storage, plus a refusal to delete a pool that
// still has nodes.
type REST struct {
	*resource.REST
	nodes corelisters.NodeLister
}

var (
	_ rest.GracefulDeleter    = &REST{}
	_ rest.CollectionDeleter  = &REST{}
	_ rest.ShortNamesProvider = &REST{}
	_ rest.CategoriesProvider = &REST{}
)

// Storage is the NodePool endpoints and the store the status syncer writes through.
type Storage struct {
	NodePool     *REST
	Status       *resource.StatusREST
	serverStatus statusWriter
}

// NewStorage builds the NodePool storage. nodes lists the cluster's Nodes; it must be synced
// before the server serves (see the informer readiness check).
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, versions []schema.GroupVersion, nodes corelisters.NodeLister) (*Storage, error) {
	def := &resource.Definition[*apps.NodePool]{
		Resource:       apps.Resource("nodepools"),
		Singular:       "nodepool",
		Kind:           "NodePool",
		ShortNames:     []string{"np"},
		Categories:     []string{"yurt"},
		Versions:       versions,
		New:            func() *apps.NodePool { return &apps.NodePool{} },
		NewList:        func() runtime.Object { return &apps.NodePoolList{} },
		Validate:       validation.ValidateNodePool,
		ValidateUpdate: validation.ValidateNodePoolUpdate,
		ValidateStatusUpdate: func(obj, old *apps.NodePool) field.ErrorList {
			return append(validation.ValidateNodePoolStatusUpdate(obj, old), forbidDerivedStatusChange(obj, old)...)
		},
		ValidateServerStatusUpdate: validation.ValidateNodePoolStatusUpdate,
		Fields: func(obj *apps.NodePool) fields.Set {
			return fields.Set{"spec.type": string(obj.Spec.Type)}
		},
		PrepareForCreate: func(ctx context.Context, pool *apps.NodePool) {
			// Start with the status the pool's existing Nodes give it; the syncer keeps it current.
			if d, err := deriveStatus(nodes, pool.Name); err == nil {
				d.apply(pool)
			}
		},
		Table: printers.NewNodePoolTableConvertor(),
	}
	s, err := resource.NewStorage(scheme, optsGetter, def)
	if err != nil {
		return nil, err
	}
	return &Storage{
		NodePool:     &REST{REST: s.REST, nodes: nodes},
		Status:       s.Status,
		serverStatus: s.ServerStatus,
	}, nil
}

// forbidDerivedStatusChange rejects client writes of the status fields the server derives.
func forbidDerivedStatusChange(obj, old *apps.NodePool) field.ErrorList {
	if equalDerived(&obj.Status, &old.Status) {
		return nil
	}
	return field.ErrorList{field.Forbidden(field.NewPath("status"),
		fmt.Sprintf("nodes, readyNodeNum and unreadyNodeNum are derived by yurt-apiserver from the Nodes labelled %s=%s and cannot be written", appsapi.NodePoolLabel, obj.Name))}
}

// Delete refuses to delete a pool whose label is still on nodes.
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	return r.REST.Delete(ctx, name, r.refuseIfNodes(deleteValidation), options)
}

// DeleteCollection refuses to delete any pool whose label is still on nodes.
func (r *REST) DeleteCollection(ctx context.Context, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions, listOptions *metainternalversion.ListOptions) (runtime.Object, error) {
	return r.REST.DeleteCollection(ctx, r.refuseIfNodes(deleteValidation), options, listOptions)
}

func (r *REST) refuseIfNodes(next rest.ValidateObjectFunc) rest.ValidateObjectFunc {
	return func(ctx context.Context, obj runtime.Object) error {
		pool, ok := obj.(*apps.NodePool)
		if !ok {
			return fmt.Errorf("not a NodePool: %T", obj)
		}
		d, err := deriveStatus(r.nodes, pool.Name)
		if err != nil {
			return apierrors.NewInternalError(fmt.Errorf("listing the nodes of pool %s: %w", pool.Name, err))
		}
		if len(d.nodes) > 0 {
			return apierrors.NewForbidden(apps.Resource("nodepools"), pool.Name, fmt.Errorf(
				"nodes %s still carry the label %s=%s; move them to another pool or remove the label first",
				strings.Join(d.nodes, ", "), appsapi.NodePoolLabel, pool.Name))
		}
		if next == nil {
			return nil
		}
		return next(ctx, obj)
	}
}
