package heartbeat

import (
	"fmt"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/yurt-edge/yurt/pkg/hub/codec"
)

// decodeLease decodes a coordination/v1 Lease in JSON or Kubernetes protobuf (the envelope
// says which), as kubelet sends and kube-apiserver answers.
func decodeLease(body []byte) (*coordinationv1.Lease, error) {
	obj, gvk, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("decoding a Lease: %w", err)
	}
	l, ok := obj.(*coordinationv1.Lease)
	if !ok {
		return nil, fmt.Errorf("decoding a Lease: got %s", gvk)
	}
	return l, nil
}

// mediaTypeFor returns protobuf when the client offered it first (client-go's protobuf
// clients, kubelet's included), JSON otherwise.
func mediaTypeFor(accept string) string {
	if codec.AcceptsProtobuf(accept) {
		return codec.MediaTypeProtobuf
	}
	return codec.MediaTypeJSON
}

// encode encodes a Lease (as coordination.k8s.io/v1) or a Status (as v1) in mediaType.
func encode(mediaType string, obj runtime.Object) ([]byte, error) {
	info, ok := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), mediaType)
	if !ok {
		return nil, fmt.Errorf("no serializer for %s", mediaType)
	}
	gv := coordinationv1.SchemeGroupVersion
	if _, isStatus := obj.(*metav1.Status); isStatus {
		// kube-apiserver sends Status as apiVersion v1.
		gv = schema.GroupVersion{Version: "v1"}
	}
	b, err := runtime.Encode(scheme.Codecs.EncoderForVersion(info.Serializer, gv), obj)
	if err != nil {
		return nil, fmt.Errorf("encoding a %T as %s: %w", obj, mediaType, err)
	}
	return b, nil
}
