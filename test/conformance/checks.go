package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// Check is one behaviour of a resource. Run returns what the server did, or an error when the
// server broke a rule every resource must keep.
type Check struct {
	Name string
	Run  func(ctx context.Context, e *Env, r Resource) (string, error)
}

// Env is what the checks talk to.
type Env struct {
	Dynamic   dynamic.Interface
	Discovery discovery.DiscoveryInterface
	// Namespace for namespaced resources; it must exist.
	Namespace string
	// Prefix makes object names unique to one run.
	Prefix string
	raw    rest.Interface
}

// NewEnv connects to a server. Objects are named prefix-<check>.
func NewEnv(config *rest.Config, namespace, prefix string) (*Env, error) {
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(config)
	cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	raw, err := rest.UnversionedRESTClientFor(cfg)
	if err != nil {
		return nil, err
	}
	return &Env{Dynamic: dyn, Discovery: disc, Namespace: namespace, Prefix: prefix, raw: raw}, nil
}

func (e *Env) client(r Resource) dynamic.ResourceInterface {
	if r.Namespaced {
		return e.Dynamic.Resource(r.GVR).Namespace(e.Namespace)
	}
	return e.Dynamic.Resource(r.GVR)
}

func (e *Env) name(suffix string) string { return e.Prefix + "-" + suffix }

// create makes a sample object and removes it when the check ends.
func (e *Env) create(ctx context.Context, r Resource, suffix string, mutate ...func(*unstructured.Unstructured)) (*unstructured.Unstructured, func(), error) {
	obj := r.Sample(e.name(suffix))
	for _, m := range mutate {
		m(obj)
	}
	created, err := e.client(r).Create(ctx, obj, metav1.CreateOptions{FieldValidation: "Strict"})
	if err != nil {
		return nil, func() {}, fmt.Errorf("create %s: %w", obj.GetName(), err)
	}
	cleanup := func() {
		c := context.WithoutCancel(ctx)
		_, _ = e.client(r).Patch(c, created.GetName(), types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
		_ = e.client(r).Delete(c, created.GetName(), metav1.DeleteOptions{})
	}
	return created, cleanup, nil
}

// Checks are every check, in the order they run.
var Checks = []Check{
	{"discovery", checkDiscovery},
	{"create-get-list", checkCreateGetList},
	{"strict-field-validation", checkStrictFieldValidation},
	{"dry-run", checkDryRun},
	{"update-and-generation", checkUpdateGeneration},
	{"watch-from-resource-version", checkWatch},
	{"watch-bookmarks", checkBookmarks},
	{"patch-merge", patchCheck(types.MergePatchType, "merge")},
	{"patch-json", patchCheck(types.JSONPatchType, "json")},
	{"patch-strategic-merge", patchCheck(types.StrategicMergePatchType, "smp")},
	{"server-side-apply", checkApply},
	{"status-subresource", checkStatus},
	{"finalizers", checkFinalizers},
	{"pagination", checkPagination},
	{"selectors", checkSelectors},
	{"table", checkTable},
	{"openapi-v3", checkOpenAPIV3},
	{"protobuf", checkProtobuf},
	{"deletecollection", checkDeleteCollection},
}

func checkDiscovery(_ context.Context, e *Env, r Resource) (string, error) {
	list, err := e.Discovery.ServerResourcesForGroupVersion(r.GVR.GroupVersion().String())
	if err != nil {
		return "", fmt.Errorf("discovery of %s: %w", r.GVR.GroupVersion(), err)
	}
	var verbs []string
	status := false
	found := false
	for _, res := range list.APIResources {
		switch res.Name {
		case r.GVR.Resource:
			found = true
			verbs = append(verbs, res.Verbs...)
			if res.Kind != r.Kind || res.Namespaced != r.Namespaced {
				return "", fmt.Errorf("discovery says kind %s namespaced %v, want %s %v", res.Kind, res.Namespaced, r.Kind, r.Namespaced)
			}
		case r.GVR.Resource + "/status":
			status = true
		}
	}
	if !found {
		return "", fmt.Errorf("%s not in discovery", r.GVR.Resource)
	}
	sort.Strings(verbs)
	for _, v := range []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"} {
		if !slices.Contains(verbs, v) {
			return "", fmt.Errorf("verb %s missing from discovery: %v", v, verbs)
		}
	}
	return fmt.Sprintf("verbs=%s status=%v", strings.Join(verbs, ","), status), nil
}

