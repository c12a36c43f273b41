package codec

import (
	"bytes"
	"io"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func obj(apiVersion, kind, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetName(name)
	u.SetNamespace("default")
	u.SetResourceVersion("7")
	return u
}

func TestObjectAndListRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		apiVersion, kind string
		protobuf         bool
		wantCT           string
	}{
		{"v1", "Service", true, MediaTypeProtobuf},
		{"v1", "Service", false, MediaTypeJSON},
		{"discovery.k8s.io/v1", "EndpointSlice", true, MediaTypeProtobuf},
		// A kind without a protobuf form (custom or aggregated) falls back to JSON.
		{"apps.openyurt.io/v1beta2", "NodePool", true, MediaTypeJSON},
	} {
		o := obj(tc.apiVersion, tc.kind, "x")
		if tc.kind == "EndpointSlice" {
			o.Object["addressType"] = "IPv4"
		}
		data, ct, err := EncodeObject(o, tc.protobuf)
		if err != nil || ct != tc.wantCT {
			t.Fatalf("%s: encode: %v, content type %s", tc.kind, err, ct)
		}
		back, err := DecodeObject(data, ct)
		if err != nil || back.GetName() != "x" || back.GetKind() != tc.kind || back.GetAPIVersion() != tc.apiVersion {
			t.Fatalf("%s: decode: %v %v", tc.kind, back, err)
		}
		gv, _ := schema.ParseGroupVersion(tc.apiVersion)
		data, ct, err = EncodeList(gv.WithKind(tc.kind+"List"), "9", []*unstructured.Unstructured{o, obj(tc.apiVersion, tc.kind, "y")}, tc.protobuf)
		if err != nil {
			t.Fatal(err)
		}
		list, err := DecodeList(data, ct)
		if err != nil || len(list.Items) != 2 || list.GetResourceVersion() != "9" || list.Items[1].GetKind() != tc.kind {
			t.Fatalf("%s list: %v %v", tc.kind, list, err)
		}
	}
}

func TestWatchRoundTrip(t *testing.T) {
	for _, protobuf := range []bool{true, false} {
		var buf bytes.Buffer
		enc := NewWatchEncoder(&buf, schema.GroupVersionKind{Version: "v1", Kind: "Service"}, protobuf)
		if err := enc.Encode("ADDED", obj("v1", "Service", "a")); err != nil {
			t.Fatal(err)
		}
		if err := enc.Encode("BOOKMARK", Bookmark(schema.GroupVersionKind{Version: "v1", Kind: "Service"}, "12", true)); err != nil {
			t.Fatal(err)
		}
		dec := NewWatchDecoder(&buf, enc.ContentType())
		ev, err := dec.Next()
		if err != nil || ev.Type != "ADDED" || ev.Object.GetName() != "a" {
			t.Fatalf("protobuf=%v first event: %+v %v", protobuf, ev, err)
		}
		ev, err = dec.Next()
		if err != nil || ev.Type != "BOOKMARK" || ev.Object.GetResourceVersion() != "12" || ev.Object.GetAnnotations()[InitialEventsEndAnnotation] != "true" {
			t.Fatalf("protobuf=%v bookmark: %+v %v", protobuf, ev, err)
		}
		if _, err := dec.Next(); err != io.EOF {
			t.Fatalf("protobuf=%v end: %v", protobuf, err)
		}
	}
	// A truncated or oversized protobuf frame is an error, not a panic or a huge allocation.
	for _, data := range [][]byte{{0, 0, 0, 9, 1, 2}, {0xff, 0xff, 0xff, 0xff}} {
		if _, err := NewWatchDecoder(bytes.NewReader(data), MediaTypeProtobuf+";stream=watch").Next(); err == nil || err == io.EOF {
			t.Fatalf("bad frame %v: %v", data, err)
		}
	}
}

func TestAccept(t *testing.T) {
	for accept, want := range map[string]bool{
		"application/vnd.kubernetes.protobuf, application/json": true,
		"application/json, application/vnd.kubernetes.protobuf": false,
		"application/json": false, "": false, "*/*": false,
	} {
		if got := AcceptsProtobuf(accept); got != want {
			t.Errorf("AcceptsProtobuf(%q) = %v", accept, got)
		}
	}
	if AsParameter("application/json;as=Table;v=v1;g=meta.k8s.io,application/json") != "Table" {
		t.Error("as=Table not found")
	}
}
