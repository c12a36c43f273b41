// Package responsefilter runs ResponseFilters (apps.openyurt.io/v1alpha1) in the hub: it
// keeps the compiled set of filters current (watching them through the hub itself, so the
// last good set survives an offline restart through the hub's cache), backs the filters'
// nodePool() and service() functions with informers, and filters every get, list and watch
// response the proxy returns to a local component, in JSON or protobuf, with the semantics of
// DESIGN.md:
//
//   - list: dropped items leave the list; the list's resourceVersion is unchanged.
//   - watch: an ADDED/MODIFIED object that is dropped becomes DELETED if the client has seen
//     it and is skipped if not; one that stops being dropped arrives as ADDED. BOOKMARK and
//     ERROR events pass through untouched.
//   - get: a dropped object is 404 Not Found.
//   - a failurePolicy: Fail filter that fails fails the request (500, or an ERROR event that
//     ends the watch); Ignore passes the object on unchanged. Neither crashes the hub.
//
// What a client has seen is tracked per "view" — component, resource, namespace and
// selectors — across its list and the watches that continue it. When the set of filters that
// applies to a view changes, its open watches end and the next watch from an old
// resourceVersion gets 410 Gone, so the client relists through the new filters (that is how a
// filter registered with kubectl takes effect without a restart, in both directions). When a
// Service changes, open watches whose filters call service() re-filter the objects of that
// Service (its EndpointSlices, its Endpoints) and send what changed.
package responsefilter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/filter"
	"github.com/yurt-edge/yurt/pkg/hub/codec"
	"github.com/yurt-edge/yurt/pkg/hub/proxy"
)

// UserAgent is the hub's own client for ResponseFilters, NodePools, Services and its Node. Its
// responses are cached (the filters survive an offline restart) and never filtered.
const UserAgent = "yurthub-filters"

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	Logger klog.Logger
	// Node returns this node as filters see it; it may change (labels, pool).
	Node func() filter.Node
	// Synced, if set, closes once the filters and the lookups behind nodePool() and service()
	// have been loaded (or its owner gave up waiting); requests wait for it, so the first
	// responses after a start are filtered with the real filters rather than none.
	Synced <-chan struct{}
}

// Manager filters responses; it implements proxy.ResponseFilters. Safe for concurrent use.
type Manager struct {
	opts  ManagerOptions
	chain atomic.Pointer[filter.Chain]

	mu    sync.Mutex
	views map[viewKey]*view

	// ignored counts evaluation errors of failurePolicy: Ignore filters.
	ignored atomic.Int64
}

var _ proxy.ResponseFilters = &Manager{}

// NewManager returns a manager with no filters.
func NewManager(opts ManagerOptions) *Manager {
	if opts.Node == nil {
		opts.Node = func() filter.Node { return filter.Node{} }
	}
	m := &Manager{opts: opts, views: map[viewKey]*view{}}
	m.chain.Store(filter.NewChain())
	return m
}

// IgnoredErrors is how many times a failurePolicy: Ignore filter failed on an object.
func (m *Manager) IgnoredErrors() int64 { return m.ignored.Load() }

// Chain returns the current filters.
func (m *Manager) Chain() *filter.Chain { return m.chain.Load() }

// SetFilters replaces the set of filters. Open watches whose filters change end, and their
// clients are made to relist (see the package comment).
func (m *Manager) SetFilters(filters []*filter.Filter) {
	chain := filter.NewChain(filters...)
	m.chain.Store(chain)
	m.mu.Lock()
	defer m.mu.Unlock()
	ended := 0
	for _, v := range m.views {
		if len(v.watches) == 0 {
			continue
		}
		id := viewChainID(chain, v.req)
		for w := range v.watches {
			if w.chainID != id {
				w.end()
				ended++
			}
		}
	}
	names := make([]string, 0, len(filters))
	for _, f := range chain.Filters() {
		names = append(names, f.Name+"@"+strconv.FormatInt(f.Generation, 10))
	}
	m.opts.Logger.Info("Response filters changed", "filters", names, "endedWatches", ended)
}

// ServiceChanged re-filters, on every open watch whose filters call service(), the objects
// of that Service (EndpointSlices labelled with its name, the Endpoints of its name) and sends
// the ones whose result may have changed.
func (m *Manager) ServiceChanged(namespace, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range m.views {
		if v.objects == nil {
			continue
		}
		for w := range v.watches {
			w.requestResync(namespace + "/" + name)
		}
	}
}

// NodePoolsChanged re-filters, on every open watch whose filters call nodePool(), every object
// the watch has sent (a node changed pools, so whose endpoints are "in this pool" changed).
func (m *Manager) NodePoolsChanged() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range m.views {
		if v.objects == nil {
			continue
		}
		for w := range v.watches {
			if w.usesNodePool {
				w.requestResync(resyncAll)
			}
		}
	}
}

// resyncAll asks a watch to re-filter every object it keeps.
const resyncAll = "*"

// storedObject is an object kept encoded, with what a Service resync selects it by.
type storedObject struct {
	namespace, name, serviceName string
	data                         []byte
	contentType                  string
	// deleted marks an object deleted after the lists not yet materialized were taken.
	deleted bool
}

type encodedList struct {
	data        []byte
	contentType string
}

// materialize splits the pending list bodies into objects; m.mu held.
func (v *view) materialize() error {
	lists := v.lists
	v.lists = nil
	for _, l := range lists {
		list, err := codec.DecodeList(l.data, l.contentType)
		if err != nil {
			return fmt.Errorf("decoding a kept list: %w", err)
		}
		for i := range list.Items {
			it := &list.Items[i]
			key := objectKey(it)
			if _, newer := v.objects[key]; newer {
				continue
			}
			data, err := json.Marshal(it.Object)
			if err != nil {
				return fmt.Errorf("encoding a kept object: %w", err)
			}
			v.objects[key] = store(it, data, codec.MediaTypeJSON)
		}
	}
	for k, o := range v.objects {
		if o.deleted {
			delete(v.objects, k)
		}
	}
	return nil
}

