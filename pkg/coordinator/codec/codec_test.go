package codec_test

import (
	"bytes"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/yurt-edge/yurt/pkg/coordinator/codec"
	ct "github.com/yurt-edge/yurt/pkg/coordinator/coordinatortest"
)

func TestEncodeDecode(t *testing.T) {
	c := codec.New(nil)
	for _, tc := range []struct {
		name     string
		obj      runtime.Object
		protobuf bool
		typed    bool
	}{
		{"service", ct.Service("default", "web", "1"), true, true},
		{"endpointslice", ct.EndpointSlice("default", "web-x", "web", "2", 50), true, true},
		{"lease", ct.Lease("node-1", "3", time.Now()), true, true},
		{"unstructured", ct.Widget("ns", "w", "4"), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.obj.DeepCopyObject()
			data, err := c.Encode(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(before, tc.obj) {
				t.Error("Encode modified its argument")
			}
			if got := bytes.HasPrefix(data, []byte("k8s\x00")); got != tc.protobuf {
				t.Errorf("protobuf = %v, want %v", got, tc.protobuf)
			}
			obj, err := c.Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			_, isUnstructured := obj.(*unstructured.Unstructured)
			if isUnstructured == tc.typed {
				t.Errorf("decoded a %T", obj)
			}
			if obj.GetObjectKind().GroupVersionKind().Kind == "" {
				t.Error("decoded object has no kind")
			}
			m, _ := meta.Accessor(obj)
			om, _ := meta.Accessor(tc.obj)
			if m.GetResourceVersion() != om.GetResourceVersion() || m.GetName() != om.GetName() {
				t.Errorf("decoded %s@%s, want %s@%s", m.GetName(), m.GetResourceVersion(), om.GetName(), om.GetResourceVersion())
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	c := codec.New(nil)
	svc, err := c.Encode(ct.Service("default", "web", "1"))
	if err != nil {
		t.Fatal(err)
	}
	noName, err := c.Encode(ct.Service("default", "", "1"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"empty":              nil,
		"whitespace":         []byte("  \n"),
		"garbage":            []byte("hello"),
		"truncated proto":    svc[:len(svc)-7],
		"prefix only":        []byte("k8s\x00"),
		"proto without name": noName,
		"json array":         []byte(`[1,2]`),
		"json no apiVersion": []byte(`{"kind":"Widget","metadata":{"name":"a"}}`),
		"json no name":       []byte(`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{}}`),
		"json list":          []byte(`{"apiVersion":"v1","kind":"ServiceList","items":[]}`),
		"json truncated":     []byte(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"a"`),
		"json bad metadata":  []byte(`{"apiVersion":"v1","kind":"Service","metadata":"x"}`),
	} {
		t.Run(name, func(t *testing.T) {
			if obj, err := c.Decode(data); err == nil {
				t.Errorf("decoded %#v", obj)
			}
		})
	}
}

// TestProtobufMatchesKubernetesSerializer: stored protobuf values are byte for byte what
// client-go's protobuf serializer writes, so any Kubernetes protobuf decoder reads them.
func TestProtobufMatchesKubernetesSerializer(t *testing.T) {
	c := codec.New(nil)
	ser := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
	for _, obj := range []runtime.Object{
		ct.Service("default", "web", "1"),
		ct.EndpointSlice("default", "web-x", "web", "2", 50),
		ct.Lease("node-1", "3", time.Unix(1700000000, 0)),
	} {
		ours, err := c.Encode(obj)
		if err != nil {
			t.Fatal(err)
		}
		typed := obj.DeepCopyObject()
		gvks, _, err := scheme.Scheme.ObjectKinds(typed)
		if err != nil {
			t.Fatal(err)
		}
		typed.GetObjectKind().SetGroupVersionKind(gvks[0])
		var theirs bytes.Buffer
		if err := ser.Encode(typed, &theirs); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours, theirs.Bytes()) {
			t.Errorf("%s: our encoding differs from client-go's protobuf serializer", gvks[0].Kind)
		}
	}
}
