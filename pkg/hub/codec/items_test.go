package codec

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// slice is an EndpointSlice with some endpoints, labels and an owner, so the typed protobuf →
// JSON path has nested structs, pointers, maps and slices to get right.
func slice(name string) *unstructured.Unstructured {
	o := obj("discovery.k8s.io/v1", "EndpointSlice", name)
	o.SetLabels(map[string]string{"kubernetes.io/service-name": name, "endpointslice.kubernetes.io/managed-by": "c"})
	o.Object["addressType"] = "IPv4"
	o.Object["ports"] = []any{map[string]any{"name": "http", "port": int64(80), "protocol": "TCP"}}
	o.Object["endpoints"] = []any{
		map[string]any{"addresses": []any{"10.0.0.1"}, "conditions": map[string]any{"ready": true}, "nodeName": "n1"},
		map[string]any{"addresses": []any{"10.0.0.2"}, "conditions": map[string]any{"ready": false}},
	}
	return o
}

// asMap is what the cache will read back from an item's JSON.
func asMap(t *testing.T, data []byte) map[string]any {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		t.Fatalf("item JSON %s: %v", data, err)
	}
	return u.Object
}

// TestDecodeItemMatchesDecodeObject checks that the cache's direct decoding stores what the
// generic decoding (the serving path's form) would have: same content, apiVersion and kind set.
func TestDecodeItemMatchesDecodeObject(t *testing.T) {
	for _, tc := range []struct {
		name     string
		obj      *unstructured.Unstructured
		protobuf bool
	}{
		{"endpointslice protobuf", slice("a"), true},
		{"endpointslice json", slice("a"), false},
		{"service protobuf", obj("v1", "Service", "s"), true},
		{"nodepool json (no protobuf form)", obj("apps.openyurt.io/v1beta2", "NodePool", "p"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, ct, err := EncodeObject(tc.obj, tc.protobuf)
			if err != nil {
				t.Fatal(err)
			}
			want, err := DecodeObject(data, ct)
			if err != nil {
				t.Fatal(err)
			}
			it, err := DecodeItem(data, ct)
			if err != nil {
				t.Fatal(err)
			}
			if it.Name != tc.obj.GetName() || it.Namespace != "default" || it.ResourceVersion != "7" ||
				it.Kind != tc.obj.GetKind() || it.APIVersion != tc.obj.GetAPIVersion() {
				t.Errorf("item metadata %+v", it)
			}
			if got := asMap(t, it.JSON); !reflect.DeepEqual(got, want.Object) {
				t.Errorf("item content\n got %v\nwant %v", got, want.Object)
			}
		})
	}
}

func TestDecodeListItems(t *testing.T) {
	gv := schema.GroupVersion{Group: "discovery.k8s.io", Version: "v1"}
	items := []*unstructured.Unstructured{slice("a"), slice("b"), slice("c")}
	for _, protobuf := range []bool{true, false} {
		data, ct, err := EncodeList(gv.WithKind("EndpointSliceList"), "42", items, protobuf)
		if err != nil {
			t.Fatal(err)
		}
		want, err := DecodeList(data, ct)
		if err != nil {
			t.Fatal(err)
		}
		info, seq, err := DecodeListItems(data, ct)
		if err != nil {
			t.Fatal(err)
		}
		if info.ResourceVersion != "42" || info.Kind != "EndpointSliceList" || info.APIVersion != "discovery.k8s.io/v1" {
			t.Errorf("protobuf=%v list info %+v", protobuf, info)
		}
		var n int
		for it, err := range seq {
			if err != nil {
				t.Fatalf("protobuf=%v item %d: %v", protobuf, n, err)
			}
			// Through JSON, so that numbers compare alike (the generic list decoder gives float64).
			if got, want := asMap(t, it.JSON), asMap(t, mustJSON(t, &want.Items[n])); !reflect.DeepEqual(got, want) {
				t.Errorf("protobuf=%v item %d\n got %v\nwant %v", protobuf, n, got, want)
			}
			n++
		}
		if n != len(items) {
			t.Errorf("protobuf=%v: %d items, want %d", protobuf, n, len(items))
		}
		// Stopping early is allowed (a failed write stops a replacement).
		for range seq {
			break
		}
	}
}

