package proxy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"iter"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/hub/cache"
	"github.com/yurt-edge/yurt/pkg/hub/codec"
	"github.com/yurt-edge/yurt/pkg/hub/metrics"
)

// cacheWriter applies one cloud response to the cache.
type cacheWriter struct {
	store   *cache.Store
	metrics *metrics.Metrics
	logger  klog.Logger
	req     *Request
	queue   *writeQueue
}

func (w *cacheWriter) result(err error, msg string) {
	if err != nil {
		w.logger.Error(err, msg)
		if w.metrics != nil {
			w.metrics.CacheWrites.WithLabelValues("error").Inc()
		}
		return
	}
	if w.metrics != nil {
		w.metrics.CacheWrites.WithLabelValues("ok").Inc()
	}
}

// matches reports whether obj is one the request covers, so that a list replaces exactly those.
func (w *cacheWriter) matches(obj *unstructured.Unstructured) bool {
	return (w.req.Name == "" || obj.GetName() == w.req.Name) && w.req.Selector.Matches(obj)
}

// forget removes an object the cloud says does not exist.
func (w *cacheWriter) forget() {
	w.result(w.store.Delete(w.req.Resource, w.req.Namespace, w.req.Name), "Removing a deleted object from the cache")
}

// store1 stores a complete get or list response body. A list is decoded item by item as it is
// written (codec.DecodeListItems), so it never exists decoded in full. A body the same request
// got last time, with the resource's entries unchanged since, is not decoded again (bodyMemo).
func (w *cacheWriter) store1(data []byte, contentType string) {
	if w.req.Paged {
		w.store1Decoded(data, contentType)
		return
	}
	key := memoKeyOf(w.req)
	digest, withoutMeta := bodyDigest(data, contentType, w.req.Verb == "list")
	before := w.store.Generation(w.req.Resource)
	last, unchanged := w.queue.bodies.unchanged(key, digest, before)
	info := codec.ListInfo{APIVersion: last.apiVersion, Kind: last.kind}
	switch {
	case !unchanged:
		var ok bool
		if info, ok = w.store1Decoded(data, contentType); !ok {
			w.queue.bodies.forget(key)
			return
		}
	case !withoutMeta:
		w.result(nil, "")
		return
	default:
		// The same items, the list's resourceVersion perhaps not (it moves with every write
		// anywhere in the cluster): record only that, read from the list's metadata alone.
		var err error
		if info.ResourceVersion, err = protobufListResourceVersion(data); err == nil {
			err = w.store.PutListMeta(w.req.Resource, cache.ListMeta{APIVersion: info.APIVersion, Kind: info.Kind, ResourceVersion: info.ResourceVersion})
		}
		w.result(err, "Caching a list's resourceVersion")
		if err != nil {
			w.queue.bodies.forget(key)
			return
		}
	}
	// Writes after this write (the queue is the resource's only writer), drops from before it:
	// a corrupt entry dropped meanwhile may have been one just written.
	after := w.store.Generation(w.req.Resource)
	w.queue.bodies.remember(key, memoEntry{
		digest: digest, gen: cache.Generation{Writes: after.Writes, Drops: before.Drops},
		size: len(data), apiVersion: info.APIVersion, kind: info.Kind,
	})
}

// protobufListResourceVersion reads the resourceVersion of a protobuf list from its ListMeta
// alone (protobufListMeta), without unwrapping the rest of the body.
func protobufListResourceVersion(data []byte) (string, error) {
	start, end, ok := protobufListMeta(data)
	if !ok {
		return "", errors.New("a protobuf list without list metadata")
	}
	field := data[start:end]
	_, _, n := protowire.ConsumeTag(field)
	value, m := protowire.ConsumeBytes(field[n:])
	if n < 0 || m < 0 {
		return "", errors.New("malformed protobuf list metadata")
	}
	var lm metav1.ListMeta
	if err := lm.Unmarshal(value); err != nil {
		return "", fmt.Errorf("decoding a protobuf list's metadata: %w", err)
	}
	return lm.ResourceVersion, nil
}

