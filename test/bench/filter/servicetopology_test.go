// Package filter benchmarks the built-in servicetopology ResponseFilter (CEL, as the hub runs
// it) against the same logic written directly in Go, over 10,000 EndpointSlices of 50
// endpoints. Each benchmark op filters all 10,000 slices; ns/object, B/object and
// allocs/object are the per-slice figures. The report goes to _output/bench/filter.md.
//
// The fair comparison is cel-* against go-unstructured: the hub filters the unstructured
// content it decoded (pkg/filter takes *unstructured.Unstructured), and both return a new
// object whose endpoints list holds the kept endpoints of the input, shared, not copied.
// go-typed (typed EndpointSlices, as OpenYurt's Go filter) is shown for reference only.
//
//	go test -run '^$' -bench ServiceTopology -benchtime 5x ./test/bench/filter
//
// Before pkg/filter's fast plans, the CEL filter was 14-15x go-unstructured (cpu-ns per slice:
// cel-list 80,258, cel-object 88,235, go-unstructured 5,689; 18.6-19.7 KB and 313-332
// allocations per slice against Go's 1.3 KB and 5.8): about half garbage collection of what
// cel-go allocates, most of the rest cel-go's interpreter with the runtime cost tracking
// Kubernetes' environment always enables (a tracker per expression evaluated, an observer call
// and argument slices per step).
//
// pkg/filter now also compiles each checked expression of a subset of CEL (plan.go:
// selections, optionals, literals, comprehensions, comparisons, the strings extension,
// nodePool, service, JSONPatch literals) into Go closures over the unstructured content
// itself, charging what cel-go's cost tracker would, and hands anything it does not model
// (errors, unexpected types, a budget running out) back to the expression's cel-go program.
// Both servicetopology expressions are planned. Median of 3 runs (-count 3, 2 shared cores):
// cel-list 10,384 and cel-object 9,728 cpu-ns against go-unstructured 7,234 (1.4x and 1.3x),
// 1.4 KB and 7.5-8.5 allocations per slice. What is left over Go: the closures' calls, reading
// nodeName twice (has() then the value), the evaluation's bookkeeping and the JSON patch's
// copy of the object's top-level map and patch list (Go builds the object directly).
package filter

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"syscall"
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

// goServiceTopologyUnstructured is the same on unstructured content, the form the CEL filter
// sees, with the same result: a new object with a new endpoints list sharing the kept endpoints.
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
			kept = append(kept, e)
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

// result is one sub-benchmark's per-slice figures, for the report.
type result struct {
	name                                                string
	nsPerObject, cpuNsPerObject, bPerObject, aPerObject float64
}

// cpuTime is the CPU time the process has used (all threads, so the garbage collector's work
// counts). On a shared machine it varies much less than elapsed time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs fn (which filters all slices once) b.N times and reports per-slice figures.
func measure(b *testing.B, results map[string]result, fn func()) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	start, cpuStart := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		fn()
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpuStart
	b.StopTimer()
	runtime.ReadMemStats(&after)
	n := float64(b.N * slices)
	r := result{
		name:           b.Name(),
		nsPerObject:    float64(elapsed.Nanoseconds()) / n,
		cpuNsPerObject: float64(cpu.Nanoseconds()) / n,
		bPerObject:     float64(after.TotalAlloc-before.TotalAlloc) / n,
		aPerObject:     float64(after.Mallocs-before.Mallocs) / n,
	}
	b.ReportMetric(r.nsPerObject, "ns/object")
	b.ReportMetric(r.cpuNsPerObject, "cpu-ns/object")
	b.ReportMetric(r.bPerObject, "B/object")
	b.ReportMetric(r.aPerObject, "allocs/object")
	results[r.name] = r
}

