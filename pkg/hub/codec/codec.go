// Package codec decodes the responses a hub receives from a source (JSON or protobuf objects,
// lists and watch streams) into unstructured objects for its cache, and encodes cached objects
// back in the content type a client asked for.
//
// Objects are kept as unstructured data so that any resource — core, custom, aggregated — can be
// cached. Protobuf is only possible for kinds known to client-go's scheme (the built-in ones);
// for others the hub answers in JSON, which is what kube-apiserver itself does for custom
// resources when a client offers both.
package codec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
)

// Media types the hub understands.
const (
	MediaTypeJSON     = "application/json"
	MediaTypeProtobuf = "application/vnd.kubernetes.protobuf"
)

// protoSerializer encodes and decodes built-in kinds in Kubernetes' protobuf envelope.
var protoSerializer = protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)

// IsProtobuf reports whether a Content-Type header names Kubernetes protobuf.
func IsProtobuf(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == MediaTypeProtobuf
}

// AcceptsProtobuf reports whether an Accept header offers protobuf before (or without) JSON,
// as client-go does for a protobuf-configured client.
func AcceptsProtobuf(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case MediaTypeProtobuf:
			return true
		case MediaTypeJSON, "*/*", "application/*":
			return false
		}
	}
	return false
}

// AsParameter returns the "as" parameter of an Accept header (Table, PartialObjectMetadata…),
// or "" when the client asked for plain objects. Such transformed responses are not cached.
func AsParameter(accept string) string {
	for _, part := range strings.Split(accept, ",") {
		_, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && params["as"] != "" {
			return params["as"]
		}
	}
	return ""
}

// DecodeObject decodes one object of any kind from a response body of the given content type.
func DecodeObject(data []byte, contentType string) (*unstructured.Unstructured, error) {
	if IsProtobuf(contentType) {
		content, gvk, err := decodeProtobuf(data)
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{Object: content}
		u.SetGroupVersionKind(gvk)
		return u, nil
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("decoding a JSON object: %w", err)
	}
	if u.IsList() {
		return nil, fmt.Errorf("decoding a JSON object: got a list of kind %q", u.GetKind())
	}
	return u, nil
}

// DecodeList decodes a list response. Every item carries its apiVersion and kind, also when the
// wire format left them out (protobuf lists do).
func DecodeList(data []byte, contentType string) (*unstructured.UnstructuredList, error) {
	var content map[string]any
	var gvk schema.GroupVersionKind
	if IsProtobuf(contentType) {
		var err error
		if content, gvk, err = decodeProtobuf(data); err != nil {
			return nil, err
		}
	} else {
		if err := json.Unmarshal(data, &content); err != nil {
			return nil, fmt.Errorf("decoding a JSON list: %w", err)
		}
		gvk = schema.FromAPIVersionAndKind(stringField(content, "apiVersion"), stringField(content, "kind"))
	}
	if !strings.HasSuffix(gvk.Kind, "List") {
		return nil, fmt.Errorf("decoding a list: kind %q is not a list", gvk.Kind)
	}
	list := &unstructured.UnstructuredList{Object: map[string]any{}}
	for k, v := range content {
		if k != "items" {
			list.Object[k] = v
		}
	}
	list.SetGroupVersionKind(gvk)
	rawItems, _ := content["items"].([]any)
	itemKind := strings.TrimSuffix(gvk.Kind, "List")
	for i, raw := range rawItems {
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("decoding a list: item %d is not an object", i)
		}
		item := unstructured.Unstructured{Object: m}
		if item.GetKind() == "" {
			item.SetAPIVersion(gvk.GroupVersion().String())
			item.SetKind(itemKind)
		}
		list.Items = append(list.Items, item)
	}
	return list, nil
}

// decodeProtobuf decodes a protobuf-enveloped built-in object into unstructured content.
func decodeProtobuf(data []byte) (map[string]any, schema.GroupVersionKind, error) {
	obj, gvk, err := protoSerializer.Decode(data, nil, nil)
	if err != nil {
		return nil, schema.GroupVersionKind{}, fmt.Errorf("decoding protobuf: %w", err)
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, schema.GroupVersionKind{}, fmt.Errorf("converting %s from protobuf: %w", gvk, err)
	}
	return content, *gvk, nil
}

func stringField(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// CanEncodeProtobuf reports whether objects of this kind have a protobuf form here.
func CanEncodeProtobuf(gvk schema.GroupVersionKind) bool {
	return scheme.Scheme.Recognizes(gvk)
}

// EncodeObject encodes an object (or list) in protobuf when asked and possible, else JSON, and
// returns the content type used.
func EncodeObject(obj runtime.Unstructured, wantProtobuf bool) ([]byte, string, error) {
	gvk := obj.GetObjectKind().GroupVersionKind()
	if wantProtobuf && CanEncodeProtobuf(gvk) {
		typed, err := scheme.Scheme.New(gvk)
		if err != nil {
			return nil, "", err
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.UnstructuredContent(), typed); err != nil {
			return nil, "", fmt.Errorf("converting %s for protobuf: %w", gvk, err)
		}
		typed.GetObjectKind().SetGroupVersionKind(gvk)
		var buf bytes.Buffer
		if err := protoSerializer.EncodeWithAllocator(typed, &buf, &runtime.SimpleAllocator{}); err != nil {
			return nil, "", fmt.Errorf("encoding %s as protobuf: %w", gvk, err)
		}
		return buf.Bytes(), MediaTypeProtobuf, nil
	}
	data, err := json.Marshal(obj.UnstructuredContent())
	if err != nil {
		return nil, "", fmt.Errorf("encoding %s as JSON: %w", gvk, err)
	}
	return data, MediaTypeJSON, nil
}

// EncodeList builds a list of kind listGVK from items and encodes it like EncodeObject.
func EncodeList(listGVK schema.GroupVersionKind, resourceVersion string, items []*unstructured.Unstructured, wantProtobuf bool) ([]byte, string, error) {
	list := &unstructured.UnstructuredList{Object: map[string]any{}}
	list.SetGroupVersionKind(listGVK)
	list.SetResourceVersion(resourceVersion)
	content := list.UnstructuredContent()
	itemsJSON := make([]any, 0, len(items))
	for _, it := range items {
		itemsJSON = append(itemsJSON, it.Object)
	}
	content["items"] = itemsJSON
	return EncodeObject(&unstructured.Unstructured{Object: content}, wantProtobuf)
}

// Status returns a metav1.Status of the given code as JSON, for errors the hub itself answers.
func Status(code int32, reason metav1.StatusReason, message string) []byte {
	data, _ := json.Marshal(&metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Code:     code,
		Reason:   reason,
		Message:  message,
	})
	return data
}
