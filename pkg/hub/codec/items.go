package codec

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/client-go/kubernetes/scheme"
)

// This file turns response bodies into what the cache stores — each object's JSON with its
// apiVersion and kind — without building the generic (unstructured) form the serving path
// uses: a map per JSON object costs several times the wire size, and a cache writer holding a
// whole list or a queue of watch events in that form was most of a hub's heap. Protobuf (what
// kubelet and kube-proxy ask for) is decoded one object at a time into its typed Go struct and
// encoded to JSON from there; lists are walked item by item on the wire.

// Item is one object as the cache stores it.
type Item struct {
	APIVersion, Kind string
	Namespace, Name  string
	ResourceVersion  string
	// InitialEventsEnd is set on the bookmark that ends a watch list's initial events.
	InitialEventsEnd bool
	// JSON is the object with apiVersion and kind set.
	JSON []byte
}

// ListInfo is a list response's own metadata.
type ListInfo struct {
	APIVersion, Kind string
	ResourceVersion  string
	Continue         string
}

// ItemOf encodes an already decoded object (e.g. one from the pool coordinator) for the cache.
func ItemOf(obj *unstructured.Unstructured) (Item, error) {
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return Item{}, fmt.Errorf("encoding %s %s/%s as JSON: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	return Item{
		APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(),
		Namespace: obj.GetNamespace(), Name: obj.GetName(), ResourceVersion: obj.GetResourceVersion(),
		InitialEventsEnd: obj.GetAnnotations()[InitialEventsEndAnnotation] == "true",
		JSON:             data,
	}, nil
}

// DecodeItem decodes one object of any kind (a get response, a watch event's object) for the cache.
func DecodeItem(data []byte, contentType string) (Item, error) {
	if !IsProtobuf(contentType) {
		obj, err := DecodeObject(data, MediaTypeJSON)
		if err != nil {
			return Item{}, err
		}
		return ItemOf(obj)
	}
	unk, err := unwrapProtobuf(data)
	if err != nil {
		return Item{}, err
	}
	gvk := unk.GroupVersionKind()
	if strings.HasSuffix(gvk.Kind, "List") {
		return Item{}, fmt.Errorf("decoding a protobuf object: got a list of kind %q", gvk.Kind)
	}
	return typedItem(gvk, unk.Raw)
}

