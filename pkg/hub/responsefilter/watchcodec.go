package responsefilter

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/yurt-edge/yurt/pkg/hub/codec"
)

// rawEvent is one watch event with its object still encoded, so events the filters do not
// change (BOOKMARK, ERROR, kept objects) are passed on byte for byte.
type rawEvent = codec.RawEvent

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
