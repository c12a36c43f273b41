package filter

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
)

// fakeLookup is a Lookup backed by maps.
type fakeLookup struct {
	pools    map[string]string         // node → pool
	services map[string]map[string]any // namespace/name → Service
}

func (l fakeLookup) NodePool(node string) string { return l.pools[node] }

func (l fakeLookup) Service(namespace, name string) (map[string]any, bool) {
	s, ok := l.services[namespace+"/"+name]
	return s, ok
}

// loadArtifact reads a ResponseFilter from artifacts/filters.
func loadArtifact(t testing.TB, name string) *appsv1alpha1.ResponseFilter {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "artifacts", "filters", name+".yaml"))
	if err != nil {
		t.Fatalf("reading filter %s: %v", name, err)
	}
	rf := &appsv1alpha1.ResponseFilter{}
	if err := yaml.UnmarshalStrict(data, rf); err != nil {
		t.Fatalf("decoding artifacts/filters/%s.yaml: %v", name, err)
	}
	return rf
}

func compileArtifact(t testing.TB, name string, lookup Lookup) *Filter {
	t.Helper()
	c, err := NewCompiler(CompilerOptions{Lookup: lookup, NewExpressions: true})
	if err != nil {
		t.Fatal(err)
	}
	f, errs := c.Compile(loadArtifact(t, name))
	if len(errs) > 0 {
		t.Fatalf("compiling artifacts/filters/%s.yaml: %v", name, errs.ToAggregate())
	}
	return f
}

func mustObject(t testing.TB, y string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(y), &u.Object); err != nil {
		t.Fatalf("decoding object: %v\n%s", err, y)
	}
	return u
}

// run applies one filter through a chain, as a hub would, for a matching request.
func run(t testing.TB, f *Filter, obj *unstructured.Unstructured, req Request, node Node) Outcome {
	t.Helper()
	if !f.Matches(req) {
		t.Fatalf("filter %s does not match request %+v", f.Name, req)
	}
	out, err := NewChain(f).Apply(context.Background(), obj, req, node)
	if err != nil {
		t.Fatalf("filter %s: %v", f.Name, err)
	}
	if len(out.Ignored) > 0 {
		t.Fatalf("filter %s failed (ignored): %v", f.Name, out.Ignored)
	}
	return out
}

func mustObjectFrom(m map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: m}
}