// typedItem decodes the protobuf message of one object of kind gvk into its Go type and
// encodes that as JSON.
func typedItem(gvk schema.GroupVersionKind, raw []byte) (Item, error) {
	obj, err := scheme.Scheme.New(gvk)
	if err != nil {
		return Item{}, fmt.Errorf("decoding protobuf: %w", err)
	}
	u, ok := obj.(interface{ Unmarshal([]byte) error })
	if !ok {
		return Item{}, fmt.Errorf("decoding protobuf: %s has no protobuf form", gvk)
	}
	if err := u.Unmarshal(raw); err != nil {
		return Item{}, fmt.Errorf("decoding a protobuf %s: %w", gvk, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	m, err := meta.Accessor(obj)
	if err != nil {
		return Item{}, fmt.Errorf("decoding a protobuf %s: %w", gvk, err)
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return Item{}, fmt.Errorf("encoding %s %s/%s as JSON: %w", gvk.Kind, m.GetNamespace(), m.GetName(), err)
	}
	apiVersion, kind := gvk.ToAPIVersionAndKind()
	return Item{
		APIVersion: apiVersion, Kind: kind,
		Namespace: m.GetNamespace(), Name: m.GetName(), ResourceVersion: m.GetResourceVersion(),
		InitialEventsEnd: m.GetAnnotations()[InitialEventsEndAnnotation] == "true",
		JSON:             data,
	}, nil
}

// unwrapProtobuf opens Kubernetes' protobuf envelope (a magic prefix and a runtime.Unknown).
func unwrapProtobuf(data []byte) (*runtime.Unknown, error) {
	prefix := []byte{0x6b, 0x38, 0x73, 0x00} // "k8s\0", as the protobuf serializer writes it
	if !bytes.HasPrefix(data, prefix) || len(data) == len(prefix) {
		return nil, errors.New("decoding protobuf: not a Kubernetes protobuf message")
	}
	unk := &runtime.Unknown{}
	if err := unk.Unmarshal(data[len(prefix):]); err != nil {
		return nil, fmt.Errorf("decoding protobuf: %w", err)
	}
	if unk.Kind == "" || unk.APIVersion == "" {
		return nil, errors.New("decoding protobuf: the envelope names no kind")
	}
	return unk, nil
}

// DecodeListItems decodes a list response's metadata and returns its items, decoded one at a
// time as the sequence is walked (so only one item's decoded form exists at once). Every item
// carries its apiVersion and kind, also when the wire format left them out (protobuf and JSON
// lists of kube-apiserver do).
func DecodeListItems(data []byte, contentType string) (ListInfo, iter.Seq2[Item, error], error) {
	if IsProtobuf(contentType) {
		return protobufListItems(data)
	}
	var list struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   metav1.ListMeta   `json:"metadata"`
		Items      []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		return ListInfo{}, nil, fmt.Errorf("decoding a JSON list: %w", err)
	}
	info := ListInfo{APIVersion: list.APIVersion, Kind: list.Kind, ResourceVersion: list.Metadata.ResourceVersion, Continue: list.Metadata.Continue}
	if !strings.HasSuffix(info.Kind, "List") {
		return ListInfo{}, nil, fmt.Errorf("decoding a list: kind %q is not a list", info.Kind)
	}
	itemKind := strings.TrimSuffix(info.Kind, "List")
	items := func(yield func(Item, error) bool) {
		for i, raw := range list.Items {
			var content map[string]any
			// The apimachinery decoder keeps integers int64, as the serving path's decoding does.
			if err := utiljson.Unmarshal(raw, &content); err != nil || content == nil {
				if err == nil {
					err = errors.New("not an object")
				}
				yield(Item{}, fmt.Errorf("decoding item %d of a JSON list: %w", i, err))
				return
			}
			obj := &unstructured.Unstructured{Object: content}
			if obj.GetKind() == "" {
				obj.SetAPIVersion(info.APIVersion)
				obj.SetKind(itemKind)
			}
			it, err := ItemOf(obj)
			if !yield(it, err) || err != nil {
				return
			}
		}
	}
	return info, items, nil
}

// protobufListItems walks a protobuf list on the wire. Every Kubernetes list message has the
// same shape: field 1 the ListMeta, field 2 the repeated items.
func protobufListItems(data []byte) (ListInfo, iter.Seq2[Item, error], error) {
	unk, err := unwrapProtobuf(data)
	if err != nil {
		return ListInfo{}, nil, err
	}
	gvk := unk.GroupVersionKind()
	if !strings.HasSuffix(gvk.Kind, "List") {
		return ListInfo{}, nil, fmt.Errorf("decoding a list: kind %q is not a list", gvk.Kind)
	}
	info := ListInfo{}
	info.APIVersion, info.Kind = gvk.ToAPIVersionAndKind()
	err = walkProtobuf(unk.Raw, func(field uint64, value []byte) error {
		if field != 1 {
			return nil
		}
		var lm metav1.ListMeta
		if err := lm.Unmarshal(value); err != nil {
			return fmt.Errorf("decoding a protobuf list's metadata: %w", err)
		}
		info.ResourceVersion, info.Continue = lm.ResourceVersion, lm.Continue
		return nil
	})
	if err != nil {
		return ListInfo{}, nil, err
	}
	itemGVK := gvk.GroupVersion().WithKind(strings.TrimSuffix(gvk.Kind, "List"))
	items := func(yield func(Item, error) bool) {
		stop := errors.New("stop")
		err := walkProtobuf(unk.Raw, func(field uint64, value []byte) error {
			if field != 2 {
				return nil
			}
			it, err := typedItem(itemGVK, value)
			if err != nil {
				return err
			}
			if !yield(it, nil) {
				return stop
			}
			return nil
		})
		if err != nil && !errors.Is(err, stop) {
			yield(Item{}, err)
		}
	}
	return info, items, nil
}

// walkProtobuf calls fn with every length-delimited field of a protobuf message, in order,
// and skips fields of the other wire types.
func walkProtobuf(msg []byte, fn func(field uint64, value []byte) error) error {
	for len(msg) > 0 {
		key, n := binary.Uvarint(msg)
		if n <= 0 {
			return errors.New("decoding protobuf: malformed field key")
		}
		msg = msg[n:]
		field, wireType := key>>3, key&7
		switch wireType {
		case 0: // varint
			if _, n = binary.Uvarint(msg); n <= 0 {
				return errors.New("decoding protobuf: malformed varint")
			}
			msg = msg[n:]
		case 1: // fixed64
			if len(msg) < 8 {
				return errors.New("decoding protobuf: truncated fixed64")
			}
			msg = msg[8:]
		case 5: // fixed32
			if len(msg) < 4 {
				return errors.New("decoding protobuf: truncated fixed32")
			}
			msg = msg[4:]
		case 2: // length-delimited
			size, n := binary.Uvarint(msg)
			if n <= 0 || size > uint64(len(msg)-n) {
				return errors.New("decoding protobuf: truncated length-delimited field")
			}
			value := msg[n : n+int(size)]
			msg = msg[n+int(size):]
			if err := fn(field, value); err != nil {
				return err
			}
		default:
			return fmt.Errorf("decoding protobuf: unsupported wire type %d", wireType)
		}
	}
	return nil
}

// RawEvent is one watch event with its object still encoded (as it came off the wire).
type RawEvent struct {
	Type        string
	Object      []byte
	ContentType string
}

// NextRaw returns the next event without decoding its object (DecodeItem does that later), or
// io.EOF at the end of the stream. Held in this form, a queue of events costs about what the
// wire carried.
func (d *WatchDecoder) NextRaw() (RawEvent, error) {
	if d.protobuf {
		var size uint32
		if err := binary.Read(d.reader, binary.BigEndian, &size); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return RawEvent{}, fmt.Errorf("reading a protobuf watch frame: %w", err)
			}
			return RawEvent{}, err
		}
		if size > maxFrameSize {
			return RawEvent{}, fmt.Errorf("protobuf watch frame of %d bytes exceeds %d", size, maxFrameSize)
		}
		frame := make([]byte, size)
		if _, err := io.ReadFull(d.reader, frame); err != nil {
			return RawEvent{}, fmt.Errorf("reading a protobuf watch frame: %w", err)
		}
		var ev metav1.WatchEvent
		if err := ev.Unmarshal(frame); err != nil {
			return RawEvent{}, fmt.Errorf("decoding a protobuf watch event: %w", err)
		}
		return RawEvent{Type: ev.Type, Object: ev.Object.Raw, ContentType: MediaTypeProtobuf}, nil
	}
	var ev struct {
		Type   string          `json:"type"`
		Object json.RawMessage `json:"object"`
	}
	if err := d.json.Decode(&ev); err != nil {
		return RawEvent{}, err
	}
	return RawEvent{Type: ev.Type, Object: ev.Object, ContentType: MediaTypeJSON}, nil
}
