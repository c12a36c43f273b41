package apiserver

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestStorageVersioner(t *testing.T) {
	v := NewStorageVersioner()
	tests := []struct {
		in   schema.GroupVersionKind
		want string
		ok   bool
	}{
		{schema.GroupVersionKind{Group: "apps.openyurt.io", Version: "__internal", Kind: "NodePool"}, "apps.openyurt.io/v1beta2, Kind=NodePool", true},
		{schema.GroupVersionKind{Group: "apps.openyurt.io", Version: "v1beta1", Kind: "NodePoolList"}, "apps.openyurt.io/v1beta2, Kind=NodePoolList", true},
		{schema.GroupVersionKind{Group: "apps.openyurt.io", Version: "__internal", Kind: "YurtAppSet"}, "apps.openyurt.io/v1beta1, Kind=YurtAppSet", true},
		{schema.GroupVersionKind{Group: "apps.openyurt.io", Version: "__internal", Kind: "ResponseFilter"}, "apps.openyurt.io/v1alpha1, Kind=ResponseFilter", true},
		{schema.GroupVersionKind{Group: "iot.openyurt.io", Version: "__internal", Kind: "Device"}, "iot.openyurt.io/v1alpha1, Kind=Device", true},
		{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, "", false},
	}
	for _, tt := range tests {
		got, ok := v.KindForGroupVersionKinds([]schema.GroupVersionKind{tt.in})
		if ok != tt.ok || (ok && got.String() != tt.want) {
			t.Errorf("%v: got %v %v, want %q %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	// Every storage version must be a version the scheme knows the kind in.
	scheme, _, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	for gk, gv := range StorageVersions {
		if !scheme.Recognizes(gv.WithKind(gk.Kind)) {
			t.Errorf("storage version %s of %s is not registered", gv, gk)
		}
	}
}
