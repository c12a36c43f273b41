package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/yurt-edge/yurt/pkg/coordinator"
	ct "github.com/yurt-edge/yurt/pkg/coordinator/coordinatortest"
	"github.com/yurt-edge/yurt/pkg/coordinator/store"
	"github.com/yurt-edge/yurt/pkg/embeddedetcd"
)

const pool = "pool-a"

func newStore(t *testing.T) (*store.Store, *coordinator.Client, *ct.Etcd) {
	t.Helper()
	e := ct.Start(t, nil)
	c := e.NewClient(t, pool, "hub-1", coordinator.NewMetrics(nil))
	return store.New(c, nil), c, e
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// withKind sets apiVersion/kind on a copy, as decoded objects carry them.
func withKind(t *testing.T, obj runtime.Object) runtime.Object {
	t.Helper()
	obj = obj.DeepCopyObject()
	if obj.GetObjectKind().GroupVersionKind().Empty() {
		gvks, _, err := scheme.Scheme.ObjectKinds(obj)
		if err != nil {
			t.Fatal(err)
		}
		obj.GetObjectKind().SetGroupVersionKind(gvks[0])
	}
	return obj
}

func nameOf(obj runtime.Object) string {
	m, _ := meta.Accessor(obj)
	return m.GetNamespace() + "/" + m.GetName() + "@" + m.GetResourceVersion()
}

func TestRoundTrip(t *testing.T) {
	s, c, _ := newStore(t)
	ctx := ctxT(t)
	for _, tc := range []struct {
		name      string
		gvr       schema.GroupVersionResource
		obj       runtime.Object
		namespace string
		protobuf  bool
	}{
		{"service", ct.ServicesGVR, ct.Service("default", "web", "1001"), "default", true},
		{"endpointslice", ct.EndpointSlicesGVR, ct.EndpointSlice("default", "web-abc", "web", "1002", 50), "default", true},
		{"lease", ct.LeasesGVR, ct.Lease("node-1", "1003", time.Now()), "kube-node-lease", true},
		{"unstructured", ct.WidgetsGVR, ct.Widget("team-a", "w1", "1004"), "team-a", false},
		{"unstructured cluster-scoped", ct.WidgetsGVR, ct.Widget("", "w2", "1005"), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := meta.Accessor(tc.obj)
			rev, err := s.Put(ctx, tc.gvr, tc.obj)
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			got, _, err := s.Get(ctx, tc.gvr, tc.namespace, m.GetName())
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if want := withKind(t, tc.obj); !equality.Semantic.DeepEqual(got, want) {
				t.Errorf("round trip changed the object:\n got %#v\nwant %#v", got, want)
			}
			gm, _ := meta.Accessor(got)
			if gm.GetResourceVersion() != m.GetResourceVersion() {
				t.Errorf("resourceVersion %q, want the cloud's %q", gm.GetResourceVersion(), m.GetResourceVersion())
			}
			raw, err := c.Etcd.Get(ctx, coordinator.ObjectKey(pool, tc.gvr, tc.namespace, m.GetName()))
			if err != nil || len(raw.Kvs) != 1 {
				t.Fatalf("raw read: %v %v", raw, err)
			}
			if raw.Kvs[0].ModRevision != rev {
				t.Errorf("Put returned revision %d, key has %d", rev, raw.Kvs[0].ModRevision)
			}
			if isProto := bytes.HasPrefix(raw.Kvs[0].Value, []byte("k8s\x00")); isProto != tc.protobuf {
				t.Errorf("stored as protobuf = %v, want %v", isProto, tc.protobuf)
			}
		})
	}
	if _, _, err := s.Get(ctx, ct.ServicesGVR, "default", "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get of a missing object: %v, want ErrNotFound", err)
	}
}

func TestPutRefusesBadInput(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := ctxT(t)
	noName := ct.Service("default", "", "1")
	noKind := ct.Widget("default", "w", "1")
	noKind.SetKind("")
	for name, tc := range map[string]struct {
		gvr schema.GroupVersionResource
		obj runtime.Object
	}{
		"no name":                {ct.ServicesGVR, noName},
		"unstructured no kind":   {ct.WidgetsGVR, noKind},
		"no resource":            {schema.GroupVersionResource{Version: "v1"}, ct.Service("default", "a", "1")},
		"slash in resource":      {schema.GroupVersionResource{Version: "v1", Resource: "a/b"}, ct.Service("default", "a", "1")},
		"type not in the scheme": {ct.WidgetsGVR, &notInScheme{ObjectMeta: metav1.ObjectMeta{Name: "x"}}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Put(ctx, tc.gvr, tc.obj); err == nil {
				t.Fatal("Put accepted it")
			}
		})
	}
}

