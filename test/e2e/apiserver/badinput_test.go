package apiserver

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/yurt-edge/yurt/test/e2e/framework"
)

// TestBadInputIsRejectedWithFieldPaths sends invalid NodePools through the real kube-apiserver
// and checks each gets a 4xx naming the field, never a 500, and that the stored pool is intact.
func TestBadInputIsRejectedWithFieldPaths(t *testing.T) {
	t.Parallel()
	c := framework.Clients(t)
	ctx := context.Background()
	pools := c.Dynamic.Resource(schema.GroupVersionResource{Group: "apps.openyurt.io", Version: "v1beta2", Resource: "nodepools"})

	manifest := func(name, spec string) string {
		return "apiVersion: apps.openyurt.io/v1beta2\nkind: NodePool\nmetadata:\n  name: " + name + "\nspec:\n" + spec
	}
	creates := []struct {
		name string
		spec string
		// want are substrings the error must contain (field path and reason).
		want []string
	}{
		{"bad-type", "  type: Fog\n", []string{"spec.type", "Unsupported value", `"Fog"`}},
		{"hostnet-cloud", "  type: Cloud\n  hostNetwork: true\n", []string{"spec.hostNetwork", "Cloud"}},
		{"bad-label", "  type: Edge\n  labels: {\"bad key!\": x}\n", []string{"spec.labels", "bad key!"}},
		{"bad-label-value", "  type: Edge\n  labels: {site: \"" + strings.Repeat("v", 64) + "\"}\n", []string{"spec.labels", "63"}},
		{"bad-taint-effect", "  type: Edge\n  taints: [{key: a, value: b, effect: Sometimes}]\n", []string{"spec.taints[0].effect", "Unsupported value"}},
		{"taint-no-key", "  type: Edge\n  taints: [{value: b, effect: NoSchedule}]\n", []string{"spec.taints[0].key", "Required"}},
		{"unknown-field", "  type: Edge\n  colour: blue\n", []string{"unknown field", "spec.colour"}},
	}
	for _, tc := range creates {
		t.Run(tc.name, func(t *testing.T) {
			name := uniqueName("bad-" + tc.name)
			// kubectl's default validation is strict server-side field validation.
			_, err := framework.KubectlStdin(t, manifest(name, tc.spec), "create", "--validate=strict", "-f", "-")
			if err == nil {
				_, _ = framework.Kubectl(t, "delete", "np", name, "--wait=false")
				t.Fatalf("creating a NodePool with %s succeeded", tc.name)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "InternalError") || strings.Contains(err.Error(), "Internal error") {
				t.Errorf("bad input produced an internal error: %v", err)
			}
			if _, err := pools.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("rejected pool %s exists afterwards: %v", name, err)
			}
		})
	}

	t.Run("immutable-fields", func(t *testing.T) {
		name := uniqueName("bad-immutable")
		kubectlStdinOK(t, manifest(name, "  type: Edge\n  hostNetwork: true\n"), "create", "-f", "-")
		t.Cleanup(func() { _, _ = framework.Kubectl(t, "delete", "np", name, "--wait=false") })
		for _, p := range []struct{ patch, field string }{
			{`{"spec":{"type":"Cloud","hostNetwork":false}}`, "spec.type"},
			{`{"spec":{"hostNetwork":false}}`, "spec.hostNetwork"},
		} {
			_, err := pools.Patch(ctx, name, types.MergePatchType, []byte(p.patch), metav1.PatchOptions{})
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), p.field) || !strings.Contains(err.Error(), "immutable") {
				t.Errorf("patch %s: %v, want 422 Invalid naming %s as immutable", p.patch, err, p.field)
			}
		}
		got := kubectlOK(t, "get", "np", name, "-o", "jsonpath={.spec.type}/{.spec.hostNetwork}")
		if got != "Edge/true" {
			t.Errorf("after rejected patches the pool's spec is %s, want Edge/true", got)
		}
	})

	t.Run("3MiB-object", func(t *testing.T) {
		name := uniqueName("bad-huge")
		body := []byte(`{"apiVersion":"apps.openyurt.io/v1beta2","kind":"NodePool","metadata":{"name":"` + name +
			`","annotations":{"big":"` + strings.Repeat("x", 3<<20) + `"}},"spec":{"type":"Edge"}}`)
		res := c.Kube.CoreV1().RESTClient().Post().AbsPath("/apis/apps.openyurt.io/v1beta2/nodepools").
			SetHeader("Content-Type", "application/json").Body(body).Do(ctx)
		var code int
		res.StatusCode(&code)
		err := res.Error()
		if err == nil {
			_ = pools.Delete(ctx, name, metav1.DeleteOptions{})
			t.Fatalf("a 3 MiB NodePool was stored")
		}
		if code < 400 || code >= 500 {
			t.Errorf("a 3 MiB NodePool got HTTP %d (%v), want a 4xx", code, err)
		}
	})
}
