package filter

import (
	"fmt"
	"reflect"
	"testing"
)

// topologyLookup: n1 and n2 in pool-a, n3 in pool-b, n4 in no pool. Services svc-<key> in
// namespace ns carry openyurt.io/topologyKeys=<key>; svc-none has no annotation.
func topologyLookup() fakeLookup {
	svc := func(name string, annotations map[string]any) map[string]any {
		md := map[string]any{"name": name, "namespace": "ns"}
		if annotations != nil {
			md["annotations"] = annotations
		}
		return map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": md}
	}
	return fakeLookup{
		pools: map[string]string{"n1": "pool-a", "n2": "pool-a", "n3": "pool-b"},
		services: map[string]map[string]any{
			"ns/svc-hostname": svc("svc-hostname", map[string]any{"openyurt.io/topologyKeys": "kubernetes.io/hostname"}),
			"ns/svc-nodepool": svc("svc-nodepool", map[string]any{"openyurt.io/topologyKeys": "openyurt.io/nodepool"}),
			"ns/svc-zone":     svc("svc-zone", map[string]any{"openyurt.io/topologyKeys": "kubernetes.io/zone"}),
			"ns/svc-unknown":  svc("svc-unknown", map[string]any{"openyurt.io/topologyKeys": "topology.kubernetes.io/region"}),
			"ns/svc-spaced":   svc("svc-spaced", map[string]any{"openyurt.io/topologyKeys": " kubernetes.io/hostname"}),
			"ns/svc-other":    svc("svc-other", map[string]any{"other": "x"}),
			"ns/svc-none":     svc("svc-none", nil),
		},
	}
}

// slice builds an EndpointSlice of a Service with one endpoint per node name; "" is an
// endpoint without nodeName.
func slice(service string, nodes ...string) map[string]any {
	var eps []any
	for i, n := range nodes {
		ep := map[string]any{"addresses": []any{fmt.Sprintf("10.0.0.%d", i+1)}, "conditions": map[string]any{"ready": true}}
		if n != "" {
			ep["nodeName"] = n
		}
		eps = append(eps, ep)
	}
	labels := map[string]any{}
	if service != "" {
		labels["kubernetes.io/service-name"] = service
	}
	obj := map[string]any{
		"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
		"metadata": map[string]any{"name": service + "-abc", "namespace": "ns", "labels": labels},
		"ports":    []any{map[string]any{"name": "http", "port": int64(80), "protocol": "TCP"}},
	}
	if eps != nil {
		obj["endpoints"] = eps
	}
	return obj
}

func sliceNodes(obj map[string]any) []string {
	out := []string{}
	eps, _ := obj["endpoints"].([]any)
	for _, e := range eps {
		n, _ := e.(map[string]any)["nodeName"].(string)
		out = append(out, n)
	}
	return out
}

