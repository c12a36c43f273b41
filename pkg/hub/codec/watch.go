package codec

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// maxFrameSize bounds one protobuf watch frame, so a corrupt length cannot exhaust memory.
const maxFrameSize = 64 << 20

// InitialEventsEndAnnotation marks the bookmark that ends a watch list's initial events.
const InitialEventsEndAnnotation = metav1.InitialEventsAnnotationKey

// Event is one decoded watch event. Object is nil for ERROR events (Status is kept raw).
type Event struct {
	Type   string
	Object *unstructured.Unstructured
}

// WatchDecoder reads the events of a watch response stream.
type WatchDecoder struct {
	protobuf bool
	json     *json.Decoder
	reader   *bufio.Reader
}

// NewWatchDecoder decodes a watch stream of the given Content-Type (JSON or protobuf).
func NewWatchDecoder(r io.Reader, contentType string) *WatchDecoder {
	if IsProtobuf(contentType) {
		return &WatchDecoder{protobuf: true, reader: bufio.NewReader(r)}
	}
	return &WatchDecoder{json: json.NewDecoder(r)}
}

// Next returns the next event, or io.EOF at the end of the stream.
func (d *WatchDecoder) Next() (Event, error) {
	raw, err := d.NextRaw()
	if err != nil {
		return Event{}, err
	}
	return decodeEvent(raw.Type, raw.Object, raw.ContentType)
}

func decodeEvent(typ string, raw []byte, contentType string) (Event, error) {
	if typ == "ERROR" {
		return Event{Type: typ}, nil
	}
	obj, err := DecodeObject(raw, contentType)
	if err != nil {
		return Event{}, fmt.Errorf("decoding the object of a %s event: %w", typ, err)
	}
	return Event{Type: typ, Object: obj}, nil
}

// WatchEncoder writes watch events in JSON or protobuf framing.
type WatchEncoder struct {
	w        io.Writer
	protobuf bool
}

// NewWatchEncoder writes events for objects of kind gvk, in protobuf when asked and possible;
// ContentType says which was chosen.
func NewWatchEncoder(w io.Writer, gvk schema.GroupVersionKind, wantProtobuf bool) *WatchEncoder {
	return &WatchEncoder{w: w, protobuf: wantProtobuf && CanEncodeProtobuf(gvk)}
}

// ContentType is the response Content-Type for this encoder's stream.
func (e *WatchEncoder) ContentType() string {
	if e.protobuf {
		return MediaTypeProtobuf + ";stream=watch"
	}
	return MediaTypeJSON
}

// Encode writes one event.
func (e *WatchEncoder) Encode(typ string, obj *unstructured.Unstructured) error {
	raw, _, err := EncodeObject(obj, e.protobuf)
	if err != nil {
		return err
	}
	if e.protobuf {
		ev := metav1.WatchEvent{Type: typ, Object: runtime.RawExtension{Raw: raw}}
		data, err := ev.Marshal()
		if err != nil {
			return fmt.Errorf("encoding a protobuf watch event: %w", err)
		}
		var size [4]byte
		binary.BigEndian.PutUint32(size[:], uint32(len(data)))
		if _, err := e.w.Write(size[:]); err != nil {
			return err
		}
		_, err = e.w.Write(data)
		return err
	}
	data, err := json.Marshal(struct {
		Type   string          `json:"type"`
		Object json.RawMessage `json:"object"`
	}{typ, raw})
	if err != nil {
		return err
	}
	_, err = e.w.Write(append(data, '\n'))
	return err
}

// Bookmark returns a BOOKMARK object of kind gvk at resourceVersion, marked as the end of
// the initial events when initialEnd is set.
func Bookmark(gvk schema.GroupVersionKind, resourceVersion string, initialEnd bool) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGroupVersionKind(gvk)
	u.SetResourceVersion(resourceVersion)
	if initialEnd {
		u.SetAnnotations(map[string]string{InitialEventsEndAnnotation: "true"})
	}
	return u
}