func checkCreateGetList(ctx context.Context, e *Env, r Resource) (string, error) {
	created, cleanup, err := e.create(ctx, r, "cgl")
	defer cleanup()
	if err != nil {
		return "", err
	}
	if created.GetUID() == "" || created.GetResourceVersion() == "" || created.GetCreationTimestamp().Time.IsZero() {
		return "", fmt.Errorf("created object lacks uid, resourceVersion or creationTimestamp: %v", created.Object["metadata"])
	}
	if created.GetAPIVersion() != r.GVR.GroupVersion().String() || created.GetKind() != r.Kind {
		return "", fmt.Errorf("created object is %s %s", created.GetAPIVersion(), created.GetKind())
	}
	got, err := e.client(r).Get(ctx, created.GetName(), metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("get: %w", err)
	}
	if got.GetResourceVersion() != created.GetResourceVersion() {
		return "", fmt.Errorf("get returned resourceVersion %s, create %s", got.GetResourceVersion(), created.GetResourceVersion())
	}
	list, err := e.client(r).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("list: %w", err)
	}
	if list.GetResourceVersion() == "" {
		return "", fmt.Errorf("list has no resourceVersion")
	}
	if !slices.ContainsFunc(list.Items, func(u unstructured.Unstructured) bool { return u.GetName() == created.GetName() }) {
		return "", fmt.Errorf("list does not contain %s", created.GetName())
	}
	if _, err := e.client(r).Get(ctx, e.name("missing"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("get of a missing object: want NotFound, got %v", err)
	}
	return fmt.Sprintf("generation=%d", created.GetGeneration()), nil
}

func checkStrictFieldValidation(ctx context.Context, e *Env, r Resource) (string, error) {
	obj := r.Sample(e.name("strict"))
	if err := unstructured.SetNestedField(obj.Object, "x", "spec", "noSuchField"); err != nil {
		return "", err
	}
	_, err := e.client(r).Create(ctx, obj, metav1.CreateOptions{FieldValidation: "Strict"})
	if err == nil {
		_ = e.client(r).Delete(ctx, obj.GetName(), metav1.DeleteOptions{})
		return "", fmt.Errorf("an unknown field was accepted under strict field validation")
	}
	if !strings.Contains(err.Error(), "noSuchField") {
		return "", fmt.Errorf("the error does not name the unknown field: %v", err)
	}
	return fmt.Sprintf("status=%d", statusCode(err)), nil
}

func checkDryRun(ctx context.Context, e *Env, r Resource) (string, error) {
	obj := r.Sample(e.name("dryrun"))
	if _, err := e.client(r).Create(ctx, obj, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		return "", fmt.Errorf("dry-run create: %w", err)
	}
	if _, err := e.client(r).Get(ctx, obj.GetName(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("a dry-run create was persisted (get: %v)", err)
	}
	return "not-persisted", nil
}

func checkUpdateGeneration(ctx context.Context, e *Env, r Resource) (string, error) {
	created, cleanup, err := e.create(ctx, r, "update")
	defer cleanup()
	if err != nil {
		return "", err
	}
	labelled := created.DeepCopy()
	labels := labelled.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels["conformance.yurt.io/updated"] = "true"
	labelled.SetLabels(labels)
	afterLabel, err := e.client(r).Update(ctx, labelled, metav1.UpdateOptions{})
	if err != nil {
		return "", fmt.Errorf("update labels: %w", err)
	}
	if afterLabel.GetResourceVersion() == created.GetResourceVersion() {
		return "", fmt.Errorf("an update did not change the resourceVersion")
	}
	specChanged := afterLabel.DeepCopy()
	r.MutateSpec(specChanged)
	afterSpec, err := e.client(r).Update(ctx, specChanged, metav1.UpdateOptions{})
	if err != nil {
		return "", fmt.Errorf("update spec: %w", err)
	}
	// A stale resourceVersion is a conflict.
	_, err = e.client(r).Update(ctx, labelled, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		return "", fmt.Errorf("an update with a stale resourceVersion: want Conflict, got %v", err)
	}
	return fmt.Sprintf("generation label-change=+%d spec-change=+%d",
		afterLabel.GetGeneration()-created.GetGeneration(), afterSpec.GetGeneration()-afterLabel.GetGeneration()), nil
}

func checkWatch(ctx context.Context, e *Env, r Resource) (string, error) {
	list, err := e.client(r).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	w, err := e.client(r).Watch(ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion()})
	if err != nil {
		return "", fmt.Errorf("watch from %s: %w", list.GetResourceVersion(), err)
	}
	defer w.Stop()
	created, cleanup, err := e.create(ctx, r, "watch")
	if err != nil {
		cleanup()
		return "", err
	}
	patched, err := e.client(r).Patch(ctx, created.GetName(), types.MergePatchType, []byte(`{"metadata":{"labels":{"conformance.yurt.io/watched":"true"}}}`), metav1.PatchOptions{})
	if err != nil {
		cleanup()
		return "", err
	}
	cleanup()
	var seen []string
	for len(seen) < 3 {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return "", fmt.Errorf("watch closed after %v", seen)
			}
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok || u.GetName() != created.GetName() {
				continue
			}
			if ev.Type == watch.Modified && u.GetResourceVersion() == created.GetResourceVersion() {
				return "", fmt.Errorf("MODIFIED event without a new resourceVersion")
			}
			if ev.Type == watch.Modified && u.GetResourceVersion() != patched.GetResourceVersion() && len(seen) == 1 {
				return "", fmt.Errorf("MODIFIED event has resourceVersion %s, the patch returned %s", u.GetResourceVersion(), patched.GetResourceVersion())
			}
			seen = append(seen, string(ev.Type))
		case <-ctx.Done():
			return "", fmt.Errorf("watch saw only %v before the timeout", seen)
		}
	}
	return strings.Join(seen, ","), nil
}

