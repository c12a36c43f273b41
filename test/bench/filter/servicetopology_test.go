// Package filter benchmarks the built-in servicetopology ResponseFilter (CEL, as the hub runs
// it) against the same logic written directly in Go, over 10,000 EndpointSlices of 50
// endpoints. Each benchmark op filters all 10,000 slices; ns/object and allocs/object are the
// per-slice figures.
package filter

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
	celfilter "github.com/yurt-edge/yurt/pkg/filter"
)

const (
	slices            = 10_000
	endpointsPerSlice = 50
	nodes             = 500
	pools             = 10
	services          = 100
)

var topologyKeys = []string{"openyurt.io/nodepool", "kubernetes.io/hostname", "kubernetes.io/zone", ""}

type lookup struct {
	pools    map[string]string
	services map[string]map[string]any
}

func (l *lookup) NodePool(n string) string { return l.pools[n] }
func (l *lookup) Service(ns, name string) (map[string]any, bool) {
	s, ok := l.services[ns+"/"+name]
	return s, ok
}

type fixture struct {
	lookup  *lookup
	typed   []*discoveryv1.EndpointSlice
	unstr   []*unstructured.Unstructured
	node    celfilter.Node
	request celfilter.Request
}

func newFixture(b *testing.B) *fixture {
	f := &fixture{lookup: &lookup{pools: map[string]string{}, services: map[string]map[string]any{}}}
	for i := 0; i < nodes; i++ {
		f.lookup.pools[fmt.Sprintf("node-%d", i)] = fmt.Sprintf("pool-%d", i%pools)
	}
	for i := 0; i < services; i++ {
		md := map[string]any{"name": fmt.Sprintf("svc-%d", i), "namespace": "bench"}
		if k := topologyKeys[i%len(topologyKeys)]; k != "" {
			md["annotations"] = map[string]any{"openyurt.io/topologyKeys": k}
		}
		f.lookup.services["bench/"+md["name"].(string)] = map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": md}
	}
	ready := true
	for i := 0; i < slices; i++ {
		s := &discoveryv1.EndpointSlice{
			TypeMeta:    metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
			ObjectMeta:  metav1.ObjectMeta{Name: fmt.Sprintf("slice-%d", i), Namespace: "bench", Labels: map[string]string{"kubernetes.io/service-name": fmt.Sprintf("svc-%d", i%services)}},
			AddressType: discoveryv1.AddressTypeIPv4,
		}
		for j := 0; j < endpointsPerSlice; j++ {
			node := fmt.Sprintf("node-%d", (i*7+j*13)%nodes)
			s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
				Addresses:  []string{fmt.Sprintf("10.%d.%d.%d", i/250, i%250, j)},
				Conditions: discoveryv1.EndpointConditions{Ready: &ready},
				NodeName:   &node,
			})
		}
		f.typed = append(f.typed, s)
		content, err := k8sruntime.DefaultUnstructuredConverter.ToUnstructured(s)
		if err != nil {
			b.Fatal(err)
		}
		f.unstr = append(f.unstr, &unstructured.Unstructured{Object: content})
	}
	f.node = celfilter.Node{Name: "node-3", Pool: "pool-3"}
	f.request = celfilter.Request{UserAgent: "kube-proxy", Verb: "list", Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices", Namespace: "bench"}
	return f
}

func loadServiceTopology(b *testing.B, l celfilter.Lookup) *celfilter.Chain {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "artifacts", "filters", "servicetopology.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	rf := &appsv1alpha1.ResponseFilter{}
	if err := yaml.UnmarshalStrict(data, rf); err != nil {
		b.Fatal(err)
	}
	c, err := celfilter.NewCompiler(celfilter.CompilerOptions{Lookup: l})
	if err != nil {
		b.Fatal(err)
	}
	f, errs := c.Compile(rf)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	return celfilter.NewChain(f)
}