// store1Decoded decodes and stores a get or list body; it reports success, and a list's own
// metadata.
func (w *cacheWriter) store1Decoded(data []byte, contentType string) (codec.ListInfo, bool) {
	if w.req.Verb == "get" {
		it, err := codec.DecodeItem(data, contentType)
		if err != nil {
			w.result(err, "Decoding a get response for the cache")
			return codec.ListInfo{}, false
		}
		err = w.store.PutEncoded(w.req.Resource, encoded(it))
		w.result(err, "Caching a get response")
		return codec.ListInfo{}, err == nil
	}
	info, items, err := codec.DecodeListItems(data, contentType)
	if err != nil {
		w.result(err, "Decoding a list response for the cache")
		return info, false
	}
	if w.req.Paged || info.Continue != "" {
		// One page of many: add what it holds, remove nothing.
		for it, err := range items {
			if err == nil {
				err = w.store.PutEncoded(w.req.Resource, encoded(it))
			}
			if err != nil {
				w.result(err, "Caching a list page")
				return info, false
			}
		}
	} else if err := w.store.ReplaceEncoded(w.req.Resource, w.req.Namespace, w.matches, encodedSeq(items)); err != nil {
		w.result(err, "Caching a list response")
		return info, false
	}
	err = w.store.PutListMeta(w.req.Resource, cache.ListMeta{
		APIVersion: info.APIVersion, Kind: info.Kind, ResourceVersion: info.ResourceVersion,
	})
	w.result(err, "Caching a list's resourceVersion")
	return info, err == nil
}

// bodyMemo remembers, per request shape, a digest of the last whole get or list body applied
// to the cache and the resource's cache generation right after. Clients repeat requests whose
// answer has not changed (a get of the same object, a relist at the same resourceVersion);
// decoding such a body again changes nothing on disk but costs CPU the hub's other requests
// are waiting for — tens of milliseconds for a list of a thousand EndpointSlices.
type bodyMemo struct {
	mu sync.Mutex
	m  map[memoKey]memoEntry
}

// memoKey is the shape of a request: what its response replaces in the cache.
type memoKey struct {
	resource                  cache.Resource
	verb, namespace, name, ls string
}

type memoEntry struct {
	digest uint64
	gen    cache.Generation
	// size is the body's, to size the copy of the next one; apiVersion and kind are a list's.
	size             int
	apiVersion, kind string
}

// maxMemo bounds the memo (one entry per object got or list shape); beyond it the memo starts
// afresh, which only costs a decode per entry.
const maxMemo = 4096

var memoSeed = maphash.MakeSeed()

func memoKeyOf(req *Request) memoKey {
	k := memoKey{resource: req.Resource, verb: req.Verb, namespace: req.Namespace, name: req.Name}
	if req.Selector.Labels != nil {
		k.ls = req.Selector.Labels.String()
	}
	if req.Selector.Fields != nil {
		k.ls += "|" + req.Selector.Fields.String()
	}
	return k
}

// bodyDigest hashes a body with its Content-Type (64 bits: a collision is not a concern next
// to disk errors, and none can be provoked without knowing the process's random seed). For a
// protobuf list it leaves the list's metadata out and says so (withoutMeta): its
// resourceVersion changes with every write anywhere in the cluster, its items seldom do.
func bodyDigest(data []byte, contentType string, list bool) (digest uint64, withoutMeta bool) {
	var h maphash.Hash
	h.SetSeed(memoSeed)
	_, _ = h.WriteString(contentType)
	_ = h.WriteByte(0)
	if start, end, ok := protobufListMeta(data); list && ok && codec.IsProtobuf(contentType) {
		// The length of the part before the metadata too, so that no two different bodies
		// hash the same pieces.
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(start))
		_, _ = h.Write(n[:])
		_, _ = h.Write(data[:start])
		_, _ = h.Write(data[end:])
		return h.Sum64(), true
	}
	_, _ = h.Write(data)
	return h.Sum64(), false
}

// protobufListMeta finds the list metadata in a protobuf list body: Kubernetes' envelope is
// the magic "k8s\0" then a runtime.Unknown whose field 2 is the list message, and a list
// message's first field is its ListMeta (field 1). It returns the byte range of that field.
func protobufListMeta(data []byte) (start, end int, ok bool) {
	const magic = "k8s\x00"
	if !bytes.HasPrefix(data, []byte(magic)) {
		return 0, 0, false
	}
	off := len(magic)
	for off < len(data) {
		num, typ, n := protowire.ConsumeTag(data[off:])
		if n < 0 {
			return 0, 0, false
		}
		m := protowire.ConsumeFieldValue(num, typ, data[off+n:])
		if m < 0 {
			return 0, 0, false
		}
		if num == 2 && typ == protowire.BytesType {
			list, vn := protowire.ConsumeBytes(data[off+n:])
			base := off + n + vn - len(list)
			num1, typ1, n1 := protowire.ConsumeTag(list)
			if n1 < 0 || num1 != 1 || typ1 != protowire.BytesType {
				return 0, 0, false
			}
			m1 := protowire.ConsumeFieldValue(num1, typ1, list[n1:])
			if m1 < 0 {
				return 0, 0, false
			}
			return base, base + n1 + m1, true
		}
		off += n + m
	}
	return 0, 0, false
}

