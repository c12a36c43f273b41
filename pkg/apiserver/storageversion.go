package apiserver

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
	appsv1beta1 "github.com/yurt-edge/yurt/apis/apps/v1beta1"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	iotv1alpha1 "github.com/yurt-edge/yurt/apis/iot/v1alpha1"
)

// StorageVersions are the versions each kind is written to etcd in. A group's kinds do not
// all exist in one version (YurtAppSet is v1beta1 only, NodePool is stored as v1beta2), so
// the storage version is chosen per kind.
var StorageVersions = map[schema.GroupKind]schema.GroupVersion{
	{Group: appsv1beta2.SchemeGroupVersion.Group, Kind: "NodePool"}:        appsv1beta2.SchemeGroupVersion,
	{Group: appsv1beta1.SchemeGroupVersion.Group, Kind: "YurtAppSet"}:      appsv1beta1.SchemeGroupVersion,
	{Group: appsv1alpha1.SchemeGroupVersion.Group, Kind: "YurtAppDaemon"}:  appsv1alpha1.SchemeGroupVersion,
	{Group: appsv1alpha1.SchemeGroupVersion.Group, Kind: "ResponseFilter"}: appsv1alpha1.SchemeGroupVersion,
	{Group: iotv1alpha1.SchemeGroupVersion.Group, Kind: "Device"}:          iotv1alpha1.SchemeGroupVersion,
	{Group: iotv1alpha1.SchemeGroupVersion.Group, Kind: "DeviceService"}:   iotv1alpha1.SchemeGroupVersion,
	{Group: iotv1alpha1.SchemeGroupVersion.Group, Kind: "DeviceProfile"}:   iotv1alpha1.SchemeGroupVersion,
	{Group: iotv1alpha1.SchemeGroupVersion.Group, Kind: "PlatformAdmin"}:   iotv1alpha1.SchemeGroupVersion,
}

// kindVersioner picks the storage version of an object by its kind; lists use their items' version.
type kindVersioner map[schema.GroupKind]schema.GroupVersion

var _ runtime.GroupVersioner = kindVersioner{}

func (v kindVersioner) KindForGroupVersionKinds(kinds []schema.GroupVersionKind) (schema.GroupVersionKind, bool) {
	for _, kind := range kinds {
		gk := kind.GroupKind()
		if gv, ok := v[gk]; ok {
			return gv.WithKind(kind.Kind), true
		}
		if item, isList := strings.CutSuffix(kind.Kind, "List"); isList {
			if gv, ok := v[schema.GroupKind{Group: kind.Group, Kind: item}]; ok {
				return gv.WithKind(kind.Kind), true
			}
		}
	}
	return schema.GroupVersionKind{}, false
}

func (v kindVersioner) Identifier() string {
	parts := make([]string, 0, len(v))
	for gk, gv := range v {
		parts = append(parts, fmt.Sprintf("%s=%s", gk, gv))
	}
	sort.Strings(parts)
	return "yurt-storage:" + strings.Join(parts, ",")
}

// NewStorageVersioner returns the storage version chooser for StorageVersions.
func NewStorageVersioner() runtime.GroupVersioner { return kindVersioner(StorageVersions) }
