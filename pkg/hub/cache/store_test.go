package cache

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2/ktesting"
)

var services = Resource{Component: "kube-proxy", GroupVersionResource: schema.GroupVersionResource{Version: "v1", Resource: "services"}}

func svc(ns, name string, labels map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service", "spec": map[string]any{"type": "ClusterIP"}}}
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetLabels(labels)
	return u
}

func newStore(t *testing.T) (*Store, *int) {
	t.Helper()
	corrupt := 0
	logger, _ := ktesting.NewTestContext(t)
	s, err := NewStore(t.TempDir(), logger, func(string) { corrupt++ })
	if err != nil {
		t.Fatal(err)
	}
	return s, &corrupt
}

func TestPutGetDelete(t *testing.T) {
	s, _ := newStore(t)
	if err := s.Put(services, svc("default", "web", nil)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(services, "default", "web")
	if err != nil || got.GetName() != "web" {
		t.Fatalf("Get: %v %v", got, err)
	}
	// The layout operators expect.
	if _, err := os.Stat(filepath.Join(s.Root(), "kube-proxy", "services.v1.core", "default", "web")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(services, "default", "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(services, "default", "web"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after Delete: %v", err)
	}
}

func TestAtomicWritesLeaveNoPartialFiles(t *testing.T) {
	s, _ := newStore(t)
	if err := s.Put(services, svc("default", "web", nil)); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.Root(), "kube-proxy", "services.v1.core", "default")
	// A crash between writing the temporary file and renaming it leaves a .tmp- file: it is
	// never read, and it is removed when the cache is opened again.
	if err := os.WriteFile(filepath.Join(dir, tmpPrefix+"123"), []byte("half a write"), 0o600); err != nil {
		t.Fatal(err)
	}
	items, err := s.List(services, "")
	if err != nil || len(items) != 1 {
		t.Fatalf("List with a leftover temp file: %d items, %v", len(items), err)
	}
	logger, _ := ktesting.NewTestContext(t)
	if _, err := NewStore(s.Root(), logger, nil); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			t.Fatalf("temporary file %s survived reopening", e.Name())
		}
	}
	// Overwrites replace the whole file.
	for i := 0; i < 20; i++ {
		if err := s.Put(services, svc("default", "web", map[string]string{"i": strings.Repeat("x", i)})); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Get(services, "default", "web")
	if err != nil || got.GetLabels()["i"] != strings.Repeat("x", 19) {
		t.Fatalf("after overwrites: %v %v", got, err)
	}
}

func TestCorruptEntryIsDroppedNotServed(t *testing.T) {
	for _, damage := range []struct {
		name string
		f    func([]byte) []byte
	}{
		{"flipped byte", func(b []byte) []byte { b[len(b)-3] ^= 0x20; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }},
		{"garbage", func([]byte) []byte { return []byte("not a cache entry") }},
		{"valid checksum, not JSON", func([]byte) []byte { return EncodeEntry([]byte("{{{")) }},
	} {
		t.Run(damage.name, func(t *testing.T) {
			s, corrupt := newStore(t)
			for _, name := range []string{"a", "b"} {
				if err := s.Put(services, svc("default", name, nil)); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(s.Root(), "kube-proxy", "services.v1.core", "default", "a")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, damage.f(data), 0o600); err != nil {
				t.Fatal(err)
			}
			items, err := s.List(services, "default")
			if err != nil || len(items) != 1 || items[0].GetName() != "b" {
				t.Fatalf("List served %v, %v; want only b", items, err)
			}
			if *corrupt != 1 {
				t.Fatalf("corrupt entries counted: %d, want 1", *corrupt)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("corrupt file still on disk: %v", err)
			}
			if _, err := s.Get(services, "default", "a"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get of the dropped entry: %v", err)
			}
		})
	}
}

