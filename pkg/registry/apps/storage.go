// Package apps builds the storage of the apps.openyurt.io resources other than NodePool,
// which has its own package for its server-owned status.
package apps

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/yurt-edge/yurt/pkg/apis/apps"
	"github.com/yurt-edge/yurt/pkg/apis/apps/validation"
	"github.com/yurt-edge/yurt/pkg/printers"
	"github.com/yurt-edge/yurt/pkg/registry/apps/responsefilter"
	"github.com/yurt-edge/yurt/pkg/registry/resource"
)

// NewYurtAppSetStorage builds the storage of yurtappsets.
func NewYurtAppSetStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, versions []schema.GroupVersion) (*resource.Storage, error) {
	return resource.NewStorage(scheme, optsGetter, &resource.Definition[*apps.YurtAppSet]{
		Resource:             apps.Resource("yurtappsets"),
		Singular:             "yurtappset",
		Kind:                 "YurtAppSet",
		Namespaced:           true,
		ShortNames:           []string{"yas"},
		Categories:           []string{"yurt"},
		Versions:             versions,
		New:                  func() *apps.YurtAppSet { return &apps.YurtAppSet{} },
		NewList:              func() runtime.Object { return &apps.YurtAppSetList{} },
		Validate:             validation.ValidateYurtAppSet,
		ValidateUpdate:       validation.ValidateYurtAppSetUpdate,
		ValidateStatusUpdate: validation.ValidateYurtAppSetStatusUpdate,
		Table:                printers.NewYurtAppSetTableConvertor(),
	})
}

// NewYurtAppDaemonStorage builds the storage of yurtappdaemons.
func NewYurtAppDaemonStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, versions []schema.GroupVersion) (*resource.Storage, error) {
	return resource.NewStorage(scheme, optsGetter, &resource.Definition[*apps.YurtAppDaemon]{
		Resource:             apps.Resource("yurtappdaemons"),
		Singular:             "yurtappdaemon",
		Kind:                 "YurtAppDaemon",
		Namespaced:           true,
		ShortNames:           []string{"yad"},
		Categories:           []string{"yurt"},
		Versions:             versions,
		New:                  func() *apps.YurtAppDaemon { return &apps.YurtAppDaemon{} },
		NewList:              func() runtime.Object { return &apps.YurtAppDaemonList{} },
		Validate:             validation.ValidateYurtAppDaemon,
		ValidateUpdate:       validation.ValidateYurtAppDaemonUpdate,
		ValidateStatusUpdate: validation.ValidateYurtAppDaemonStatusUpdate,
		Table:                printers.NewYurtAppDaemonTableConvertor(),
	})
}

// NewResponseFilterStorage builds the storage of responsefilters, which compiles their CEL
// expressions on every write.
func NewResponseFilterStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, versions []schema.GroupVersion) (*resource.Storage, error) {
	return responsefilter.NewStorage(scheme, optsGetter, versions)
}