func checkBookmarks(ctx context.Context, e *Env, r Resource) (string, error) {
	_, cleanup, err := e.create(ctx, r, "bookmark")
	defer cleanup()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	yes := true
	w, err := e.client(r).Watch(ctx, metav1.ListOptions{
		SendInitialEvents:    &yes,
		AllowWatchBookmarks:  true,
		ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
	})
	if err != nil {
		return "", fmt.Errorf("watch with sendInitialEvents: %w", err)
	}
	defer w.Stop()
	added := 0
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return "", fmt.Errorf("watch closed before the initial-events-end bookmark")
			}
			switch ev.Type {
			case watch.Added:
				added++
			case watch.Bookmark:
				u := ev.Object.(*unstructured.Unstructured)
				if u.GetAnnotations()[metav1.InitialEventsAnnotationKey] == "true" {
					if added == 0 {
						return "", fmt.Errorf("the initial-events-end bookmark came before any object")
					}
					if u.GetResourceVersion() == "" {
						return "", fmt.Errorf("bookmark without a resourceVersion")
					}
					return "initial-events-end-bookmark", nil
				}
			}
		case <-ctx.Done():
			return "", fmt.Errorf("no initial-events-end bookmark within 30s (%d objects)", added)
		}
	}
}

func patchCheck(pt types.PatchType, suffix string) func(context.Context, *Env, Resource) (string, error) {
	return func(ctx context.Context, e *Env, r Resource) (string, error) {
		created, cleanup, err := e.create(ctx, r, "patch-"+suffix)
		defer cleanup()
		if err != nil {
			return "", err
		}
		var body string
		switch pt {
		case types.JSONPatchType:
			body = `[{"op":"add","path":"/metadata/annotations","value":{"conformance.yurt.io/patched":"yes"}}]`
		default:
			body = `{"metadata":{"annotations":{"conformance.yurt.io/patched":"yes"}}}`
		}
		patched, err := e.client(r).Patch(ctx, created.GetName(), pt, []byte(body), metav1.PatchOptions{})
		if err != nil {
			return fmt.Sprintf("status=%d", statusCode(err)), nil
		}
		if patched.GetAnnotations()["conformance.yurt.io/patched"] != "yes" {
			return "", fmt.Errorf("the patch was accepted but not applied")
		}
		return "applied", nil
	}
}