// notInScheme is a typed object of a kind no scheme registers.
type notInScheme struct{ metav1.ObjectMeta }

func (n *notInScheme) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }
func (n *notInScheme) DeepCopyObject() runtime.Object   { return n }

func TestListWatchOrdering(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := ctxT(t)
	for _, obj := range []runtime.Object{
		ct.Service("ns-b", "b1", "10"), ct.Service("ns-a", "a2", "11"), ct.Service("ns-a", "a1", "12"),
	} {
		if _, err := s.Put(ctx, ct.ServicesGVR, obj); err != nil {
			t.Fatal(err)
		}
	}
	// Another resource and another pool must not show up.
	if _, err := s.Put(ctx, ct.EndpointSlicesGVR, ct.EndpointSlice("ns-a", "a1-x", "a1", "13", 1)); err != nil {
		t.Fatal(err)
	}
	all, err := s.List(ctx, ct.ServicesGVR, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(all.Items); fmt.Sprint(got) != "[ns-a/a1@12 ns-a/a2@11 ns-b/b1@10]" {
		t.Errorf("List(all) = %v", got)
	}
	nsA, err := s.List(ctx, ct.ServicesGVR, "ns-a")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(nsA.Items); fmt.Sprint(got) != "[ns-a/a1@12 ns-a/a2@11]" {
		t.Errorf("List(ns-a) = %v", got)
	}

	w, err := s.Watch(ctx, ct.ServicesGVR, "", all.Revision, store.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	wa, err := s.Watch(ctx, ct.ServicesGVR, "ns-a", all.Revision, store.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer wa.Stop()

	steps := []func() error{
		func() error { _, err := s.Put(ctx, ct.ServicesGVR, ct.Service("ns-c", "c1", "20")); return err },
		func() error { _, err := s.Put(ctx, ct.ServicesGVR, ct.Service("ns-a", "a1", "21")); return err },
		func() error { _, err := s.Delete(ctx, ct.ServicesGVR, "ns-b", "b1"); return err },
		func() error { _, err := s.Put(ctx, ct.ServicesGVR, ct.Service("ns-b", "b1", "23")); return err },
		func() error { _, err := s.Delete(ctx, ct.ServicesGVR, "ns-a", "a2"); return err },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"ADDED ns-c/c1@20", "MODIFIED ns-a/a1@21", "DELETED ns-b/b1@10", "ADDED ns-b/b1@23", "DELETED ns-a/a2@11"}
	if got := collect(t, w, len(want)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("watch(all) events:\n got %v\nwant %v", got, want)
	}
	wantA := []string{"MODIFIED ns-a/a1@21", "DELETED ns-a/a2@11"}
	if got := collect(t, wa, len(wantA)); fmt.Sprint(got) != fmt.Sprint(wantA) {
		t.Errorf("watch(ns-a) events:\n got %v\nwant %v", got, wantA)
	}
	// A list at the end equals the first list plus the events.
	end, err := s.List(ctx, ct.ServicesGVR, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(end.Items); fmt.Sprint(got) != "[ns-a/a1@21 ns-b/b1@23 ns-c/c1@20]" {
		t.Errorf("final List = %v", got)
	}
	w.Stop()
	if _, open := <-w.ResultChan(); open {
		t.Error("ResultChan still open after Stop")
	}
	if w.Err() != nil {
		t.Errorf("Err after Stop = %v, want nil", w.Err())
	}
}

func TestListPages(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := ctxT(t)
	const n = 1234 // more than two pages
	items := make([]runtime.Object, 0, n)
	for i := 0; i < n; i++ {
		items = append(items, ct.Service("default", fmt.Sprintf("svc-%05d", i), fmt.Sprint(i+1)))
	}
	if _, err := s.Replace(ctx, ct.ServicesGVR, items, "5000"); err != nil {
		t.Fatal(err)
	}
	l, err := s.List(ctx, ct.ServicesGVR, "default")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != n {
		t.Fatalf("listed %d, want %d", len(l.Items), n)
	}
	for i, obj := range l.Items {
		if want := fmt.Sprintf("default/svc-%05d@%d", i, i+1); nameOf(obj) != want {
			t.Fatalf("item %d = %s, want %s", i, nameOf(obj), want)
		}
	}
}

func names(objs []runtime.Object) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, nameOf(o))
	}
	return out
}

func collect(t *testing.T, w *store.Watcher, n int) []string {
	t.Helper()
	var out []string
	timeout := time.After(30 * time.Second)
	for len(out) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch ended after %v: %v", out, w.Err())
			}
			if ev.Type == watch.Bookmark {
				continue
			}
			out = append(out, string(ev.Type)+" "+nameOf(ev.Object))
		case <-timeout:
			t.Fatalf("timed out waiting for events; have %v", out)
		}
	}
	return out
}

