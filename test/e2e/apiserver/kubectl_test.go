package apiserver

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/yurt-edge/yurt/test/e2e/framework"
)

// TestKubectlEveryKind drives the machine's kubectl through the life of one object of every
// kind (and both NodePool versions): server-side apply with managedFields and a conflicting
// second manager, Table output, describe, explain, the three patch types, label and field
// selectors, watch, a finalizer holding a delete, and the delete.
func TestKubectlEveryKind(t *testing.T) {
	for _, k := range kindCases {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			testKubectlKind(t, k)
		})
	}
}

func testKubectlKind(t *testing.T, k kindCase) {
	name := uniqueName("kc-" + k.name)
	label := name
	ns := []string{"-n", "default"}
	get := func(args ...string) string {
		t.Helper()
		return kubectlOK(t, append(append([]string{"get", k.resource, name}, ns...), args...)...)
	}
	jsonpath := func(path string) string {
		t.Helper()
		return get("-o", "jsonpath="+path)
	}
	t.Cleanup(func() {
		_, _ = framework.Kubectl(t, "patch", k.resource, name, "-n", "default", "--type=merge", "-p", `{"metadata":{"finalizers":null}}`)
		_, _ = framework.Kubectl(t, "delete", k.resource, name, "-n", "default", "--ignore-not-found", "--wait=false")
	})

	// The watch opens before the object exists, so it must report its whole life.
	w := startKubectlWatch(t, k.resource, "-n", "default", "-l", testLabel+"="+label)

	// Server-side apply creates the object and records the manager.
	kubectlStdinOK(t, k.render(name, label), "apply", "--server-side", "--field-manager=e2e-first", "-n", "default", "-f", "-")
	added := w.next(t, "ADDED", name, 30*time.Second)
	managers := managedFieldsOf(t, get("-o", "json", "--show-managed-fields"))
	if managers["e2e-first"] != metav1.ManagedFieldsOperationApply {
		t.Errorf("managedFields after apply: %v, want e2e-first with operation Apply", managers)
	}

	// A second manager changing a field the first owns conflicts, unless it forces.
	second := strings.Replace(k.render(name, label), "owner: first", "owner: second", 1)
	_, err := framework.KubectlStdin(t, second, "apply", "--server-side", "--field-manager=e2e-second", "-n", "default", "-f", "-")
	if err == nil || !strings.Contains(err.Error(), "conflict") || !strings.Contains(err.Error(), "e2e-first") {
		t.Errorf("apply by a second manager of a field owned by e2e-first: %v, want a conflict naming e2e-first", err)
	}
	kubectlStdinOK(t, second, "apply", "--server-side", "--field-manager=e2e-second", "--force-conflicts", "-n", "default", "-f", "-")
	if got := jsonpath("{.metadata.labels.owner}"); got != "second" {
		t.Errorf("label owner after forced apply = %q, want second", got)
	}
	if managers := managedFieldsOf(t, get("-o", "json", "--show-managed-fields")); managers["e2e-second"] != metav1.ManagedFieldsOperationApply {
		t.Errorf("managedFields after forced apply: %v, want e2e-second with operation Apply", managers)
	}

	// Table output: the printer columns, and more with -o wide.
	checkHeader(t, get(), k.columns, name)
	checkHeader(t, get("-o", "wide"), append(slices.Clone(k.columns), k.wideColumns...), name)
	if k.shortName != "" {
		checkHeader(t, kubectlOK(t, "get", k.shortName, name, "-n", "default"), k.columns, name)
	}

	// describe and explain.
	desc := kubectlOK(t, "describe", k.resource, name, "-n", "default")
	for _, want := range []string{"Name:", name, "Kind:", k.kind, "Spec:"} {
		if !strings.Contains(desc, want) {
			t.Errorf("kubectl describe does not show %q:\n%s", want, desc)
		}
	}
	explain := kubectlOK(t, "explain", k.gvr.Resource+".spec", "--api-version="+k.gvr.GroupVersion().String())
	for _, field := range k.explainFields {
		if !strings.Contains(explain, "  "+field+"\t") && !strings.Contains(explain, "  "+field+" ") {
			t.Errorf("kubectl explain %s.spec does not list %s:\n%s", k.gvr.Resource, field, explain)
		}
	}

	// The three patch types, each seen by the watch with a new resourceVersion.
	lastRV := added.Object.GetResourceVersion()
	expectModified := func(what string) {
		t.Helper()
		ev := w.next(t, "MODIFIED", name, 30*time.Second)
		if rv := ev.Object.GetResourceVersion(); rv == lastRV {
			t.Errorf("MODIFIED event after %s kept resourceVersion %s", what, rv)
		} else {
			lastRV = rv
		}
	}
	expectModified("the forced apply")
	kubectlOK(t, "patch", k.resource, name, "-n", "default", "--type=strategic", "-p", k.specPatch)
	if got := jsonpath(k.specPath); got != k.specWant {
		t.Errorf("after strategic-merge patch %s, %s = %q, want %q", k.specPatch, k.specPath, got, k.specWant)
	}
	expectModified("the strategic-merge patch")
	kubectlOK(t, "patch", k.resource, name, "-n", "default", "--type=merge", "-p", `{"metadata":{"labels":{"merged":"yes"}}}`)
	expectModified("the merge patch")
	kubectlOK(t, "patch", k.resource, name, "-n", "default", "--type=json", "-p", `[{"op":"add","path":"/metadata/labels/jsonpatched","value":"yes"}]`)
	expectModified("the JSON patch")
	if got := jsonpath("{.metadata.labels.merged},{.metadata.labels.jsonpatched}"); got != "yes,yes" {
		t.Errorf("labels set by merge and JSON patch: %q, want yes,yes", got)
	}
	// A JSON patch whose test fails is refused and changes nothing.
	if _, err := framework.Kubectl(t, "patch", k.resource, name, "-n", "default", "--type=json", "-p",
		`[{"op":"test","path":"/metadata/labels/merged","value":"no"},{"op":"add","path":"/metadata/labels/x","value":"y"}]`); err == nil {
		t.Errorf("a JSON patch with a failing test op succeeded")
	}

	// Label and field selectors.
	selected := func(args ...string) []string {
		t.Helper()
		out := kubectlOK(t, append([]string{"get", k.resource, "-n", "default", "-o", "name"}, args...)...)
		return strings.Fields(out)
	}
	if got := selected("-l", testLabel+"="+label); len(got) != 1 || !strings.HasSuffix(got[0], "/"+name) {
		t.Errorf("label selector %s=%s selected %v, want only %s", testLabel, label, got, name)
	}
	if got := selected("-l", testLabel+"="+label+",merged=no"); len(got) != 0 {
		t.Errorf("label selector merged=no selected %v, want nothing", got)
	}
	if got := selected("--field-selector", "metadata.name="+name); len(got) != 1 {
		t.Errorf("field selector metadata.name=%s selected %v, want one object", name, got)
	}
	if got := selected("-l", testLabel+"="+label, "--field-selector", "metadata.name!="+name); len(got) != 0 {
		t.Errorf("field selector metadata.name!=%s selected %v, want nothing", name, got)
	}
	if k.kind == "NodePool" {
		typ := jsonpath("{.spec.type}")
		other := map[string]string{"Edge": "Cloud", "Cloud": "Edge"}[typ]
		if got := selected("-l", testLabel+"="+label, "--field-selector", "spec.type="+typ); len(got) != 1 {
			t.Errorf("field selector spec.type=%s selected %v, want the pool", typ, got)
		}
		if got := selected("-l", testLabel+"="+label, "--field-selector", "spec.type="+other); len(got) != 0 {
			t.Errorf("field selector spec.type=%s selected %v, want nothing", other, got)
		}
	}
	if _, err := framework.Kubectl(t, "get", k.resource, "-n", "default", "--field-selector", "spec.bogus=1"); err == nil {
		t.Errorf("an unsupported field selector was accepted")
	}

	// A finalizer holds the delete until it is removed.
	kubectlOK(t, "patch", k.resource, name, "-n", "default", "--type=merge", "-p", `{"metadata":{"finalizers":["e2e.yurt.io/hold"]}}`)
	expectModified("adding a finalizer")
	kubectlOK(t, "delete", k.resource, name, "-n", "default", "--wait=false")
	expectModified("the delete of an object with a finalizer")
	if ts := jsonpath("{.metadata.deletionTimestamp}"); ts == "" {
		t.Errorf("object with a finalizer has no deletionTimestamp after delete")
	}
	if _, err := framework.Kubectl(t, "wait", "--for=delete", k.resource+"/"+name, "-n", "default", "--timeout=2s"); err == nil {
		t.Errorf("object with a finalizer went away before the finalizer was removed")
	}
	kubectlOK(t, "patch", k.resource, name, "-n", "default", "--type=json", "-p", `[{"op":"remove","path":"/metadata/finalizers"}]`)
	w.next(t, "DELETED", name, 30*time.Second)
	if _, err := framework.Kubectl(t, "get", k.resource, name, "-n", "default"); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Errorf("get after delete: %v, want NotFound", err)
	}
}