func TestReplaceKeepsOtherSelectorsObjects(t *testing.T) {
	s, _ := newStore(t)
	for _, o := range []*unstructured.Unstructured{
		svc("a", "one", map[string]string{"app": "x"}), svc("a", "two", map[string]string{"app": "x"}),
		svc("a", "three", map[string]string{"app": "y"}), svc("b", "four", map[string]string{"app": "x"}),
	} {
		if err := s.Put(services, o); err != nil {
			t.Fatal(err)
		}
	}
	sel, err := ParseSelector("app=x", "")
	if err != nil {
		t.Fatal(err)
	}
	// A list of app=x in namespace a now returns only "one": "two" was deleted in the cloud.
	if err := s.Replace(services, "a", sel.Matches, []*unstructured.Unstructured{svc("a", "one", map[string]string{"app": "x"})}); err != nil {
		t.Fatal(err)
	}
	items, _ := s.List(services, "")
	var names []string
	for _, it := range items {
		names = append(names, it.GetNamespace()+"/"+it.GetName())
	}
	if got := strings.Join(names, ","); got != "a/one,a/three,b/four" {
		t.Fatalf("after Replace: %s", got)
	}
}

func TestListMeta(t *testing.T) {
	s, corrupt := newStore(t)
	if _, err := s.ListMeta(services); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ListMeta before any list: %v", err)
	}
	want := ListMeta{APIVersion: "v1", Kind: "ServiceList", ResourceVersion: "42"}
	if err := s.PutListMeta(services, want); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ListMeta(services); err != nil || got != want {
		t.Fatalf("ListMeta: %v %v", got, err)
	}
	path := filepath.Join(s.Root(), "kube-proxy", "services.v1.core", metaFile)
	if err := os.WriteFile(path, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListMeta(services); !errors.Is(err, ErrNotFound) || *corrupt != 1 {
		t.Fatalf("corrupt meta: %v, counted %d", err, *corrupt)
	}
}

func TestRejectsPathsOutsideTheLayout(t *testing.T) {
	s, _ := newStore(t)
	for _, o := range []*unstructured.Unstructured{svc("default", "../../etc", nil), svc("..", "x", nil), svc("default", "_meta", nil), svc("default", "", nil)} {
		if err := s.Put(services, o); err == nil {
			t.Errorf("Put of %s/%s succeeded", o.GetNamespace(), o.GetName())
		}
	}
	bad := services
	bad.Component = "../x"
	if err := s.Put(bad, svc("default", "ok", nil)); err == nil {
		t.Error("Put with component ../x succeeded")
	}
}

