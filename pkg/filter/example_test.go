package filter_test

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
	"github.com/yurt-edge/yurt/pkg/filter"
)

// hubLookup stands for the hub's informer-backed Lookup.
type hubLookup struct{}

func (hubLookup) NodePool(node string) string                   { return map[string]string{"edge-2": "hangzhou"}[node] }
func (hubLookup) Service(string, string) (map[string]any, bool) { return nil, false }

// A hub compiles each ResponseFilter it watches (cached per generation), builds the chain,
// picks the filters of a request once and runs them on every object of the response.
func Example() {
	compiler, err := filter.NewCompiler(filter.CompilerOptions{Lookup: hubLookup{}})
	if err != nil {
		panic(err)
	}
	ignore := appsv1alpha1.Ignore
	rf := &appsv1alpha1.ResponseFilter{
		ObjectMeta: metav1.ObjectMeta{Name: "same-pool-only", UID: "uid-1", Generation: 1},
		Spec: appsv1alpha1.ResponseFilterSpec{
			FailurePolicy: &ignore,
			Match: appsv1alpha1.MatchResources{
				UserAgents: []string{"kube-proxy"},
				Resources:  []appsv1alpha1.ResourceRule{{Resources: []string{"pods"}, Verbs: []string{"list", "watch"}}},
			},
			Keep: "nodePool(object.spec.nodeName) == node.pool",
		},
	}
	f, errs := compiler.Compile(rf) // on every add/update event; compiler.Forget(name) on delete
	if len(errs) > 0 {
		fmt.Println(errs.ToAggregate())
		return
	}
	chain := filter.NewChain(f) // rebuilt when the set of filters changes

	req := filter.Request{UserAgent: "kube-proxy/v1.36.3", Verb: "list", Version: "v1", Resource: "pods", Namespace: "shop"}
	node := filter.Node{Name: "edge-1", Pool: "hangzhou"}
	perRequest := chain.For(req) // Empty(): pass the response through untouched
	for _, nodeName := range []string{"edge-2", "edge-3"} {
		// List items from an API server lack apiVersion and kind: set them from the list.
		pod := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": "on-" + nodeName, "namespace": "shop"},
			"spec":     map[string]any{"nodeName": nodeName},
		}}
		out, err := perRequest.Apply(context.Background(), pod, req, node)
		if err != nil {
			fmt.Println("fail the request:", err) // a failurePolicy: Fail filter failed
			continue
		}
		// out.Ignored: errors of failurePolicy: Ignore filters, to log and count.
		fmt.Printf("%s kept=%v\n", pod.GetName(), out.Keep)
	}
	// Output:
	// on-edge-2 kept=true
	// on-edge-3 kept=false
}
