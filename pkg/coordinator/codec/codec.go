// Package codec is the value format of objects stored in the coordinator: Kubernetes' protobuf
// envelope ("k8s\x00" + runtime.Unknown) for kinds the scheme knows and that support protobuf,
// JSON for everything else. Decoding is strict about what it accepts: a value is either a
// protobuf envelope of a registered kind or a JSON object with apiVersion, kind and a name;
// anything else is an error, so a corrupt value is never mistaken for an object.
package codec

import (
	"bytes"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
)

// protobufPrefix starts every value in Kubernetes' protobuf envelope.
var protobufPrefix = []byte{0x6b, 0x38, 0x73, 0x00}

// protoMarshaler is implemented by every generated Kubernetes API type.
type protoMarshaler interface {
	Marshal() ([]byte, error)
}

// Codec encodes and decodes stored values.
type Codec struct {
	scheme *runtime.Scheme
	proto  *protobuf.Serializer
}

// New returns a codec for the kinds of s; nil means client-go's scheme (all built-in kinds).
func New(s *runtime.Scheme) *Codec {
	if s == nil {
		s = scheme.Scheme
	}
	return &Codec{scheme: s, proto: protobuf.NewSerializer(s, s)}
}

// Encode returns the stored form of obj. Typed objects of kinds in the scheme are protobuf;
// *unstructured.Unstructured (and typed kinds without protobuf support) are JSON. obj is not
// modified, so objects shared with informers can be passed.
func (c *Codec) Encode(obj runtime.Object) ([]byte, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		if u.GetAPIVersion() == "" || u.GetKind() == "" {
			return nil, fmt.Errorf("encoding %s: an unstructured object needs apiVersion and kind", u.GetName())
		}
		return u.MarshalJSON()
	}
	gvk, err := c.kindOf(obj)
	if err != nil {
		return nil, err
	}
	if pm, ok := obj.(protoMarshaler); ok {
		raw, err := pm.Marshal()
		if err != nil {
			return nil, fmt.Errorf("encoding %s as protobuf: %w", gvk.Kind, err)
		}
		unk := runtime.Unknown{
			TypeMeta: runtime.TypeMeta{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind},
			Raw:      raw,
		}
		body, err := unk.Marshal()
		if err != nil {
			return nil, fmt.Errorf("encoding %s protobuf envelope: %w", gvk.Kind, err)
		}
		return append(append(make([]byte, 0, len(protobufPrefix)+len(body)), protobufPrefix...), body...), nil
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding %s as JSON: %w", gvk.Kind, err)
	}
	u := &unstructured.Unstructured{Object: content}
	u.SetGroupVersionKind(gvk)
	return u.MarshalJSON()
}

func (c *Codec) kindOf(obj runtime.Object) (schema.GroupVersionKind, error) {
	gvks, _, err := c.scheme.ObjectKinds(obj)
	if err != nil {
		return schema.GroupVersionKind{}, fmt.Errorf("encoding %T: not a kind of the scheme (pass an *unstructured.Unstructured for other kinds): %w", obj, err)
	}
	// A type registered under several versions (rare for external types) is written as the
	// version its own TypeMeta names when it names one.
	if set := obj.GetObjectKind().GroupVersionKind(); !set.Empty() {
		for _, g := range gvks {
			if g == set {
				return g, nil
			}
		}
	}
	return gvks[0], nil
}

// ErrUnknownFormat is returned for values that are neither protobuf envelopes nor JSON objects.
var ErrUnknownFormat = errors.New("value is neither a Kubernetes protobuf envelope nor a JSON object")

// Decode returns the object stored in data: a typed object (with apiVersion and kind set) for
// protobuf values, an *unstructured.Unstructured for JSON values. Every value that is not a
// complete object of a known form, with a name, is an error.
func (c *Codec) Decode(data []byte) (runtime.Object, error) {
	var obj runtime.Object
	switch {
	case bytes.HasPrefix(data, protobufPrefix):
		o, gvk, err := c.proto.Decode(data, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("decoding protobuf value: %w", err)
		}
		if _, isUnknown := o.(*runtime.Unknown); isUnknown {
			return nil, fmt.Errorf("decoding protobuf value: kind %s is not in the scheme", gvk)
		}
		o.GetObjectKind().SetGroupVersionKind(*gvk)
		obj = o
	case len(bytes.TrimLeft(data, " \t\r\n")) > 0 && bytes.TrimLeft(data, " \t\r\n")[0] == '{':
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("decoding JSON value: %w", err)
		}
		if u.GetAPIVersion() == "" || u.GetKind() == "" {
			return nil, fmt.Errorf("decoding JSON value: apiVersion and kind are required")
		}
		if u.IsList() {
			return nil, fmt.Errorf("decoding JSON value: a list (%s) is not an object", u.GetKind())
		}
		obj = u
	default:
		return nil, ErrUnknownFormat
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, fmt.Errorf("decoded %T has no object metadata: %w", obj, err)
	}
	if m.GetName() == "" {
		return nil, fmt.Errorf("decoded %s has no metadata.name", obj.GetObjectKind().GroupVersionKind().Kind)
	}
	return obj, nil
}