func encodedSvc(t *testing.T, ns, name string, labels map[string]string) Encoded {
	t.Helper()
	e, err := encode(services, svc(ns, name, labels))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func seqOf(items ...Encoded) func(func(Encoded, error) bool) {
	return func(yield func(Encoded, error) bool) {
		for _, it := range items {
			if !yield(it, nil) {
				return
			}
		}
	}
}

// TestReplaceEncoded covers the relist path: unchanged entries are not rewritten, stale ones
// the list covers are removed (reading back only those), a corrupt entry the list holds is
// rewritten, and a failing sequence removes nothing.
func TestReplaceEncoded(t *testing.T) {
	s, corrupt := newStore(t)
	app := map[string]string{"app": "x"}
	matchesApp := func(u *unstructured.Unstructured) bool { return u.GetLabels()["app"] == "x" }
	a, b, c := encodedSvc(t, "default", "a", app), encodedSvc(t, "default", "b", app), encodedSvc(t, "kube-system", "c", app)
	other := encodedSvc(t, "default", "other", nil)
	if err := s.ReplaceEncoded(services, "", nil, seqOf(a, b, c, other)); err != nil {
		t.Fatal(err)
	}
	pathOf := func(ns, name string) string {
		return filepath.Join(s.Root(), "kube-proxy", "services.v1.core", ns, name)
	}
	before, err := os.Stat(pathOf("default", "a"))
	if err != nil {
		t.Fatal(err)
	}

	// Corrupt b; relist a and b only: a is untouched (same file), b is rewritten, c (matching,
	// not listed) is removed, other (not matching) is kept.
	if err := os.WriteFile(pathOf("default", "b"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceEncoded(services, "", matchesApp, seqOf(a, b)); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(pathOf("default", "a"))
	if err != nil || !os.SameFile(before, after) {
		t.Errorf("an unchanged entry was rewritten (%v)", err)
	}
	items, err := s.List(services, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, it := range items {
		names = append(names, it.GetNamespace()+"/"+it.GetName())
	}
	if got := strings.Join(names, ","); got != "default/a,default/b,default/other" {
		t.Errorf("after the relist: %s", got)
	}
	if *corrupt != 0 {
		t.Errorf("%d corrupt entries reported; the listed corrupt entry should just be rewritten", *corrupt)
	}

	// A sequence that fails (an undecodable item) stops the replacement before any removal.
	bad := func(yield func(Encoded, error) bool) {
		if yield(a, nil) {
			yield(Encoded{}, errors.New("truncated"))
		}
	}
	if err := s.ReplaceEncoded(services, "", matchesApp, bad); err == nil {
		t.Fatal("no error from a failing sequence")
	}
	if _, err := s.Get(services, "default", "b"); err != nil {
		t.Errorf("b removed by a failed replacement: %v", err)
	}

	// A namespaced replacement leaves other namespaces alone.
	if err := s.ReplaceEncoded(services, "kube-system", nil, seqOf()); err != nil {
		t.Fatal(err)
	}
	if err := s.PutEncoded(services, c); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceEncoded(services, "default", nil, seqOf(a)); err != nil {
		t.Fatal(err)
	}
	if items, _ := s.List(services, ""); len(items) != 2 {
		t.Errorf("after replacing default with a alone: %d items, want a and kube-system/c", len(items))
	}
}

// TestGeneration: every change of a resource's entries moves its generation, a write that
// changes nothing does not, and a corrupt entry dropped anywhere moves every generation.
func TestGeneration(t *testing.T) {
	s, _ := newStore(t)
	other := Resource{Component: "kubelet", GroupVersionResource: services.GroupVersionResource}
	steps := []struct {
		name    string
		do      func() error
		changed bool
	}{
		{"put", func() error { return s.Put(services, svc("default", "web", nil)) }, true},
		{"same put", func() error { return s.Put(services, svc("default", "web", nil)) }, false},
		{"changed put", func() error { return s.Put(services, svc("default", "web", map[string]string{"a": "b"})) }, true},
		{"list meta", func() error {
			return s.PutListMeta(services, ListMeta{APIVersion: "v1", Kind: "ServiceList", ResourceVersion: "1"})
		}, true},
		{"same list meta", func() error {
			return s.PutListMeta(services, ListMeta{APIVersion: "v1", Kind: "ServiceList", ResourceVersion: "1"})
		}, false},
		{"same replace", func() error {
			return s.Replace(services, "default", nil, []*unstructured.Unstructured{svc("default", "web", map[string]string{"a": "b"})})
		}, false},
		{"replace removing", func() error { return s.Replace(services, "default", nil, nil) }, true},
		{"delete of nothing", func() error { return s.Delete(services, "default", "web") }, false},
		{"another resource", func() error { return s.Put(other, svc("default", "web", nil)) }, false},
		{"put again", func() error { return s.Put(services, svc("default", "web", nil)) }, true},
		{"delete", func() error { return s.Delete(services, "default", "web") }, true},
		{"a corrupt entry of another resource dropped", func() error {
			path := filepath.Join(s.Root(), "kubelet", "services.v1.core", "default", "web")
			if err := os.WriteFile(path, []byte("junk"), 0o600); err != nil {
				return err
			}
			if _, err := s.Get(other, "default", "web"); !errors.Is(err, ErrNotFound) {
				return errors.New("the corrupt entry was served")
			}
			return nil
		}, true},
	}
	for _, st := range steps {
		before := s.Generation(services)
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if changed := s.Generation(services) != before; changed != st.changed {
			t.Errorf("%s: generation changed %v, want %v", st.name, changed, st.changed)
		}
	}
}
