package conformance_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yurt-edge/yurt/test/conformance"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

func TestMain(m *testing.M) { framework.Main(m) }

const namespace = "conformance"

// TestConformance runs every check against the CRD-served NodePool (the reference) and
// against every resource yurt-apiserver serves, and fails on any observation where ours
// differs from the reference without a reason in conformance.KnownDifferences.
func TestConformance(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := framework.Clients(t)
	examples := framework.RepoPath(t, "artifacts", "examples")
	ours, err := conformance.YurtResources(examples)
	if err != nil {
		t.Fatal(err)
	}
	reference, err := conformance.CRDNodePool(examples)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	env, err := conformance.NewEnv(c.Config, namespace, "conf")
	if err != nil {
		t.Fatal(err)
	}
	crdName, err := conformance.InstallCRD(ctx, c.Dynamic, env.Discovery, framework.RepoPath(t, conformance.CRDManifest))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := conformance.DeleteCRD(context.Background(), c.Dynamic, crdName); err != nil {
			t.Log(err)
		}
	})

	run := func(t *testing.T, r conformance.Resource) map[string]string {
		obs := map[string]string{}
		for _, check := range conformance.Checks {
			t.Run(check.Name, func(t *testing.T) {
				got, err := check.Run(ctx, env, r)
				if err != nil {
					t.Fatalf("%s: %v", label(r), err)
				}
				obs[check.Name] = got
			})
		}
		return obs
	}

	var want map[string]string
	// A check the reference fails is a failure of its own; ours are compared on the rest.
	t.Run("crd/"+label(reference), func(t *testing.T) { want = run(t, reference) })
	// The reference's kind-specific observations must match what NodePool declares, or the
	// comparisons below would compare against the wrong thing.
	for _, check := range []string{"table", "selectors"} {
		if w, ok := want[check]; ok && w != conformance.Expected(reference, check, w) {
			t.Errorf("the CRD reference's %s: %q, NodePool declares %q", check, w, conformance.Expected(reference, check, w))
		}
	}
	var report strings.Builder
	for _, r := range ours {
		var got map[string]string
		t.Run(label(r), func(t *testing.T) { got = run(t, r) })
		for _, check := range conformance.Checks {
			g, ok := got[check.Name]
			w, wok := want[check.Name]
			if !ok || !wok {
				continue // the check failed and said why
			}
			expected := conformance.Expected(r, check.Name, w)
			fmt.Fprintf(&report, "%-40s %-28s ours=%q crd=%q\n", label(r), check.Name, g, w)
			if g == expected {
				continue
			}
			if reason, known := conformance.KnownDifference(r, check.Name); known {
				t.Logf("%s %s: known difference from the CRD (ours %q, CRD %q): %s", label(r), check.Name, g, w, reason)
				continue
			}
			t.Errorf("%s %s: ours %q, the CRD reference %q (expected %q); fix it or list it in conformance.KnownDifferences with the reason",
				label(r), check.Name, g, w, expected)
		}
	}
	t.Logf("observations:\n%s", report.String())
}

func label(r conformance.Resource) string { return conformance.Label(r) }