// goServiceTopology is servicetopology written directly in Go on typed slices, returning a
// filtered copy (the input is not modified), as a hub filter must.
func goServiceTopology(s *discoveryv1.EndpointSlice, l *lookup, node celfilter.Node) *discoveryv1.EndpointSlice {
	svc, ok := l.services[s.Namespace+"/"+s.Labels["kubernetes.io/service-name"]]
	if !ok {
		return s
	}
	key, _, _ := unstructured.NestedString(svc, "metadata", "annotations", "openyurt.io/topologyKeys")
	byPool := false
	switch key {
	case "kubernetes.io/hostname":
	case "openyurt.io/nodepool", "kubernetes.io/zone":
		byPool = node.Pool != ""
	default:
		return s
	}
	out := *s
	out.Endpoints = make([]discoveryv1.Endpoint, 0, len(s.Endpoints))
	for _, e := range s.Endpoints {
		if e.NodeName == nil || *e.NodeName == "" {
			continue
		}
		if (byPool && l.pools[*e.NodeName] == node.Pool) || (!byPool && *e.NodeName == node.Name) {
			out.Endpoints = append(out.Endpoints, e)
		}
	}
	return &out
}

// goServiceTopologyUnstructured is the same on unstructured content, the form the CEL filter sees.
func goServiceTopologyUnstructured(s *unstructured.Unstructured, l *lookup, node celfilter.Node) *unstructured.Unstructured {
	svc, ok := l.services[s.GetNamespace()+"/"+s.GetLabels()["kubernetes.io/service-name"]]
	if !ok {
		return s
	}
	key, _, _ := unstructured.NestedString(svc, "metadata", "annotations", "openyurt.io/topologyKeys")
	byPool := false
	switch key {
	case "kubernetes.io/hostname":
	case "openyurt.io/nodepool", "kubernetes.io/zone":
		byPool = node.Pool != ""
	default:
		return s
	}
	eps, _ := s.Object["endpoints"].([]any)
	kept := make([]any, 0, len(eps))
	for _, e := range eps {
		n, _ := e.(map[string]any)["nodeName"].(string)
		if n == "" {
			continue
		}
		if (byPool && l.pools[n] == node.Pool) || (!byPool && n == node.Name) {
			kept = append(kept, k8sruntime.DeepCopyJSONValue(e))
		}
	}
	out := &unstructured.Unstructured{Object: make(map[string]any, len(s.Object))}
	for k, v := range s.Object {
		out.Object[k] = v
	}
	out.Object["endpoints"] = kept
	return out
}

func nodeNames(eps []any) []string {
	var out []string
	for _, e := range eps {
		out = append(out, e.(map[string]any)["nodeName"].(string))
	}
	return out
}

func perObject(b *testing.B, start time.Time, mallocs uint64) {
	n := float64(b.N * slices)
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/n, "ns/object")
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b.ReportMetric(float64(m.Mallocs-mallocs)/n, "allocs/object")
}

func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

func BenchmarkServiceTopology(b *testing.B) {
	f := newFixture(b)
	chain := loadServiceTopology(b, f.lookup).For(f.request)
	ctx := context.Background()

	// The CEL filter and the Go code agree on every slice.
	for i, s := range f.unstr {
		out, err := chain.Apply(ctx, s, f.request, f.node)
		if err != nil || !out.Keep {
			b.Fatalf("slice %d: %v", i, err)
		}
		want := goServiceTopologyUnstructured(s, f.lookup, f.node)
		got, _ := out.Object.Object["endpoints"].([]any)
		if !reflect.DeepEqual(nodeNames(got), nodeNames(want.Object["endpoints"].([]any))) {
			b.Fatalf("slice %d: CEL kept %v, Go %v", i, nodeNames(got), nodeNames(want.Object["endpoints"].([]any)))
		}
	}

	b.Run("cel", func(b *testing.B) {
		runtime.GC()
		start, m := time.Now(), mallocs()
		for i := 0; i < b.N; i++ {
			for _, s := range f.unstr {
				if _, err := chain.Apply(ctx, s, f.request, f.node); err != nil {
					b.Fatal(err)
				}
			}
		}
		perObject(b, start, m)
	})
	b.Run("go-unstructured", func(b *testing.B) {
		runtime.GC()
		start, m := time.Now(), mallocs()
		for i := 0; i < b.N; i++ {
			for _, s := range f.unstr {
				_ = goServiceTopologyUnstructured(s, f.lookup, f.node)
			}
		}
		perObject(b, start, m)
	})
	b.Run("go-typed", func(b *testing.B) {
		runtime.GC()
		start, m := time.Now(), mallocs()
		for i := 0; i < b.N; i++ {
			for _, s := range f.typed {
				_ = goServiceTopology(s, f.lookup, f.node)
			}
		}
		perObject(b, start, m)
	})
}
