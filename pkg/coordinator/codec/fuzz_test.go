package codec_test

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/yurt-edge/yurt/pkg/coordinator/codec"
	ct "github.com/yurt-edge/yurt/pkg/coordinator/coordinatortest"
)

// FuzzDecode: any stored bytes either decode to a named object that re-encodes and decodes to
// the same name and resourceVersion, or give an error — never a panic or a nameless object.
func FuzzDecode(f *testing.F) {
	c := codec.New(nil)
	seeds := [][]byte{
		must(c.Encode(ct.Service("default", "web", "1"))),
		must(c.Encode(ct.EndpointSlice("default", "web-x", "web", "2", 3))),
		must(c.Encode(ct.Lease("node-1", "3", time.Unix(1700000000, 0)))),
		must(c.Encode(ct.Widget("ns", "w", "4"))),
		[]byte(`{"apiVersion":"v1","kind":"List","items":[]}`),
		[]byte("k8s\x00"),
		[]byte("garbage"),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := c.Decode(data)
		if err != nil {
			return
		}
		m, err := meta.Accessor(obj)
		if err != nil || m.GetName() == "" {
			t.Fatalf("decoded %T without a name (%v)", obj, err)
		}
		again, err := c.Encode(obj)
		if err != nil {
			t.Fatalf("re-encoding a decoded %T: %v", obj, err)
		}
		obj2, err := c.Decode(again)
		if err != nil {
			t.Fatalf("decoding a re-encoded %T: %v", obj, err)
		}
		m2, _ := meta.Accessor(obj2)
		if m2.GetName() != m.GetName() || m2.GetNamespace() != m.GetNamespace() || m2.GetResourceVersion() != m.GetResourceVersion() {
			t.Fatalf("re-encoding changed identity: %s/%s@%s → %s/%s@%s", m.GetNamespace(), m.GetName(), m.GetResourceVersion(),
				m2.GetNamespace(), m2.GetName(), m2.GetResourceVersion())
		}
	})
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