// managedFieldsOf returns manager → operation of an object printed as JSON.
func managedFieldsOf(t testing.TB, objJSON string) map[string]metav1.ManagedFieldsOperationType {
	t.Helper()
	var obj struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	if err := json.Unmarshal([]byte(objJSON), &obj); err != nil {
		t.Fatalf("decoding object: %v", err)
	}
	out := map[string]metav1.ManagedFieldsOperationType{}
	for _, mf := range obj.Metadata.ManagedFields {
		if mf.Subresource == "" {
			out[mf.Manager] = mf.Operation
		}
	}
	return out
}

// checkHeader checks that a `kubectl get` table has exactly the given headers and a row for name.
func checkHeader(t testing.TB, table string, want []string, name string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) < 2 {
		t.Errorf("kubectl get printed no rows:\n%s", table)
		return
	}
	if got := strings.Fields(lines[0]); !slices.Equal(got, want) {
		t.Errorf("kubectl get columns %v, want %v", got, want)
	}
	if row := strings.Fields(lines[1]); len(row) == 0 || row[0] != name {
		t.Errorf("kubectl get row %q, want one for %s", lines[1], name)
	}
}

// TestDiscoveryShortNamesAndCategory checks that kubectl resolves every short name and that
// `kubectl get yurt` lists one object of every kind.
func TestDiscoveryShortNamesAndCategory(t *testing.T) {
	c := framework.Clients(t)
	label := uniqueName("category")
	var want []string
	for _, k := range kindCases {
		if k.name == "NodePool-v1beta1" { // the same resource as v1beta2
			continue
		}
		name := uniqueName("cat-" + k.kind)
		obj := k.object(t, name, label)
		if _, err := c.Dynamic.Resource(k.gvr).Namespace(k.ns()).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s: %v", k.kind, err)
		}
		t.Cleanup(func() {
			_ = c.Dynamic.Resource(k.gvr).Namespace(k.ns()).Delete(context.Background(), name, metav1.DeleteOptions{})
		})
		want = append(want, strings.ToLower(k.kind)+"."+k.gvr.Group+"/"+name)
		if k.shortName != "" {
			out := kubectlOK(t, "get", k.shortName, "-n", "default", "-l", testLabel+"="+label, "-o", "name")
			if got := strings.Fields(out); len(got) != 1 || got[0] != want[len(want)-1] {
				t.Errorf("kubectl get %s listed %v, want %s", k.shortName, got, want[len(want)-1])
			}
		}
	}
	sort.Strings(want)

	out := kubectlOK(t, "get", "yurt", "-A", "-l", testLabel+"="+label, "-o", "name")
	got := strings.Fields(out)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("kubectl get yurt listed\n%v\nwant\n%v", got, want)
	}

	out = kubectlOK(t, "api-resources", "--categories=yurt", "-o", "name")
	for _, r := range []string{"nodepools.apps.openyurt.io", "yurtappsets.apps.openyurt.io", "yurtappdaemons.apps.openyurt.io",
		"responsefilters.apps.openyurt.io", "devices.iot.openyurt.io", "deviceservices.iot.openyurt.io",
		"deviceprofiles.iot.openyurt.io", "platformadmins.iot.openyurt.io"} {
		if !slices.Contains(strings.Fields(out), r) {
			t.Errorf("kubectl api-resources --categories=yurt does not list %s:\n%s", r, out)
		}
	}
}