func TestServiceTopologyEndpointSlices(t *testing.T) {
	f := compileArtifact(t, "servicetopology", topologyLookup())
	req := Request{UserAgent: "kube-proxy/v1.36.3 (linux/amd64) kubernetes/abc", Verb: "list", Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices", Namespace: "ns"}
	all := []string{"n1", "n2", "n3", "n4", ""}
	cases := []struct {
		name    string
		service string
		nodes   []string
		node    Node
		want    []string // nil: the object is returned unchanged
	}{
		{"hostname keeps this node's endpoints", "svc-hostname", all, Node{Name: "n1", Pool: "pool-a"}, []string{"n1"}},
		{"hostname on a node without endpoints", "svc-hostname", []string{"n2", "n3"}, Node{Name: "n1", Pool: "pool-a"}, []string{}},
		{"nodepool keeps the pool's endpoints", "svc-nodepool", all, Node{Name: "n1", Pool: "pool-a"}, []string{"n1", "n2"}},
		{"nodepool from the other pool", "svc-nodepool", all, Node{Name: "n3", Pool: "pool-b"}, []string{"n3"}},
		{"zone is the pool", "svc-zone", all, Node{Name: "n2", Pool: "pool-a"}, []string{"n1", "n2"}},
		{"nodepool on a node in no pool is hostname", "svc-nodepool", all, Node{Name: "n4"}, []string{"n4"}},
		{"zone on a node in no pool is hostname", "svc-zone", all, Node{Name: "n4"}, []string{"n4"}},
		{"endpoints without nodeName are dropped", "svc-nodepool", []string{"", "", "n1"}, Node{Name: "n2", Pool: "pool-a"}, []string{"n1"}},
		{"slice left empty is still returned", "svc-nodepool", []string{"n3", ""}, Node{Name: "n1", Pool: "pool-a"}, []string{}},
		{"slice without endpoints", "svc-hostname", nil, Node{Name: "n1", Pool: "pool-a"}, []string{}},
		{"unknown topology value changes nothing", "svc-unknown", all, Node{Name: "n1", Pool: "pool-a"}, nil},
		{"value with whitespace is unknown", "svc-spaced", all, Node{Name: "n1", Pool: "pool-a"}, nil},
		{"service without the annotation", "svc-other", all, Node{Name: "n1", Pool: "pool-a"}, nil},
		{"service without annotations", "svc-none", all, Node{Name: "n1", Pool: "pool-a"}, nil},
		{"service not in the cache", "svc-missing", all, Node{Name: "n1", Pool: "pool-a"}, nil},
		{"slice without a service label", "", all, Node{Name: "n1", Pool: "pool-a"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := slice(tc.service, tc.nodes...)
			obj := mustObjectFrom(in)
			out := run(t, f, obj, req, tc.node)
			if !out.Keep {
				t.Fatal("servicetopology dropped a slice; it must only filter its endpoints")
			}
			if tc.want == nil {
				if out.Object != obj || !reflect.DeepEqual(out.Object.Object, slice(tc.service, tc.nodes...)) {
					t.Fatalf("object changed: %v", out.Object.Object)
				}
				return
			}
			if got := sliceNodes(out.Object.Object); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("endpoints on nodes %q, want %q", got, tc.want)
			}
			// The rest of the slice is untouched, and so is the input.
			if !reflect.DeepEqual(out.Object.Object["ports"], in["ports"]) || !reflect.DeepEqual(out.Object.Object["metadata"], in["metadata"]) {
				t.Fatalf("ports or metadata changed: %v", out.Object.Object)
			}
			if !reflect.DeepEqual(obj.Object, slice(tc.service, tc.nodes...)) {
				t.Fatal("the input object was modified")
			}
		})
	}
}

// endpoints builds v1 Endpoints of a Service: one subset with ready addresses on readyNodes
// and not-ready ones on notReadyNodes ("" is an address without nodeName).
func endpoints(service string, readyNodes, notReadyNodes []string) map[string]any {
	addrs := func(nodes []string, base int) []any {
		var out []any
		for i, n := range nodes {
			a := map[string]any{"ip": fmt.Sprintf("10.0.%d.%d", base, i+1)}
			if n != "" {
				a["nodeName"] = n
			}
			out = append(out, a)
		}
		return out
	}
	subset := map[string]any{"ports": []any{map[string]any{"name": "http", "port": int64(80), "protocol": "TCP"}}}
	if a := addrs(readyNodes, 1); a != nil {
		subset["addresses"] = a
	}
	if a := addrs(notReadyNodes, 2); a != nil {
		subset["notReadyAddresses"] = a
	}
	return map[string]any{
		"apiVersion": "v1", "kind": "Endpoints",
		"metadata": map[string]any{"name": service, "namespace": "ns"},
		"subsets":  []any{subset},
	}
}

func addressNodes(subset map[string]any, key string) []string {
	out := []string{}
	list, _ := subset[key].([]any)
	for _, a := range list {
		n, _ := a.(map[string]any)["nodeName"].(string)
		out = append(out, n)
	}
	return out
}

