package apiserver

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	appsinstall "github.com/yurt-edge/yurt/pkg/apis/apps/install"
	iotinstall "github.com/yurt-edge/yurt/pkg/apis/iot/install"
)

// NewScheme returns a scheme with every Yurt group and the meta types the server speaks.
func NewScheme() (*runtime.Scheme, serializer.CodecFactory, error) {
	scheme := runtime.NewScheme()
	if err := appsinstall.Install(scheme); err != nil {
		return nil, serializer.CodecFactory{}, err
	}
	if err := iotinstall.Install(scheme); err != nil {
		return nil, serializer.CodecFactory{}, err
	}
	// The generic server encodes Status, discovery and options in the core group's v1.
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	unversioned := schema.GroupVersion{Group: "", Version: "v1"}
	scheme.AddUnversionedTypes(unversioned,
		&metav1.Status{},
		&metav1.APIVersions{},
		&metav1.APIGroupList{},
		&metav1.APIGroup{},
		&metav1.APIResourceList{},
	)
	return scheme, serializer.NewCodecFactory(scheme), nil
}