// TestPaginationEveryKind lists three objects of every kind one page at a time, with the
// client's limit and continue and with kubectl's --chunk-size.
func TestPaginationEveryKind(t *testing.T) {
	c := framework.Clients(t)
	for _, k := range kindCases {
		if k.name == "NodePool-v1beta1" {
			continue
		}
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			label := uniqueName("page-" + k.kind)
			res := c.Dynamic.Resource(k.gvr).Namespace(k.ns())
			var want []string
			for i := 0; i < 3; i++ {
				name := label + "-" + string(rune('a'+i))
				if _, err := res.Create(context.Background(), k.object(t, name, label), metav1.CreateOptions{}); err != nil {
					t.Fatalf("create %s: %v", name, err)
				}
				t.Cleanup(func() { _ = res.Delete(context.Background(), name, metav1.DeleteOptions{}) })
				want = append(want, name)
			}

			var got []string
			opts := metav1.ListOptions{LabelSelector: testLabel + "=" + label, Limit: 1}
			for page := 1; ; page++ {
				list, err := res.List(context.Background(), opts)
				if err != nil {
					t.Fatalf("list page %d: %v", page, err)
				}
				if len(list.Items) > 1 {
					t.Errorf("page %d has %d items with limit 1", page, len(list.Items))
				}
				for _, item := range list.Items {
					got = append(got, item.GetName())
				}
				if list.GetContinue() == "" {
					break
				}
				if page > 5 {
					t.Fatalf("more pages than objects: continue %q", list.GetContinue())
				}
				opts.Continue = list.GetContinue()
			}
			if !slices.Equal(got, want) {
				t.Errorf("paginated list gave %v, want %v", got, want)
			}

			out := kubectlOK(t, "get", k.resource, "-n", "default", "-l", testLabel+"="+label, "--chunk-size=1", "-o", "name")
			if n := len(strings.Fields(out)); n != 3 {
				t.Errorf("kubectl get --chunk-size=1 listed %d objects, want 3", n)
			}
		})
	}
}