func TestDecodeListItemsContinue(t *testing.T) {
	list := map[string]any{"apiVersion": "v1", "kind": "ServiceList", "metadata": map[string]any{"resourceVersion": "5", "continue": "tok"},
		"items": []any{map[string]any{"metadata": map[string]any{"name": "s", "namespace": "default"}}}}
	data, _ := json.Marshal(list)
	info, seq, err := DecodeListItems(data, MediaTypeJSON)
	if err != nil || info.Continue != "tok" || info.ResourceVersion != "5" {
		t.Fatalf("%+v %v", info, err)
	}
	for it, err := range seq {
		if err != nil || it.Kind != "Service" || it.APIVersion != "v1" || asMap(t, it.JSON)["kind"] != "Service" {
			t.Fatalf("item %+v %v", it, err)
		}
	}
	// The same list in protobuf carries its continue token too.
	u := &unstructured.Unstructured{Object: list}
	pb, ct, err := EncodeObject(u, true)
	if err != nil {
		t.Fatal(err)
	}
	if info, _, err := DecodeListItems(pb, ct); err != nil || info.Continue != "tok" {
		t.Fatalf("protobuf: %+v %v", info, err)
	}
}

func TestDecodeItemErrors(t *testing.T) {
	gv := schema.GroupVersion{Version: "v1"}
	pbList, _, err := EncodeList(gv.WithKind("ServiceList"), "1", []*unstructured.Unstructured{obj("v1", "Service", "s")}, true)
	if err != nil {
		t.Fatal(err)
	}
	pbObj, _, err := EncodeObject(obj("v1", "Service", "s"), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		ct   string
		list bool
	}{
		{"list as object (protobuf)", pbList, MediaTypeProtobuf, false},
		{"list as object (json)", []byte(`{"apiVersion":"v1","kind":"ServiceList","items":[]}`), MediaTypeJSON, false},
		{"object as list (protobuf)", pbObj, MediaTypeProtobuf, true},
		{"object as list (json)", []byte(`{"apiVersion":"v1","kind":"Service"}`), MediaTypeJSON, true},
		{"no envelope", []byte("garbage"), MediaTypeProtobuf, false},
		{"bare prefix", []byte("k8s\x00"), MediaTypeProtobuf, true},
		{"truncated object", pbObj[:len(pbObj)-5], MediaTypeProtobuf, false},
		{"bad json", []byte("{"), MediaTypeJSON, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.list {
				if _, _, err := DecodeListItems(tc.data, tc.ct); err == nil {
					t.Fatal("no error")
				}
				return
			}
			if _, err := DecodeItem(tc.data, tc.ct); err == nil {
				t.Fatal("no error")
			}
		})
	}
	// A list whose items are cut short yields an error rather than a wrong item.
	_, seq, err := DecodeListItems(pbList[:len(pbList)-3], MediaTypeProtobuf)
	if err == nil {
		for _, err = range seq {
			if err != nil {
				break
			}
		}
	}
	if err == nil {
		t.Fatal("truncated protobuf list: no error")
	}
}

func TestNextRaw(t *testing.T) {
	for _, protobuf := range []bool{true, false} {
		var buf bytes.Buffer
		gvk := schema.GroupVersionKind{Group: "discovery.k8s.io", Version: "v1", Kind: "EndpointSlice"}
		enc := NewWatchEncoder(&buf, gvk, protobuf)
		if err := enc.Encode("MODIFIED", slice("a")); err != nil {
			t.Fatal(err)
		}
		if err := enc.Encode("BOOKMARK", Bookmark(gvk, "12", true)); err != nil {
			t.Fatal(err)
		}
		dec := NewWatchDecoder(&buf, enc.ContentType())
		ev, err := dec.NextRaw()
		if err != nil || ev.Type != "MODIFIED" {
			t.Fatalf("protobuf=%v: %+v %v", protobuf, ev, err)
		}
		it, err := DecodeItem(ev.Object, ev.ContentType)
		if err != nil || it.Name != "a" || !reflect.DeepEqual(asMap(t, it.JSON), asMap(t, mustJSON(t, slice("a")))) {
			t.Fatalf("protobuf=%v: %+v %v", protobuf, it, err)
		}
		ev, err = dec.NextRaw()
		if err != nil || ev.Type != "BOOKMARK" {
			t.Fatalf("protobuf=%v bookmark: %+v %v", protobuf, ev, err)
		}
		if it, err := DecodeItem(ev.Object, ev.ContentType); err != nil || !it.InitialEventsEnd || it.ResourceVersion != "12" {
			t.Fatalf("protobuf=%v bookmark item: %+v %v", protobuf, it, err)
		}
		if _, err := dec.NextRaw(); err != io.EOF {
			t.Fatalf("protobuf=%v end: %v", protobuf, err)
		}
	}
	for _, data := range [][]byte{{0, 0, 0, 9, 1, 2}, {0xff, 0xff, 0xff, 0xff}} {
		if _, err := NewWatchDecoder(bytes.NewReader(data), MediaTypeProtobuf+";stream=watch").NextRaw(); err == nil || err == io.EOF {
			t.Fatalf("bad frame %v: %v", data, err)
		}
	}
}

func mustJSON(t *testing.T, u *unstructured.Unstructured) []byte {
	t.Helper()
	data, err := json.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
