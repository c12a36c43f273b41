package proxy

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/klog/v2/ktesting"

	"github.com/yurt-edge/yurt/pkg/hub/codec"
)

// TestCacheWriterWatchList feeds a protobuf watch list (sendInitialEvents), as client-go's
// watch-list informers receive it, through the cache writer: the initial events, held
// undecoded, replace the cached objects only once the end bookmark arrives; an undecodable
// event is logged and skipped without ending the stream's caching.
func TestCacheWriterWatchList(t *testing.T) {
	store := newTestStore(t)
	if err := store.Put(servicesRes, service("stale", "1")); err != nil {
		t.Fatal(err)
	}
	gvk := schema.GroupVersionKind{Version: "v1", Kind: "Service"}
	var stream bytes.Buffer
	enc := codec.NewWatchEncoder(&stream, gvk, true)
	for _, ev := range []struct {
		typ  string
		name string
	}{{"ADDED", "a"}, {"ADDED", "b"}} {
		if err := enc.Encode(ev.typ, service(ev.name, "5")); err != nil {
			t.Fatal(err)
		}
	}
	initialEnd := stream.Len()
	if err := enc.Encode("BOOKMARK", codec.Bookmark(gvk, "9", true)); err != nil {
		t.Fatal(err)
	}
	// A frame whose object is not a Kubernetes protobuf message, then a normal event.
	{
		var frame bytes.Buffer
		e := codec.NewWatchEncoder(&frame, gvk, true)
		if err := e.Encode("MODIFIED", service("x", "10")); err != nil {
			t.Fatal(err)
		}
		// Break the envelope's magic inside the frame: the frame still parses, its object does not.
		data := frame.Bytes()
		i := bytes.Index(data, []byte("k8s\x00"))
		copy(data[i:], "zzz\x00")
		stream.Write(data)
	}
	if err := enc.Encode("ADDED", service("c", "11")); err != nil {
		t.Fatal(err)
	}

	logger, _ := ktesting.NewTestContext(t)
	var q writeQueue
	w := &cacheWriter{store: store, logger: logger, queue: &q,
		req: &Request{RequestInfo: &apirequest.RequestInfo{Verb: "watch"}, Resource: servicesRes, SendInitialEvents: true}}

	names := func() string {
		items, err := store.List(servicesRes, "")
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, it := range items {
			n = append(n, it.GetName())
		}
		return strings.Join(n, ",")
	}
	// The initial events alone change nothing yet.
	w.consumeWatch(bytes.NewReader(stream.Bytes()[:initialEnd]), codec.MediaTypeProtobuf+";stream=watch")
	if err := q.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := names(); got != "stale" {
		t.Fatalf("before the end bookmark: %s, want stale", got)
	}

	w = &cacheWriter{store: store, logger: logger, queue: &q,
		req: &Request{RequestInfo: &apirequest.RequestInfo{Verb: "watch"}, Resource: servicesRes, SendInitialEvents: true}}
	w.consumeWatch(bytes.NewReader(stream.Bytes()), codec.MediaTypeProtobuf+";stream=watch")
	if err := q.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := names(); got != "a,b,c" {
		t.Fatalf("after the watch list and later events: %s, want a,b,c", got)
	}
	if meta, err := store.ListMeta(servicesRes); err != nil || meta.ResourceVersion != "11" || meta.Kind != "ServiceList" {
		t.Fatalf("list meta: %+v %v", meta, err)
	}
}