// TestWatchBookmarksEveryKind checks that a client watch asking for bookmarks gets them: the
// initial-events-end bookmark of a watch that sends initial events, and the periodic one the
// server sends before the watch times out.
func TestWatchBookmarksEveryKind(t *testing.T) {
	c := framework.Clients(t)
	for _, k := range kindCases {
		if k.name == "NodePool-v1beta1" {
			continue
		}
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			label := uniqueName("bm-" + k.kind)
			res := c.Dynamic.Resource(k.gvr).Namespace(k.ns())
			created, err := res.Create(context.Background(), k.object(t, label, label), metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			t.Cleanup(func() { _ = res.Delete(context.Background(), label, metav1.DeleteOptions{}) })

			// Initial events, then the bookmark that ends them.
			sendInitial := true
			w, err := res.Watch(context.Background(), metav1.ListOptions{
				LabelSelector:        testLabel + "=" + label,
				AllowWatchBookmarks:  true,
				SendInitialEvents:    &sendInitial,
				ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
			})
			if err != nil {
				t.Fatalf("watch with initial events: %v", err)
			}
			sawAdded := false
			waitEvent(t, w, 30*time.Second, func(ev watch.Event) bool {
				obj, _ := ev.Object.(*unstructured.Unstructured)
				switch {
				case ev.Type == watch.Added && obj != nil && obj.GetName() == created.GetName():
					sawAdded = true
				case ev.Type == watch.Bookmark && obj != nil:
					if obj.GetAnnotations()[metav1.InitialEventsAnnotationKey] != "true" {
						t.Errorf("first bookmark lacks annotation %s=true: %v", metav1.InitialEventsAnnotationKey, obj.GetAnnotations())
					}
					if obj.GetResourceVersion() == "" {
						t.Errorf("bookmark has no resourceVersion")
					}
					return true
				}
				return false
			})
			w.Stop()
			if !sawAdded {
				t.Errorf("no ADDED event for %s before the initial-events-end bookmark", created.GetName())
			}

			// A watch from a resourceVersion whose selector filters out the next change gets a
			// bookmark carrying that change's resourceVersion before it times out, so a client
			// can resume from there.
			timeout := int64(6)
			w, err = res.Watch(context.Background(), metav1.ListOptions{
				LabelSelector:       testLabel + "=" + label,
				AllowWatchBookmarks: true,
				ResourceVersion:     created.GetResourceVersion(),
				TimeoutSeconds:      &timeout,
			})
			if err != nil {
				t.Fatalf("watch with bookmarks: %v", err)
			}
			defer w.Stop()
			other, err := res.Create(context.Background(), k.object(t, label+"-other", label+"-other"), metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create a second object: %v", err)
			}
			t.Cleanup(func() { _ = res.Delete(context.Background(), other.GetName(), metav1.DeleteOptions{}) })
			waitEvent(t, w, 30*time.Second, func(ev watch.Event) bool {
				obj, _ := ev.Object.(*unstructured.Unstructured)
				if ev.Type != watch.Bookmark {
					t.Errorf("unexpected %s event for %s in a watch selecting %s=%s", ev.Type, obj.GetName(), testLabel, label)
					return false
				}
				// resourceVersions are opaque to clients; this server's are etcd revisions, and a
				// progress notification may carry a later one than the second object's.
				if rvLess(obj.GetResourceVersion(), other.GetResourceVersion()) {
					t.Logf("bookmark at resourceVersion %s, waiting for %s", obj.GetResourceVersion(), other.GetResourceVersion())
					return false
				}
				return true
			})
		})
	}
}

// rvLess compares two resourceVersions of this server as the etcd revisions they are.
func rvLess(a, b string) bool {
	x, err1 := strconv.ParseUint(a, 10, 64)
	y, err2 := strconv.ParseUint(b, 10, 64)
	return err1 != nil || err2 != nil || x < y
}

// waitEvent reads events until done returns true, failing the test on timeout or when the
// watch ends first.
func waitEvent(t testing.TB, w watch.Interface, timeout time.Duration, done func(watch.Event) bool) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch ended before the expected event")
			}
			if ev.Type == watch.Error {
				t.Fatalf("watch error: %v", apierrors.FromObject(ev.Object))
			}
			if done(ev) {
				return
			}
		case <-deadline:
			t.Fatalf("no expected watch event within %s", timeout)
		}
	}
}