func checkApply(ctx context.Context, e *Env, r Resource) (string, error) {
	obj := r.Sample(e.name("apply"))
	obj.SetLabels(map[string]string{"conformance.yurt.io/owner": "first"})
	applied, err := e.client(r).Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "conformance-first"})
	if err != nil {
		return "", fmt.Errorf("apply: %w", err)
	}
	defer func() { _ = e.client(r).Delete(context.WithoutCancel(ctx), obj.GetName(), metav1.DeleteOptions{}) }()
	managers := map[string]string{}
	for _, mf := range applied.GetManagedFields() {
		managers[mf.Manager] = string(mf.Operation)
	}
	if managers["conformance-first"] != string(metav1.ManagedFieldsOperationApply) {
		return "", fmt.Errorf("managedFields do not record the apply: %v", managers)
	}
	other := r.Sample(obj.GetName())
	other.SetLabels(map[string]string{"conformance.yurt.io/owner": "second"})
	_, err = e.client(r).Apply(ctx, obj.GetName(), other, metav1.ApplyOptions{FieldManager: "conformance-second"})
	if !apierrors.IsConflict(err) {
		return "", fmt.Errorf("a conflicting apply by another manager: want Conflict, got %v", err)
	}
	forced, err := e.client(r).Apply(ctx, obj.GetName(), other, metav1.ApplyOptions{FieldManager: "conformance-second", Force: true})
	if err != nil {
		return "", fmt.Errorf("forced apply: %w", err)
	}
	if forced.GetLabels()["conformance.yurt.io/owner"] != "second" {
		return "", fmt.Errorf("the forced apply did not take the field")
	}
	return "managed-fields conflict force", nil
}

func checkStatus(ctx context.Context, e *Env, r Resource) (string, error) {
	created, cleanup, err := e.create(ctx, r, "status")
	defer cleanup()
	if err != nil {
		return "", err
	}
	mutateStatus := r.MutateStatus
	if mutateStatus == nil {
		// No status field is client-writable: write a made-up one, which must be ignored.
		mutateStatus = setField("x", "status", "conformanceNoSuchField")
	}
	// A status change through the main resource is ignored.
	viaMain := created.DeepCopy()
	mutateStatus(viaMain)
	afterMain, err := e.client(r).Update(ctx, viaMain, metav1.UpdateOptions{})
	if err != nil {
		return "", fmt.Errorf("update with a status change: %w", err)
	}
	mainStatus, _, _ := unstructured.NestedFieldCopy(afterMain.Object, "status")
	createdStatus, _, _ := unstructured.NestedFieldCopy(created.Object, "status")
	if fmt.Sprint(mainStatus) != fmt.Sprint(createdStatus) {
		return "", fmt.Errorf("an update of the main resource changed the status: %v -> %v", createdStatus, mainStatus)
	}
	// A spec change through /status is ignored; the status change is kept.
	viaStatus := afterMain.DeepCopy()
	if r.MutateStatus == nil {
		r.MutateSpec(viaStatus)
		afterStatus, err := e.client(r).UpdateStatus(ctx, viaStatus, metav1.UpdateOptions{})
		if err != nil {
			return "", fmt.Errorf("update of /status: %w", err)
		}
		if afterStatus.GetGeneration() != afterMain.GetGeneration() {
			return "", fmt.Errorf("an update of /status changed the spec")
		}
		return "spec-and-status-separate no-client-writable-status", nil
	}
	r.MutateStatus(viaStatus)
	r.MutateSpec(viaStatus)
	afterStatus, err := e.client(r).UpdateStatus(ctx, viaStatus, metav1.UpdateOptions{})
	if err != nil {
		return "", fmt.Errorf("update of /status: %w", err)
	}
	spec, _, _ := unstructured.NestedFieldCopy(afterStatus.Object, "spec")
	oldSpec, _, _ := unstructured.NestedFieldCopy(afterMain.Object, "spec")
	if fmt.Sprint(spec) != fmt.Sprint(oldSpec) {
		return "", fmt.Errorf("an update of /status changed the spec")
	}
	wantStatus, _, _ := unstructured.NestedFieldCopy(viaStatus.Object, "status")
	gotStatus, _, _ := unstructured.NestedFieldCopy(afterStatus.Object, "status")
	if fmt.Sprint(wantStatus) != fmt.Sprint(gotStatus) {
		return "", fmt.Errorf("an update of /status did not keep the status: sent %v, got %v", wantStatus, gotStatus)
	}
	if afterStatus.GetGeneration() != afterMain.GetGeneration() {
		return "", fmt.Errorf("a status update changed the generation")
	}
	got, err := e.client(r).Get(ctx, created.GetName(), metav1.GetOptions{}, "status")
	if err != nil {
		return "", fmt.Errorf("get /status: %w", err)
	}
	if got.GetResourceVersion() != afterStatus.GetResourceVersion() {
		return "", fmt.Errorf("get /status returned an old object")
	}
	return "spec-and-status-separate", nil
}