// unchanged returns what was remembered for k and whether it has digest and gen.
func (b *bodyMemo) unchanged(k memoKey, digest uint64, gen cache.Generation) (memoEntry, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.m[k]
	return e, ok && e.digest == digest && e.gen == gen
}

// sizeHint is the size of the last body remembered for k, 0 if none.
func (b *bodyMemo) sizeHint(k memoKey) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.m[k].size
}

func (b *bodyMemo) remember(k memoKey, e memoEntry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil || len(b.m) >= maxMemo {
		b.m = map[memoKey]memoEntry{}
	}
	b.m[k] = e
}

func (b *bodyMemo) forget(k memoKey) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, k)
}

func encoded(it codec.Item) cache.Encoded {
	return cache.Encoded{Namespace: it.Namespace, Name: it.Name, JSON: it.JSON}
}

func encodedSeq(items iter.Seq2[codec.Item, error]) iter.Seq2[cache.Encoded, error] {
	return func(yield func(cache.Encoded, error) bool) {
		for it, err := range items {
			if !yield(encoded(it), err) {
				return
			}
		}
	}
}

// consumeWatch applies a watch stream's events. Events are queued as they came off the wire
// and decoded only when applied: a backlog of decoded objects (up to queueDepth of them) was
// most of a busy hub's heap.
func (w *cacheWriter) consumeWatch(r io.Reader, contentType string) {
	apply := w.applyRawWatch()
	dec := codec.NewWatchDecoder(r, contentType)
	for {
		ev, err := dec.NextRaw()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				w.logger.V(2).Info("Stopped caching a watch stream", "err", err)
			}
			return
		}
		w.queue.enqueue(w.req.Resource, func() { apply(ev) })
	}
}

// applyWatch returns a function that applies one decoded watch event to the cache (events
// from the pool coordinator); calls must be in stream order (the write queue runs them so).
func (w *cacheWriter) applyWatch() func(codec.Event) {
	apply := w.applyItemWatch()
	return func(ev codec.Event) {
		if ev.Object == nil {
			return // ERROR events change nothing
		}
		apply(ev.Type, func() (codec.Item, error) { return codec.ItemOf(ev.Object) })
	}
}

// applyRawWatch is applyWatch for events still encoded as received.
func (w *cacheWriter) applyRawWatch() func(codec.RawEvent) {
	apply := w.applyItemWatch()
	return func(ev codec.RawEvent) {
		if ev.Type == "ERROR" {
			return // ERROR events change nothing
		}
		apply(ev.Type, func() (codec.Item, error) { return codec.DecodeItem(ev.Object, ev.ContentType) })
	}
}

// applyItemWatch returns a function that applies one event, whose object decode yields, to
// the cache. A watch list (sendInitialEvents) is a list in disguise: its initial events replace
// the covered objects once the end bookmark arrives; until then they are held still encoded.
func (w *cacheWriter) applyItemWatch() func(typ string, decode func() (codec.Item, error)) {
	initial := w.req.SendInitialEvents
	var initialItems []func() (codec.Item, error)
	return func(typ string, decode func() (codec.Item, error)) {
		if initial && (typ == "ADDED" || typ == "MODIFIED") {
			initialItems = append(initialItems, decode)
			return
		}
		switch typ {
		case "ADDED", "MODIFIED", "DELETED", "BOOKMARK":
		default:
			return
		}
		obj, err := decode()
		if err != nil {
			w.result(err, "Decoding a watch event for the cache")
			return
		}
		switch typ {
		case "ADDED", "MODIFIED":
			w.result(w.store.PutEncoded(w.req.Resource, encoded(obj)), "Caching a watch event")
		case "DELETED":
			w.result(w.store.Delete(w.req.Resource, obj.Namespace, obj.Name), "Caching a watch event")
		case "BOOKMARK":
			if initial && obj.InitialEventsEnd {
				initial = false
				pending := initialItems
				initialItems = nil
				w.result(w.store.ReplaceEncoded(w.req.Resource, w.req.Namespace, w.matches, func(yield func(cache.Encoded, error) bool) {
					for _, decode := range pending {
						it, err := decode()
						if !yield(encoded(it), err) {
							return
						}
					}
				}), "Caching a watch list")
			} else if initial {
				return
			}
		}
		if obj.ResourceVersion != "" {
			w.result(w.store.PutListMeta(w.req.Resource, cache.ListMeta{
				APIVersion: obj.APIVersion, Kind: obj.Kind + "List", ResourceVersion: obj.ResourceVersion,
			}), "Caching a watch's resourceVersion")
		}
	}
}
