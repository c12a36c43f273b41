package filter

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

func builtinNames(t *testing.T) []string {
	files, err := filepath.Glob(framework.RepoPath(t, "artifacts", "filters", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no filters in artifacts/filters: %v", err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".yaml"))
	}
	return names
}

// TestBuiltinFiltersDryRun: `kubectl apply --dry-run=server -f artifacts/filters/` succeeds
// for every file and stores nothing.
func TestBuiltinFiltersDryRun(t *testing.T) {
	out, err := framework.Kubectl(t, "apply", "--dry-run=server", "--validate=strict", "-f", framework.RepoPath(t, "artifacts", "filters")+"/")
	if err != nil {
		t.Fatalf("server dry run of artifacts/filters: %v\n%s", err, out)
	}
	for _, name := range builtinNames(t) {
		if !strings.Contains(out, "responsefilter.apps.openyurt.io/"+name+" created (server dry run)") {
			t.Errorf("dry run output lacks %s:\n%s", name, out)
		}
	}
	c := framework.Clients(t)
	for _, name := range builtinNames(t) {
		if _, err := c.Yurt.AppsV1alpha1().ResponseFilters().Get(context.Background(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("dry run stored %s: %v", name, err)
		}
	}
}

// TestBuiltinFiltersCreateAndStatus creates the built-in filters, checks the status the server
// sets, updates one, and deletes them (disabling a filter is deleting it).
func TestBuiltinFiltersCreateAndStatus(t *testing.T) {
	ctx := context.Background()
	c := framework.Clients(t)
	dir := framework.RepoPath(t, "artifacts", "filters") + "/"
	if out, err := framework.Kubectl(t, "apply", "-f", dir); err != nil {
		t.Fatalf("kubectl apply -f artifacts/filters/: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = framework.Kubectl(t, "delete", "--ignore-not-found", "-f", dir) })

	for _, name := range builtinNames(t) {
		rf, err := c.Yurt.AppsV1alpha1().ResponseFilters().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ready := meta.FindStatusCondition(rf.Status.Conditions, "Ready")
		if rf.Status.ObservedGeneration != rf.Generation || ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != "Compiled" {
			t.Errorf("%s: generation %d, status %+v; want observedGeneration = generation and Ready=True (Compiled)", name, rf.Generation, rf.Status)
		}
	}
	// kubectl shows the condition in the wide output.
	out, err := framework.Kubectl(t, "get", "rf", "servicetopology", "-o", "wide")
	if err != nil || !strings.Contains(out, "True") {
		t.Errorf("kubectl get rf -o wide: %v\n%s", err, out)
	}

	// A spec change bumps the generation and the server follows it.
	_, err = c.Yurt.AppsV1alpha1().ResponseFilters().Patch(ctx, "discardcloudservice", types.MergePatchType, []byte(`{"spec":{"priority":50}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rf, err := c.Yurt.AppsV1alpha1().ResponseFilters().Get(ctx, "discardcloudservice", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rf.Generation != 2 || rf.Status.ObservedGeneration != 2 {
		t.Errorf("after a spec change: generation %d, observedGeneration %d; want 2 and 2", rf.Generation, rf.Status.ObservedGeneration)
	}

	// Clients may not forge the server's status.
	forged := rf.DeepCopy()
	forged.Status.ObservedGeneration = 9
	_, err = c.Yurt.AppsV1alpha1().ResponseFilters().UpdateStatus(ctx, forged, metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "status.observedGeneration") {
		t.Errorf("forging observedGeneration: %v, want 422 naming status.observedGeneration", err)
	}

	// Disabling a filter is deleting it.
	if out, err := framework.Kubectl(t, "delete", "responsefilter", "masterservice"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	framework.WaitFor(t, 30*time.Second, func() (bool, error) {
		_, err := c.Yurt.AppsV1alpha1().ResponseFilters().Get(ctx, "masterservice", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}

func filterManifest(name, spec string) string {
	return fmt.Sprintf(`apiVersion: apps.openyurt.io/v1alpha1
kind: ResponseFilter
metadata:
  name: %s
spec:
  failurePolicy: Ignore
  match:
    userAgents: [kube-proxy]
    resources: [{group: "", resources: [services], verbs: [list, watch]}]
%s`, name, spec)
}

// TestBadFiltersAreRejected: bad expressions get 422 Invalid naming the field and carrying the
// CEL error, through kubectl and the generated client; nothing is stored.
func TestBadFiltersAreRejected(t *testing.T) {
	ctx := context.Background()
	c := framework.Clients(t)
	cases := []struct {
		name string
		spec string
		want []string // substrings of the error
	}{
		{"syntax", "  keep: \"object.metadata.name ==\"\n", []string{"spec.keep", "compilation failed", "Syntax error"}},
		{"undeclared", "  keep: \"oldObject.x == 1\"\n", []string{"spec.keep", "undeclared reference to 'oldObject'"}},
		{"wrong-type", "  keep: \"object.metadata.name\"\n", []string{"spec.keep", "must evaluate to bool but evaluates to dyn"}},
		{"condition-type", "  matchConditions: [{name: c, expression: \"'x'\"}]\n  keep: \"true\"\n",
			[]string{"spec.matchConditions[0].expression", "must evaluate to bool but evaluates to string"}},
		{"variable-order", "  variables: [{name: a, expression: \"variables.b\"}, {name: b, expression: \"1\"}]\n  keep: \"true\"\n",
			[]string{"spec.variables[0].expression", "undefined field 'b'"}},
		{"cost", "  keep: \"object.spec.ports.all(a, object.spec.ports.all(b, object.spec.ports.all(c, a == c)))\"\n",
			[]string{"spec.keep", "estimated cost", "exceeds the limit"}},
		{"apply-configuration-type", "  mutations: [{patchType: ApplyConfiguration, applyConfiguration: {expression: \"{'a': 1}\"}}]\n",
			[]string{"spec.mutations[0].applyConfiguration.expression", "must evaluate to Object"}},
		{"json-patch-type", "  mutations: [{patchType: JSONPatch, jsonPatch: {expression: \"[1, 2]\"}}]\n",
			[]string{"spec.mutations[0].jsonPatch.expression", "must evaluate to list(JSONPatch)"}},
		{"regex", "  keep: \"object.metadata.name.matches('(')\"\n", []string{"spec.keep", "invalid matches argument"}},
		{"unknown-function", "  keep: \"nodePools(node.name) == ''\"\n", []string{"spec.keep", "undeclared reference to 'nodePools'"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := "bad-" + tc.name
			out, err := framework.KubectlStdin(t, filterManifest(name, tc.spec), "create", "-f", "-")
			if err == nil {
				_, _ = framework.Kubectl(t, "delete", "rf", name)
				t.Fatalf("created a filter with a bad %s:\n%s", tc.name, out)
			}
			msg := err.Error() + out
			if !strings.Contains(msg, "is invalid") {
				t.Errorf("error is not 422 Invalid: %s", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q:\n%s", w, msg)
				}
			}
			// The same through the generated client: a 422 with the field in its causes.
			rf := &appsv1alpha1.ResponseFilter{}
			if err := yaml.UnmarshalStrict([]byte(filterManifest(name, tc.spec)), rf); err != nil {
				t.Fatal(err)
			}
			_, err = c.Yurt.AppsV1alpha1().ResponseFilters().Create(ctx, rf, metav1.CreateOptions{})
			if !apierrors.IsInvalid(err) {
				t.Fatalf("client create: %v, want 422 Invalid", err)
			}
			status := err.(apierrors.APIStatus).Status()
			if status.Details == nil || len(status.Details.Causes) == 0 || status.Details.Causes[0].Field != tc.want[0] {
				t.Errorf("causes %+v, want the first on %s", status.Details, tc.want[0])
			}
			if _, err := c.Yurt.AppsV1alpha1().ResponseFilters().Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("rejected filter %s is stored: %v", name, err)
			}
		})
	}
}

// TestBadUpdateIsRejected: an update to a bad expression is refused and the stored filter and
// its status are unchanged.
func TestBadUpdateIsRejected(t *testing.T) {
	ctx := context.Background()
	c := framework.Clients(t)
	name := "update-target"
	if out, err := framework.KubectlStdin(t, filterManifest(name, "  keep: \"true\"\n"), "create", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = framework.Kubectl(t, "delete", "rf", name, "--ignore-not-found") })
	_, err := c.Yurt.AppsV1alpha1().ResponseFilters().Patch(ctx, name, types.MergePatchType, []byte(`{"spec":{"keep":"object.kind"}}`), metav1.PatchOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.keep") {
		t.Fatalf("bad update: %v, want 422 naming spec.keep", err)
	}
	rf, err := c.Yurt.AppsV1alpha1().ResponseFilters().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rf.Spec.Keep != "true" || rf.Generation != 1 || rf.Status.ObservedGeneration != 1 {
		t.Errorf("after a rejected update: keep %q, generation %d, observedGeneration %d", rf.Spec.Keep, rf.Generation, rf.Status.ObservedGeneration)
	}
	// A metadata-only change keeps the generation and the status.
	if _, err := c.Yurt.AppsV1alpha1().ResponseFilters().Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"labels":{"a":"b"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestExampleFilter: the example in artifacts/examples compiles on the server.
func TestExampleFilter(t *testing.T) {
	path := framework.RepoPath(t, "artifacts", "examples", "responsefilter.yaml")
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	if out, err := framework.Kubectl(t, "create", "--dry-run=server", "-f", path); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