func BenchmarkServiceTopology(b *testing.B) {
	f := newFixture(b)
	chain := loadServiceTopology(b, f.lookup).For(f.request)
	ctx := context.Background()
	list := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSliceList", "metadata": map[string]any{"resourceVersion": "1"}}}
	for _, s := range f.unstr {
		list.Items = append(list.Items, *s)
	}

	// The CEL filter and the Go code agree on every slice, alone and in a list.
	lout, err := chain.ApplyList(ctx, list, f.request, f.node)
	if err != nil || len(lout.List.Items) != slices || len(lout.Ignored) > 0 {
		b.Fatalf("list: %v (%d items, ignored %v)", err, len(lout.List.Items), lout.Ignored)
	}
	for i, s := range f.unstr {
		out, err := chain.Apply(ctx, s, f.request, f.node)
		if err != nil || !out.Keep || len(out.Ignored) > 0 {
			b.Fatalf("slice %d: %v %v", i, err, out.Ignored)
		}
		want := nodeNames(goServiceTopologyUnstructured(s, f.lookup, f.node).Object["endpoints"].([]any))
		got, _ := out.Object.Object["endpoints"].([]any)
		inList, _ := lout.List.Items[i].Object["endpoints"].([]any)
		if !reflect.DeepEqual(nodeNames(got), want) || !reflect.DeepEqual(nodeNames(inList), want) {
			b.Fatalf("slice %d: CEL kept %v (in a list %v), Go %v", i, nodeNames(got), nodeNames(inList), want)
		}
		typed := goServiceTopology(f.typed[i], f.lookup, f.node)
		var typedNames []string
		for _, e := range typed.Endpoints {
			typedNames = append(typedNames, *e.NodeName)
		}
		if !reflect.DeepEqual(typedNames, want) {
			b.Fatalf("slice %d: typed Go kept %v, unstructured Go %v", i, typedNames, want)
		}
	}

	results := map[string]result{}
	// Watch events: one object at a time (the request and node are converted per object).
	b.Run("cel-object", func(b *testing.B) {
		measure(b, results, func() {
			for _, s := range f.unstr {
				if _, err := chain.Apply(ctx, s, f.request, f.node); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	// A list response: the hub's list path.
	b.Run("cel-list", func(b *testing.B) {
		measure(b, results, func() {
			if _, err := chain.ApplyList(ctx, list, f.request, f.node); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("go-unstructured", func(b *testing.B) {
		measure(b, results, func() {
			for _, s := range f.unstr {
				_ = goServiceTopologyUnstructured(s, f.lookup, f.node)
			}
		})
	})
	b.Run("go-typed", func(b *testing.B) {
		measure(b, results, func() {
			for _, s := range f.typed {
				_ = goServiceTopology(s, f.lookup, f.node)
			}
		})
	})
	if err := writeReport(results); err != nil {
		b.Fatal(err)
	}
}

// writeReport writes _output/bench/filter.md: the per-slice figures and the CEL/Go ratios.
func writeReport(results map[string]result) error {
	var sb strings.Builder
	sb.WriteString("# servicetopology: CEL ResponseFilter vs Go\n\n")
	fmt.Fprintf(&sb, "%d EndpointSlices of %d endpoints, %d nodes in %d pools, %d Services (topologyKeys: nodepool, hostname, zone, none).\n", slices, endpointsPerSlice, nodes, pools, services)
	sb.WriteString("The fair baseline is go-unstructured (same input as the hub's filter: unstructured content; same output: a new object sharing the kept endpoints).\n\n")
	sb.WriteString("`go test -run '^$' -bench ServiceTopology -benchtime 5x ./test/bench/filter`\n\n")
	sb.WriteString("cpu-ns is the CPU time of the process (garbage collection included) per slice; ratios are of cpu-ns, which a loaded machine disturbs less than elapsed time (ns).\n\n")
	sb.WriteString("| benchmark | ns/object | cpu-ns/object | B/object | allocs/object | cpu × go-unstructured |\n|---|---:|---:|---:|---:|---:|\n")
	var names []string
	var base float64
	for name, r := range results {
		names = append(names, name)
		if strings.HasSuffix(name, "/go-unstructured") {
			base = r.cpuNsPerObject
		}
	}
	sort.Strings(names)
	for _, name := range names {
		r := results[name]
		ratio := "-"
		if base > 0 {
			ratio = fmt.Sprintf("%.1f", r.cpuNsPerObject/base)
		}
		fmt.Fprintf(&sb, "| %s | %.0f | %.0f | %.0f | %.1f | %s |\n", name, r.nsPerObject, r.cpuNsPerObject, r.bPerObject, r.aPerObject, ratio)
	}
	dir := filepath.Join("..", "..", "..", "_output", "bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the report directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "filter.md"), []byte(sb.String()), 0o644); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}
