package filter

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestBuiltinsCompile: every file in artifacts/filters is one ResponseFilter named after the
// file, and compiles with the environment for new expressions.
func TestBuiltinsCompile(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "artifacts", "filters", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"discardcloudservice", "forwardkubesvctraffic", "inclusterconfig", "masterservice", "nodeportisolation", "servicetopology"}
	var got []string
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		got = append(got, name)
		rf := loadArtifact(t, name)
		if rf.Name != name || rf.Kind != "ResponseFilter" || rf.APIVersion != "apps.openyurt.io/v1alpha1" {
			t.Errorf("%s: %s %s named %q, want a apps.openyurt.io/v1alpha1 ResponseFilter named %q", file, rf.APIVersion, rf.Kind, rf.Name, name)
		}
		if rf.Spec.FailurePolicy == nil {
			t.Errorf("%s: failurePolicy is not set", file)
		}
		compileArtifact(t, name, fakeLookup{})
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("artifacts/filters holds %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join("..", "..", "artifacts", "filters")); err != nil {
		t.Fatal(err)
	}
}

func TestBuiltinsDependencies(t *testing.T) {
	for name, want := range map[string][2]bool{
		"servicetopology":       {true, true},
		"nodeportisolation":     {false, false},
		"masterservice":         {false, false},
		"discardcloudservice":   {false, false},
		"inclusterconfig":       {false, false},
		"forwardkubesvctraffic": {false, false},
	} {
		f := compileArtifact(t, name, fakeLookup{})
		if got := [2]bool{f.UsesService(), f.UsesNodePool()}; got != want {
			t.Errorf("%s: UsesService, UsesNodePool = %v, want %v", name, got, want)
		}
	}
}

func TestApplyListWithBuiltins(t *testing.T) {
	c := newCompiler(t, CompilerOptions{})
	var filters []*Filter
	for _, name := range []string{"nodeportisolation", "discardcloudservice", "masterservice"} {
		f, errs := c.Compile(loadArtifact(t, name))
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		filters = append(filters, f)
	}
	chain := NewChain(filters...)
	listen := "-pool-a,*"
	// Items as an API server sends them: no apiVersion and kind.
	strip := func(m map[string]any) unstructured.Unstructured {
		delete(m, "apiVersion")
		delete(m, "kind")
		return unstructured.Unstructured{Object: m}
	}
	lb := nodePortService("LoadBalancer", nil)
	lb["metadata"] = map[string]any{"name": "lb", "namespace": "ns", "annotations": map[string]any{"svc.openyurt.io/discard": "true"}}
	list := &unstructured.UnstructuredList{
		Object: map[string]any{"apiVersion": "v1", "kind": "ServiceList", "metadata": map[string]any{"resourceVersion": "42"}},
		Items:  []unstructured.Unstructured{strip(nodePortService("NodePort", &listen)), strip(lb), strip(kubernetesService("default", "kubernetes", true, port("https", 443)))},
	}
	req := Request{UserAgent: "kube-proxy", Verb: "list", Version: "v1", Resource: "services"}
	out, err := chain.For(req).ApplyList(context.Background(), list, req, Node{Name: "n", Pool: "pool-a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.List.Items) != 1 || out.List.Items[0].GetName() != "kubernetes" || out.List.GetResourceVersion() != "42" {
		t.Fatalf("items %v, resourceVersion %q", out.List.Items, out.List.GetResourceVersion())
	}
	if out.Dropped["ns/web"] != "nodeportisolation" || out.Dropped["ns/lb"] != "discardcloudservice" {
		t.Fatalf("dropped %v", out.Dropped)
	}
	if list.Items[0].GetKind() != "" || len(list.Items) != 3 {
		t.Fatal("the input list was modified")
	}
	// kubelet: masterservice rewrites default/kubernetes, whose kind came from the list.
	kreq := Request{UserAgent: "kubelet", Verb: "list", Version: "v1", Resource: "services"}
	out, err = chain.For(kreq).ApplyList(context.Background(), list, kreq, Node{Name: "n"})
	if err != nil || len(out.List.Items) != 3 {
		t.Fatalf("kubelet: %v, %d items", err, len(out.List.Items))
	}
	if ip, _, _ := unstructured.NestedString(out.List.Items[2].Object, "spec", "clusterIP"); ip != "169.254.2.1" {
		t.Fatalf("kubelet sees clusterIP %q", ip)
	}
}