func checkFinalizers(ctx context.Context, e *Env, r Resource) (string, error) {
	created, cleanup, err := e.create(ctx, r, "finalizer", func(u *unstructured.Unstructured) {
		u.SetFinalizers([]string{"conformance.yurt.io/hold"})
	})
	defer cleanup()
	if err != nil {
		return "", err
	}
	if err := e.client(r).Delete(ctx, created.GetName(), metav1.DeleteOptions{}); err != nil {
		return "", fmt.Errorf("delete: %w", err)
	}
	held, err := e.client(r).Get(ctx, created.GetName(), metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("an object with a finalizer went at once: %w", err)
	}
	if held.GetDeletionTimestamp() == nil {
		return "", fmt.Errorf("no deletionTimestamp on an object being deleted")
	}
	if _, err := e.client(r).Patch(ctx, created.GetName(), types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
		return "", fmt.Errorf("removing the finalizer: %w", err)
	}
	if _, err := e.client(r).Get(ctx, created.GetName(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("the object stayed after its last finalizer went: %v", err)
	}
	return "held-then-deleted", nil
}

func checkPagination(ctx context.Context, e *Env, r Resource) (string, error) {
	label := map[string]string{"conformance.yurt.io/page": e.Prefix}
	for i := 0; i < 5; i++ {
		_, cleanup, err := e.create(ctx, r, fmt.Sprintf("page-%d", i), func(u *unstructured.Unstructured) { u.SetLabels(label) })
		defer cleanup()
		if err != nil {
			return "", err
		}
	}
	var pages []string
	seen := map[string]bool{}
	opts := metav1.ListOptions{Limit: 2, LabelSelector: "conformance.yurt.io/page=" + e.Prefix}
	for {
		list, err := e.client(r).List(ctx, opts)
		if err != nil {
			return "", fmt.Errorf("list page %d: %w", len(pages)+1, err)
		}
		for _, it := range list.Items {
			if seen[it.GetName()] {
				return "", fmt.Errorf("%s appears on two pages", it.GetName())
			}
			seen[it.GetName()] = true
		}
		pages = append(pages, fmt.Sprint(len(list.Items)))
		if list.GetContinue() == "" {
			break
		}
		if len(pages) > 10 {
			return "", fmt.Errorf("pagination does not end")
		}
		opts.Continue = list.GetContinue()
	}
	if len(seen) != 5 {
		return "", fmt.Errorf("pages held %d objects, want 5", len(seen))
	}
	return "pages=" + strings.Join(pages, "+"), nil
}

func checkSelectors(ctx context.Context, e *Env, r Resource) (string, error) {
	labelled, cleanup, err := e.create(ctx, r, "sel-a", func(u *unstructured.Unstructured) {
		u.SetLabels(map[string]string{"conformance.yurt.io/sel": e.Prefix})
	})
	defer cleanup()
	if err != nil {
		return "", err
	}
	_, cleanup2, err := e.create(ctx, r, "sel-b")
	defer cleanup2()
	if err != nil {
		return "", err
	}
	names := func(opts metav1.ListOptions) ([]string, error) {
		list, err := e.client(r).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, it := range list.Items {
			if strings.HasPrefix(it.GetName(), e.Prefix+"-sel-") {
				out = append(out, it.GetName())
			}
		}
		sort.Strings(out)
		return out, nil
	}
	got, err := names(metav1.ListOptions{LabelSelector: "conformance.yurt.io/sel=" + e.Prefix})
	if err != nil || len(got) != 1 || got[0] != labelled.GetName() {
		return "", fmt.Errorf("label selector: got %v, %v", got, err)
	}
	got, err = names(metav1.ListOptions{FieldSelector: "metadata.name=" + labelled.GetName()})
	if err != nil || len(got) != 1 {
		return "", fmt.Errorf("field selector metadata.name: got %v, %v", got, err)
	}
	obs := "label metadata.name"
	if r.FieldSelector != "" {
		got, err = names(metav1.ListOptions{FieldSelector: r.FieldSelector})
		if err != nil || len(got) != 2 {
			return "", fmt.Errorf("field selector %s: got %v, %v", r.FieldSelector, got, err)
		}
		obs += " " + strings.Split(r.FieldSelector, "=")[0]
	}
	_, err = names(metav1.ListOptions{FieldSelector: "spec.noSuchField=x"})
	if err == nil || statusCode(err) != http.StatusBadRequest {
		return "", fmt.Errorf("an unsupported field selector: want 400, got %v", err)
	}
	return obs, nil
}

func checkTable(ctx context.Context, e *Env, r Resource) (string, error) {
	created, cleanup, err := e.create(ctx, r, "table")
	defer cleanup()
	if err != nil {
		return "", err
	}
	table := &metav1.Table{}
	raw, err := e.raw.Get().AbsPath(e.path(r)).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
	if err != nil {
		return "", fmt.Errorf("list as Table: %w", err)
	}
	if err := json.Unmarshal(raw, table); err != nil {
		return "", fmt.Errorf("decoding the Table: %w", err)
	}
	if table.Kind != "Table" || table.ResourceVersion == "" {
		return "", fmt.Errorf("not a Table with a resourceVersion: kind %q rv %q", table.Kind, table.ResourceVersion)
	}
	var cols []string
	for _, c := range table.ColumnDefinitions {
		if c.Priority == 0 {
			cols = append(cols, strings.ToLower(c.Name))
		}
	}
	found := false
	for _, row := range table.Rows {
		if len(row.Cells) != len(table.ColumnDefinitions) {
			return "", fmt.Errorf("a row has %d cells for %d columns", len(row.Cells), len(table.ColumnDefinitions))
		}
		if row.Cells[0] == created.GetName() {
			found = true
		}
	}
	if !found {
		return "", fmt.Errorf("no row for %s", created.GetName())
	}
	return "columns=" + strings.Join(cols, ","), nil
}

func checkOpenAPIV3(ctx context.Context, e *Env, r Resource) (string, error) {
	raw, err := e.raw.Get().AbsPath("/openapi/v3/apis/" + r.GVR.Group + "/" + r.GVR.Version).DoRaw(ctx)
	if err != nil {
		return "", fmt.Errorf("openapi v3 of %s: %w", r.GVR.GroupVersion(), err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				GVK []struct{ Group, Version, Kind string } `json:"x-kubernetes-group-version-kind"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return "", fmt.Errorf("decoding openapi v3: %w", err)
	}
	for _, s := range doc.Components.Schemas {
		for _, gvk := range s.GVK {
			if gvk.Group == r.GVR.Group && gvk.Version == r.GVR.Version && gvk.Kind == r.Kind {
				return "schema-with-gvk", nil
			}
		}
	}
	return "", fmt.Errorf("no schema for %s in openapi v3", r.Kind)
}

func checkProtobuf(ctx context.Context, e *Env, r Resource) (string, error) {
	created, cleanup, err := e.create(ctx, r, "proto")
	defer cleanup()
	if err != nil {
		return "", err
	}
	res := e.raw.Get().AbsPath(e.path(r), created.GetName()).
		SetHeader("Accept", "application/vnd.kubernetes.protobuf").Do(ctx)
	var contentType string
	res.ContentType(&contentType)
	if err := res.Error(); err != nil {
		return fmt.Sprintf("status=%d", statusCode(err)), nil
	}
	return "content-type=" + contentType, nil
}

func checkDeleteCollection(ctx context.Context, e *Env, r Resource) (string, error) {
	label := "conformance.yurt.io/collection=" + e.Prefix
	for i := 0; i < 3; i++ {
		_, cleanup, err := e.create(ctx, r, fmt.Sprintf("coll-%d", i), func(u *unstructured.Unstructured) {
			u.SetLabels(map[string]string{"conformance.yurt.io/collection": e.Prefix})
		})
		defer cleanup()
		if err != nil {
			return "", err
		}
	}
	if err := e.client(r).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: label}); err != nil {
		return "", fmt.Errorf("deletecollection: %w", err)
	}
	list, err := e.client(r).List(ctx, metav1.ListOptions{LabelSelector: label})
	if err != nil {
		return "", err
	}
	if len(list.Items) != 0 {
		return "", fmt.Errorf("%d objects left after deletecollection", len(list.Items))
	}
	return "all-deleted", nil
}

func (e *Env) path(r Resource) string {
	p := "/apis/" + r.GVR.Group + "/" + r.GVR.Version
	if r.Namespaced {
		p += "/namespaces/" + e.Namespace
	}
	return p + "/" + r.GVR.Resource
}

func statusCode(err error) int32 {
	if s, ok := err.(apierrors.APIStatus); ok {
		return s.Status().Code
	}
	return 0
}