func (o storedObject) decode() (*unstructured.Unstructured, error) {
	return codec.DecodeObject(o.data, o.contentType)
}

// relatedTo says whether the object belongs to a Service (its Endpoints, its EndpointSlices).
func (o storedObject) relatedTo(namespace, name string) bool {
	return o.namespace == namespace && (o.name == name || o.serviceName == name)
}

// viewKey identifies what one client keeps in sync: a list and the watches continuing it.
type viewKey struct {
	component, group, version, resource, namespace, labels, fields string
}

// view is what the hub knows of a client's copy of a view.
type view struct {
	req filter.Request // verb unset; viewChainID fills it
	// listed is set once a list (or a watch that lists) shaped the client's copy; chainID
	// names the filters that did.
	listed  bool
	chainID string
	// known says seen is exact; if not (a list that passed unfiltered, a hub restart), events
	// are converted as if any object might have been seen.
	known bool
	seen  map[string]struct{}
	// objects are the last unfiltered versions, kept when the view's filters call service()
	// or nodePool() so they can be re-filtered when a Service or the pools change. They are
	// kept encoded (a fraction of the decoded size: hubs run on small machines).
	objects map[string]storedObject
	// lists are the list bodies the objects came from, not yet split into objects: that is
	// done (materialize) only when a re-filter needs them, so a list costs nothing extra.
	// objects then override their items (watch events are newer), deleted ones included.
	lists   []encodedList
	watches map[*watch]struct{}
}

// viewChainID names the filters applying to a view's lists and watches.
func viewChainID(chain *filter.Chain, req filter.Request) string {
	var b strings.Builder
	for _, verb := range []string{"list", "watch"} {
		req.Verb = verb
		for _, f := range chain.For(req).Filters() {
			b.WriteString(f.Name)
			b.WriteByte('/')
			b.WriteString(string(f.UID))
			b.WriteByte('/')
			b.WriteString(strconv.FormatInt(f.Generation, 10))
			b.WriteByte(',')
		}
		b.WriteByte('|')
	}
	return b.String()
}

// watch is one open watch.
type watch struct {
	chainID      string
	usesNodePool bool
	once         sync.Once
	ended        chan struct{}

	mu      sync.Mutex
	pending map[string]struct{} // namespace/name of Services to resync
	notify  chan struct{}
}

func newWatch(chainID string) *watch {
	return &watch{chainID: chainID, ended: make(chan struct{}), notify: make(chan struct{}, 1)}
}

func (w *watch) end() { w.once.Do(func() { close(w.ended) }) }

func (w *watch) requestResync(service string) {
	w.mu.Lock()
	if w.pending == nil {
		w.pending = map[string]struct{}{}
	}
	w.pending[service] = struct{}{}
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

func (w *watch) takeResync() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.pending))
	for s := range w.pending {
		out = append(out, s)
	}
	w.pending = nil
	sort.Strings(out)
	return out
}

// Begin implements proxy.ResponseFilters.
func (m *Manager) Begin(ctx context.Context, r *http.Request, req *proxy.Request) proxy.FilterSession {
	if !req.IsRead() || req.Subresource != "" || req.Component == UserAgent {
		return nil
	}
	// Tables and metadata-only responses are not the objects filters are written for.
	if codec.AsParameter(r.Header.Get("Accept")) != "" {
		return nil
	}
	if m.opts.Synced != nil {
		select {
		case <-m.opts.Synced:
		case <-ctx.Done():
		}
	}
	all := m.chain.Load()
	fr := filter.Request{
		UserAgent: req.Component, Verb: req.Verb, Group: req.APIGroup, Version: req.APIVersion,
		Resource: req.Resource.Resource, Namespace: req.Namespace, Name: req.Name,
	}
	chain := all.For(fr)
	if req.Verb == "get" && chain.Empty() {
		return nil
	}
	s := &session{
		m: m, req: fr, chain: chain, node: m.opts.Node(), verb: req.Verb,
		logger: klog.FromContext(ctx),
	}
	for _, f := range chain.Filters() {
		s.usesService = s.usesService || f.UsesService()
		s.usesNodePool = s.usesNodePool || f.UsesNodePool()
	}
	if req.Verb == "get" {
		return s
	}
	q := r.URL.Query()
	s.continued = q.Get("continue") != ""
	key := viewKey{
		component: req.Component, group: req.APIGroup, version: req.APIVersion, resource: req.Resource.Resource,
		namespace: req.Namespace, labels: q.Get("labelSelector"), fields: q.Get("fieldSelector"),
	}
	vreq := fr
	vreq.Verb, vreq.Name = "", ""
	id := viewChainID(all, vreq)
	s.chainID = id

	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.views[key]
	if v == nil {
		v = &view{req: vreq, watches: map[*watch]struct{}{}}
		m.views[key] = v
	}
	s.view = v
	if req.Verb == "watch" {
		if proxyUnsetRV(req.ResourceVersion) || req.SendInitialEvents {
			// The watch starts with the current state: the client's copy is rebuilt from it.
			s.resetView(!chain.Empty())
		} else if v.listed && v.chainID != id {
			s.relist = true
		}
		s.watch = newWatch(id)
		s.watch.usesNodePool = s.usesNodePool
		v.watches[s.watch] = struct{}{}
	}
	return s
}

func proxyUnsetRV(rv string) bool { return rv == "" || rv == "0" }