// TestCacheWriterSkipsOnlyUnchangedRepeats: a get body the cache already holds is not
// decoded again, but the same body after the object changed in the cache (a watch event,
// a deletion, a corrupt entry dropped) is written again, and so is a relist after a change.
func TestCacheWriterSkipsOnlyUnchangedRepeats(t *testing.T) {
	store := newTestStore(t)
	logger, _ := ktesting.NewTestContext(t)
	var q writeQueue
	get := &cacheWriter{store: store, logger: logger, queue: &q,
		req: &Request{RequestInfo: &apirequest.RequestInfo{Verb: "get", Namespace: "default", Name: "a"}, Resource: servicesRes}}
	data, ct, err := codec.EncodeObject(service("a", "5"), true)
	if err != nil {
		t.Fatal(err)
	}
	rv := func() string {
		t.Helper()
		obj, err := store.Get(servicesRes, "default", "a")
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return obj.GetResourceVersion()
	}
	get.store1(data, ct)
	if got := rv(); got != "5" {
		t.Fatalf("after the first get: %s", got)
	}
	gen := store.Generation(servicesRes)
	get.store1(data, ct)
	d, _ := bodyDigest(data, ct, false)
	if _, same := q.bodies.unchanged(memoKeyOf(get.req), d, gen); store.Generation(servicesRes) != gen || !same {
		t.Fatal("an identical repeat was not recognised")
	}

	// A newer version arrives by another route; the same old body must be applied again.
	if err := store.Put(servicesRes, service("a", "6")); err != nil {
		t.Fatal(err)
	}
	get.store1(data, ct)
	if got := rv(); got != "5" {
		t.Fatalf("the repeated body after a change was skipped: resourceVersion %s", got)
	}
	if err := store.Delete(servicesRes, "default", "a"); err != nil {
		t.Fatal(err)
	}
	get.store1(data, ct)
	if got := rv(); got != "5" {
		t.Fatalf("the repeated body after a deletion was skipped: %s", got)
	}

	// A list, repeated: skipped while unchanged, applied again once an item was changed. A
	// protobuf relist at a newer resourceVersion with the same items only records that.
	list := &cacheWriter{store: store, logger: logger, queue: &q,
		req: &Request{RequestInfo: &apirequest.RequestInfo{Verb: "list"}, Resource: servicesRes}}
	encodeList := func(rv string, protobuf bool, items ...*unstructured.Unstructured) ([]byte, string) {
		t.Helper()
		data, ct, err := codec.EncodeList(schema.GroupVersionKind{Version: "v1", Kind: "ServiceList"}, rv, items, protobuf)
		if err != nil {
			t.Fatal(err)
		}
		return data, ct
	}
	listRV := func() string {
		t.Helper()
		meta, err := store.ListMeta(servicesRes)
		if err != nil {
			t.Fatal(err)
		}
		return meta.ResourceVersion
	}
	for _, protobuf := range []bool{true, false} {
		ldata, lct := encodeList("7", protobuf, service("a", "5"), service("b", "5"))
		list.store1(ldata, lct)
		gen = store.Generation(servicesRes)
		list.store1(ldata, lct)
		if store.Generation(servicesRes) != gen {
			t.Fatalf("protobuf %v: an identical relist changed the cache", protobuf)
		}
		if err := store.Delete(servicesRes, "default", "b"); err != nil {
			t.Fatal(err)
		}
		list.store1(ldata, lct)
		if items, err := store.List(servicesRes, ""); err != nil || len(items) != 2 {
			t.Fatalf("protobuf %v: the relist after a deletion was skipped: %d items, %v", protobuf, len(items), err)
		}

		newer, nct := encodeList("1234567", protobuf, service("a", "5"), service("b", "5"))
		_, withoutMeta := bodyDigest(newer, nct, true)
		if withoutMeta != protobuf {
			t.Fatalf("protobuf %v: digest without the list metadata: %v", protobuf, withoutMeta)
		}
		if start, end, ok := protobufListMeta(newer); ok != protobuf || ok && (!bytes.Contains(newer[start:end], []byte("1234567")) || bytes.Contains(newer[start:end], []byte("default"))) {
			t.Fatalf("protobuf %v: list metadata found %v at %d-%d: %q", protobuf, ok, start, end, newer[start:end])
		}
		if rv, err := protobufListResourceVersion(newer); protobuf && (err != nil || rv != "1234567") {
			t.Fatalf("the resourceVersion read from the list metadata alone: %q, %v", rv, err)
		}
		list.store1(newer, nct)
		if got := listRV(); got != "1234567" {
			t.Fatalf("protobuf %v: list resourceVersion after a relist with the same items: %s", protobuf, got)
		}
		if meta, _ := store.ListMeta(servicesRes); meta.Kind != "ServiceList" || meta.APIVersion != "v1" {
			t.Fatalf("protobuf %v: list meta after a relist with the same items: %+v", protobuf, meta)
		}
		// Another item, at yet another resourceVersion: written.
		changed, cct := encodeList("1234568", protobuf, service("a", "5"), service("c", "8"))
		list.store1(changed, cct)
		items, err := store.List(servicesRes, "")
		if err != nil || len(items) != 2 || items[1].GetName() != "c" || listRV() != "1234568" {
			t.Fatalf("protobuf %v: a relist with other items: %d items, %v, rv %s", protobuf, len(items), err, listRV())
		}
		if err := store.Replace(servicesRes, "", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
}