func TestReplace(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := ctxT(t)
	gvr := ct.EndpointSlicesGVR
	for _, obj := range []runtime.Object{
		ct.EndpointSlice("default", "a", "svc", "1", 2),
		ct.EndpointSlice("default", "b", "svc", "2", 2),
		ct.EndpointSlice("default", "c", "svc", "3", 2),
	} {
		if _, err := s.Put(ctx, gvr, obj); err != nil {
			t.Fatal(err)
		}
	}
	before, err := s.List(ctx, gvr, "")
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Watch(ctx, gvr, "", before.Revision, store.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	res, err := s.Replace(ctx, gvr, []runtime.Object{
		ct.EndpointSlice("default", "b", "svc", "7", 3), // changed
		ct.EndpointSlice("default", "c", "svc", "3", 2), // unchanged
		ct.EndpointSlice("other", "d", "svc", "8", 1),   // new
	}, "9")
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 2 || res.Deleted != 1 || res.Unchanged != 1 {
		t.Errorf("Replace = %+v, want 2 written, 1 deleted, 1 unchanged", res)
	}
	want := []string{"MODIFIED default/b@7", "ADDED other/d@8", "DELETED default/a@1"}
	if got := collect(t, w, len(want)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events:\n got %v\nwant %v", got, want)
	}
	after, err := s.List(ctx, gvr, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(after.Items); fmt.Sprint(got) != "[default/b@7 default/c@3 other/d@8]" {
		t.Errorf("after Replace: %v", got)
	}
	m, err := s.SyncMarker(ctx, gvr)
	if err != nil {
		t.Fatal(err)
	}
	if m.CloudResourceVersion != "9" || m.Holder != "hub-1" || m.Revision != res.Revision {
		t.Errorf("sync marker %+v, want cloud RV 9 by hub-1 at revision %d", m, res.Revision)
	}

	// A relist larger than one transaction (by count and by bytes), then an empty one.
	var many []runtime.Object
	for i := 0; i < 450; i++ {
		many = append(many, ct.EndpointSlice("default", fmt.Sprintf("s-%03d", i), "svc", fmt.Sprint(100+i), 50))
	}
	if res, err = s.Replace(ctx, gvr, many, "600"); err != nil {
		t.Fatal(err)
	}
	if res.Written != 450 || res.Deleted != 3 {
		t.Errorf("large Replace = %+v, want 450 written, 3 deleted", res)
	}
	if l, _ := s.List(ctx, gvr, ""); len(l.Items) != 450 {
		t.Errorf("after large Replace: %d items", len(l.Items))
	}
	if res, err = s.Replace(ctx, gvr, nil, "601"); err != nil || res.Deleted != 450 {
		t.Errorf("empty Replace = %+v, %v; want 450 deleted", res, err)
	}
	if l, _ := s.List(ctx, gvr, ""); len(l.Items) != 0 {
		t.Errorf("after empty Replace: %d items", len(l.Items))
	}
}

func TestCorruptValuesAreSkippedAndReported(t *testing.T) {
	s, c, _ := newStore(t)
	ctx := ctxT(t)
	gvr := ct.ServicesGVR
	good := ct.Service("default", "good", "5")
	if _, err := s.Put(ctx, gvr, good); err != nil {
		t.Fatal(err)
	}
	protoOf := func(obj runtime.Object) string {
		rest := store.New(c, nil)
		if _, err := rest.Put(ctx, gvr, obj); err != nil {
			t.Fatal(err)
		}
		m, _ := meta.Accessor(obj)
		resp, err := c.Etcd.Get(ctx, coordinator.ObjectKey(pool, gvr, m.GetNamespace(), m.GetName()))
		if err != nil {
			t.Fatal(err)
		}
		return string(resp.Kvs[0].Value)
	}
	valid := protoOf(ct.Service("default", "template", "6"))
	if _, err := s.Delete(ctx, gvr, "default", "template"); err != nil {
		t.Fatal(err)
	}
	corrupt := map[string]string{
		"garbage":       "\x00\x01not an object",
		"truncated":     valid[:len(valid)/2],
		"bad envelope":  "k8s\x00\xff\xff\xff",
		"empty":         "",
		"json no kind":  `{"apiVersion":"v1","metadata":{"name":"json-no-kind","namespace":"default"}}`,
		"json list":     `{"apiVersion":"v1","kind":"List","items":[]}`,
		"json broken":   `{"apiVersion":"v1","kind":"Service",`,
		"wrong name":    valid, // a Service named "template" under another name's key
		"unknown proto": "k8s\x00\n\x12\n\x0bexample/v1\x12\x03Foo\x12\x02\x08\x01",
	}
	var keys []string
	for name, value := range corrupt {
		key := coordinator.ObjectKey(pool, gvr, "default", "bad-"+name[:3]+fmt.Sprint(len(keys)))
		keys = append(keys, key)
		if _, err := c.Etcd.Put(ctx, key, value); err != nil {
			t.Fatal(err)
		}
	}
	before := testutil.ToFloat64(c.Metrics.CorruptValues.WithLabelValues("object"))
	l, err := s.List(ctx, gvr, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(l.Items); fmt.Sprint(got) != "[default/good@5]" {
		t.Errorf("List returned %v, want only the good object", got)
	}
	if len(l.Skipped) != len(corrupt) {
		t.Errorf("List skipped %d values, want %d: %v", len(l.Skipped), len(corrupt), l.Skipped)
	}
	for _, sk := range l.Skipped {
		if sk.Err == nil || sk.Key == "" || sk.ModRevision == 0 {
			t.Errorf("incomplete skip report %+v", sk)
		}
	}
	if got := testutil.ToFloat64(c.Metrics.CorruptValues.WithLabelValues("object")) - before; got != float64(len(corrupt)) {
		t.Errorf("corrupt counter rose by %v, want %d", got, len(corrupt))
	}
	for _, key := range keys {
		name := key[len(coordinator.ObjectsPrefix(pool, gvr, "default")):]
		if obj, _, err := s.Get(ctx, gvr, "default", name); err == nil {
			t.Errorf("Get %s returned %v for a corrupt value", name, nameOf(obj))
		}
	}

	// Watch: a corrupt new value of a known object deletes it for the watcher; a corrupt new
	// key is skipped; both are reported through OnSkip.
	skipped := make(chan store.Skipped, 10)
	w, err := s.Watch(ctx, gvr, "", l.Revision, store.WatchOptions{OnSkip: func(sk store.Skipped) { skipped <- sk }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := c.Etcd.Put(ctx, coordinator.ObjectKey(pool, gvr, "default", "fresh-bad"), "junk"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Etcd.Put(ctx, coordinator.ObjectKey(pool, gvr, "default", "good"), "junk"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, gvr, ct.Service("default", "after", "7")); err != nil {
		t.Fatal(err)
	}
	want := []string{"DELETED default/good@5", "ADDED default/after@7"}
	if got := collect(t, w, len(want)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("watch events:\n got %v\nwant %v", got, want)
	}
	if n := len(skipped); n != 2 {
		t.Errorf("OnSkip called %d times, want 2", n)
	}
}

func TestWatchCompacted(t *testing.T) {
	s, c, _ := newStore(t)
	ctx := ctxT(t)
	first, err := s.Put(ctx, ct.ServicesGVR, ct.Service("default", "a", "1"))
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.Put(ctx, ct.ServicesGVR, ct.Service("default", "a", "2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Etcd.Compact(ctx, last); err != nil {
		t.Fatal(err)
	}
	w, err := s.Watch(ctx, ct.ServicesGVR, "", first-1, store.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	select {
	case ev, ok := <-w.ResultChan():
		if ok {
			t.Fatalf("got event %v from a compacted revision", ev.Type)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("watch from a compacted revision did not end")
	}
	if !errors.Is(w.Err(), store.ErrCompacted) {
		t.Errorf("Err = %v, want ErrCompacted", w.Err())
	}
}

func TestWatchEndsWhenClientCloses(t *testing.T) {
	s, c, _ := newStore(t)
	w, err := s.Watch(ctxT(t), ct.ServicesGVR, "", 0, store.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	select {
	case <-w.ResultChan():
	case <-time.After(30 * time.Second):
		t.Fatal("watch did not end when the client closed")
	}
	for range w.ResultChan() {
	}
	t.Logf("Err after client close: %v", w.Err())
}

func TestGuard(t *testing.T) {
	s, c, _ := newStore(t)
	ctx := ctxT(t)
	if _, err := c.Etcd.Put(ctx, "/guard", "x"); err != nil {
		t.Fatal(err)
	}
	holds := s.WithGuard(clientv3.Compare(clientv3.Value("/guard"), "=", "x"))
	fails := s.WithGuard(clientv3.Compare(clientv3.Value("/guard"), "=", "y"))
	if _, err := holds.Put(ctx, ct.ServicesGVR, ct.Service("default", "a", "1")); err != nil {
		t.Errorf("guarded Put with a holding guard: %v", err)
	}
	if _, err := fails.Put(ctx, ct.ServicesGVR, ct.Service("default", "b", "1")); !errors.Is(err, store.ErrGuardFailed) {
		t.Errorf("guarded Put with a failing guard: %v, want ErrGuardFailed", err)
	}
	if _, err := fails.Delete(ctx, ct.ServicesGVR, "default", "a"); !errors.Is(err, store.ErrGuardFailed) {
		t.Errorf("guarded Delete with a failing guard: %v", err)
	}
	if _, err := fails.Replace(ctx, ct.ServicesGVR, nil, "1"); !errors.Is(err, store.ErrGuardFailed) {
		t.Errorf("guarded Replace with a failing guard: %v", err)
	}
	if _, err := fails.MarkSynced(ctx, ct.ServicesGVR, "1"); !errors.Is(err, store.ErrGuardFailed) {
		t.Errorf("guarded MarkSynced with a failing guard: %v", err)
	}
	if l, _ := s.List(ctx, ct.ServicesGVR, ""); fmt.Sprint(names(l.Items)) != "[default/a@1]" {
		t.Errorf("after guarded writes: %v", names(l.Items))
	}
}

// TestWatchSurvivesAMemberRestart: a watch does not end while the coordinator is down; the
// client reconnects and the watch resumes after the last revision it delivered, without gaps.
func TestWatchSurvivesAMemberRestart(t *testing.T) {
	dir := t.TempDir()
	o := embeddedetcd.NewOptions(dir)
	o.LogLevel = "error"
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	start := func() *embeddedetcd.Server {
		cfg, err := o.Config()
		if err != nil {
			t.Fatal(err)
		}
		srv, err := embeddedetcd.Start(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	srv := start()
	defer func() { srv.Close() }()
	oc := coordinator.NewOptions()
	oc.Endpoints, oc.Pool, oc.Identity = srv.Endpoints(), pool, "hub-1"
	c, err := coordinator.New(oc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := store.New(c, nil)
	ctx := ctxT(t)
	rev, err := s.Put(ctx, ct.ServicesGVR, ct.Service("default", "a", "1"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Watch(ctx, ct.ServicesGVR, "", rev-1, store.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if got := collect(t, w, 1); fmt.Sprint(got) != "[ADDED default/a@1]" {
		t.Fatalf("before restart: %v", got)
	}
	srv.Close()
	srv = start() // same data directory and ports
	// Written by another client while the watcher may still be reconnecting.
	other := store.New(func() *coordinator.Client {
		c2, err := coordinator.New(oc, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c2.Close() })
		return c2
	}(), nil)
	if _, err := other.Put(ctx, ct.ServicesGVR, ct.Service("default", "a", "2")); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Put(ctx, ct.ServicesGVR, ct.Service("default", "b", "3")); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, w, 2); fmt.Sprint(got) != "[MODIFIED default/a@2 ADDED default/b@3]" {
		t.Errorf("after restart: %v", got)
	}
}
