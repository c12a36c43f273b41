package responsefilter

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/yurt-edge/yurt/pkg/hub/codec"
)

// maxFrameSize bounds one protobuf watch frame, so a corrupt length cannot exhaust memory.
const maxFrameSize = 64 << 20

// rawEvent is one watch event with its object still encoded, so events the filters do not
// change (BOOKMARK, ERROR, kept objects) are passed on byte for byte.
type rawEvent struct {
	Type   string
	Object []byte
}

// eventReader reads the events of a JSON or protobuf watch stream. Unlike codec.WatchDecoder
// it keeps every event's object, ERROR statuses included.
type eventReader struct {
	protobuf bool
	json     *json.Decoder
	reader   *bufio.Reader
}

func newEventReader(r io.Reader, contentType string) *eventReader {
	if codec.IsProtobuf(contentType) {
		return &eventReader{protobuf: true, reader: bufio.NewReaderSize(r, 64<<10)}
	}
	return &eventReader{json: json.NewDecoder(r)}
}

// next returns the next event, or io.EOF at the end of the stream.
func (d *eventReader) next() (rawEvent, error) {
	if d.protobuf {
		var size [4]byte
		if _, err := io.ReadFull(d.reader, size[:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return rawEvent{}, fmt.Errorf("reading a protobuf watch frame: %w", err)
			}
			return rawEvent{}, err
		}
		n := binary.BigEndian.Uint32(size[:])
		if n > maxFrameSize {
			return rawEvent{}, fmt.Errorf("protobuf watch frame of %d bytes exceeds %d", n, maxFrameSize)
		}
		frame := make([]byte, n)
		if _, err := io.ReadFull(d.reader, frame); err != nil {
			return rawEvent{}, fmt.Errorf("reading a protobuf watch frame: %w", err)
		}
		var ev metav1.WatchEvent
		if err := ev.Unmarshal(frame); err != nil {
			return rawEvent{}, fmt.Errorf("decoding a protobuf watch event: %w", err)
		}
		return rawEvent{Type: ev.Type, Object: ev.Object.Raw}, nil
	}
	var ev struct {
		Type   string          `json:"type"`
		Object json.RawMessage `json:"object"`
	}
	if err := d.json.Decode(&ev); err != nil {
		return rawEvent{}, err
	}
	return rawEvent{Type: ev.Type, Object: ev.Object}, nil
}

// writeEvent writes one event in the stream's framing; object is encoded as the stream's
// objects are (JSON, or protobuf with its envelope).
func writeEvent(w io.Writer, protobuf bool, typ string, object []byte) error {
	if protobuf {
		ev := metav1.WatchEvent{Type: typ, Object: runtime.RawExtension{Raw: object}}
		data, err := ev.Marshal()
		if err != nil {
			return fmt.Errorf("encoding a protobuf watch event: %w", err)
		}
		frame := make([]byte, 4+len(data))
		binary.BigEndian.PutUint32(frame, uint32(len(data)))
		copy(frame[4:], data)
		_, err = w.Write(frame)
		return err
	}
	data, err := json.Marshal(struct {
		Type   string          `json:"type"`
		Object json.RawMessage `json:"object"`
	}{typ, object})
	if err != nil {
		return fmt.Errorf("encoding a watch event: %w", err)
	}
	_, err = w.Write(append(data, '\n'))
	return err
}