func TestServiceTopologyEndpoints(t *testing.T) {
	f := compileArtifact(t, "servicetopology", topologyLookup())
	req := Request{UserAgent: "coredns", Verb: "watch", Version: "v1", Resource: "endpoints", Namespace: "ns"}
	cases := []struct {
		name                string
		service             string
		ready, notReady     []string
		node                Node
		wantReady, wantNotR []string
		wantNoSubsets       bool
		unchanged           bool
	}{
		{name: "hostname", service: "svc-hostname", ready: []string{"n1", "n2", ""}, notReady: []string{"n1", "n3"}, node: Node{Name: "n1", Pool: "pool-a"},
			wantReady: []string{"n1"}, wantNotR: []string{"n1"}},
		{name: "nodepool", service: "svc-nodepool", ready: []string{"n1", "n2", "n3", ""}, notReady: []string{"n3", "n2"}, node: Node{Name: "n1", Pool: "pool-a"},
			wantReady: []string{"n1", "n2"}, wantNotR: []string{"n2"}},
		{name: "zone, node in no pool", service: "svc-zone", ready: []string{"n1", "n4"}, notReady: nil, node: Node{Name: "n4"},
			wantReady: []string{"n4"}, wantNotR: []string{}},
		{name: "nothing left drops the empty subset but keeps the object", service: "svc-hostname", ready: []string{"n2"}, notReady: []string{""}, node: Node{Name: "n1", Pool: "pool-a"},
			wantNoSubsets: true},
		{name: "unknown value", service: "svc-unknown", ready: []string{"n1", "n3"}, node: Node{Name: "n1", Pool: "pool-a"}, unchanged: true},
		{name: "service missing", service: "svc-missing", ready: []string{"n1", "n3"}, node: Node{Name: "n1", Pool: "pool-a"}, unchanged: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := mustObjectFrom(endpoints(tc.service, tc.ready, tc.notReady))
			out := run(t, f, obj, req, tc.node)
			if !out.Keep {
				t.Fatal("Endpoints dropped")
			}
			if tc.unchanged {
				if out.Object != obj {
					t.Fatalf("object changed: %v", out.Object.Object)
				}
				return
			}
			subsets, _ := out.Object.Object["subsets"].([]any)
			if tc.wantNoSubsets {
				if len(subsets) != 0 {
					t.Fatalf("subsets %v, want none", subsets)
				}
				return
			}
			if len(subsets) != 1 {
				t.Fatalf("subsets %v, want one", subsets)
			}
			s := subsets[0].(map[string]any)
			if got := addressNodes(s, "addresses"); !reflect.DeepEqual(got, tc.wantReady) {
				t.Errorf("addresses on %q, want %q", got, tc.wantReady)
			}
			if got := addressNodes(s, "notReadyAddresses"); !reflect.DeepEqual(got, tc.wantNotR) {
				t.Errorf("notReadyAddresses on %q, want %q", got, tc.wantNotR)
			}
			if !reflect.DeepEqual(s["ports"], []any{map[string]any{"name": "http", "port": int64(80), "protocol": "TCP"}}) {
				t.Errorf("ports changed: %v", s["ports"])
			}
		})
	}
}

func TestServiceTopologyMatch(t *testing.T) {
	f := compileArtifact(t, "servicetopology", topologyLookup())
	cases := []struct {
		req  Request
		want bool
	}{
		{Request{UserAgent: "kube-proxy", Verb: "list", Group: "discovery.k8s.io", Resource: "endpointslices"}, true},
		{Request{UserAgent: "coredns/1.11", Verb: "watch", Group: "discovery.k8s.io", Resource: "endpointslices"}, true},
		{Request{UserAgent: "nginx-ingress-controller", Verb: "list", Resource: "endpoints"}, true},
		{Request{UserAgent: "kube-proxy", Verb: "get", Group: "discovery.k8s.io", Resource: "endpointslices"}, false},
		{Request{UserAgent: "kubelet", Verb: "list", Group: "discovery.k8s.io", Resource: "endpointslices"}, false},
		{Request{UserAgent: "kube-proxy", Verb: "list", Resource: "services"}, false},
		{Request{UserAgent: "kube-proxy", Verb: "list", Group: "discovery.k8s.io", Resource: "endpoints"}, false},
	}
	for _, tc := range cases {
		if got := f.Matches(tc.req); got != tc.want {
			t.Errorf("Matches(%+v) = %v, want %v", tc.req, got, tc.want)
		}
	}
}
