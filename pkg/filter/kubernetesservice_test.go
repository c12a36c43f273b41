package filter

import (
	"reflect"
	"testing"
)

func kubernetesService(namespace, name string, clusterIPs bool, ports ...map[string]any) map[string]any {
	spec := map[string]any{"type": "ClusterIP", "clusterIP": "10.96.0.1"}
	if clusterIPs {
		spec["clusterIPs"] = []any{"10.96.0.1"}
	}
	var ps []any
	for _, p := range ports {
		ps = append(ps, p)
	}
	spec["ports"] = ps
	return map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": name, "namespace": namespace}, "spec": spec}
}

func port(name string, number int64) map[string]any {
	p := map[string]any{"port": number, "protocol": "TCP", "targetPort": int64(6443)}
	if name != "" {
		p["name"] = name
	}
	return p
}

func TestMasterService(t *testing.T) {
	f := compileArtifact(t, "masterservice", fakeLookup{})
	req := Request{UserAgent: "kubelet/v1.36.3", Verb: "watch", Version: "v1", Resource: "services"}
	cases := []struct {
		name     string
		in       map[string]any
		wantSpec map[string]any // nil: unchanged
	}{
		{"default/kubernetes: clusterIP(s) and the https port point at the hub",
			kubernetesService("default", "kubernetes", true, port("https", 443)),
			map[string]any{"type": "ClusterIP", "clusterIP": "169.254.2.1", "clusterIPs": []any{"169.254.2.1"}, "ports": []any{port("https", 10268)}}},
		{"only clusterIP when clusterIPs is absent",
			kubernetesService("default", "kubernetes", false, port("https", 443)),
			map[string]any{"type": "ClusterIP", "clusterIP": "169.254.2.1", "ports": []any{port("https", 10268)}}},
		{"only the first port named https; others untouched",
			kubernetesService("default", "kubernetes", true, port("metrics", 8080), port("https", 443), port("https", 8443)),
			map[string]any{"type": "ClusterIP", "clusterIP": "169.254.2.1", "clusterIPs": []any{"169.254.2.1"}, "ports": []any{port("metrics", 8080), port("https", 10268), port("https", 8443)}}},
		{"no port named https: address only",
			kubernetesService("default", "kubernetes", true, port("", 443)),
			map[string]any{"type": "ClusterIP", "clusterIP": "169.254.2.1", "clusterIPs": []any{"169.254.2.1"}, "ports": []any{port("", 443)}}},
		{"another service named kubernetes", kubernetesService("other", "kubernetes", true, port("https", 443)), nil},
		{"another service in default", kubernetesService("default", "web", true, port("https", 443)), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := mustObjectFrom(tc.in)
			out := run(t, f, obj, req, Node{Name: "n1"})
			if !out.Keep {
				t.Fatal("dropped")
			}
			if tc.wantSpec == nil {
				if out.Object != obj {
					t.Fatalf("changed: %v", out.Object.Object)
				}
				return
			}
			if got := out.Object.Object["spec"]; !reflect.DeepEqual(got, tc.wantSpec) {
				t.Fatalf("spec = %v\nwant   %v", got, tc.wantSpec)
			}
		})
	}
	if f.Matches(Request{UserAgent: "kube-proxy", Verb: "list", Resource: "services"}) {
		t.Error("masterservice matches kube-proxy; it is for kubelet")
	}
}

func TestDiscardCloudService(t *testing.T) {
	f := compileArtifact(t, "discardcloudservice", fakeLookup{})
	req := Request{UserAgent: "kube-proxy", Verb: "list", Version: "v1", Resource: "services"}
	svc := func(ns, name, typ string, annotations map[string]any) map[string]any {
		md := map[string]any{"name": name, "namespace": ns}
		if annotations != nil {
			md["annotations"] = annotations
		}
		return map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": md, "spec": map[string]any{"type": typ}}
	}
	cases := []struct {
		name string
		in   map[string]any
		keep bool
	}{
		{"LoadBalancer with discard=true is dropped", svc("ns", "lb", "LoadBalancer", map[string]any{"svc.openyurt.io/discard": "true"}), false},
		{"LoadBalancer with discard=false is kept", svc("ns", "lb", "LoadBalancer", map[string]any{"svc.openyurt.io/discard": "false"}), true},
		{"LoadBalancer with discard=True is kept (exact value)", svc("ns", "lb", "LoadBalancer", map[string]any{"svc.openyurt.io/discard": "True"}), true},
		{"LoadBalancer without the annotation is kept", svc("ns", "lb", "LoadBalancer", nil), true},
		{"NodePort with discard=true is kept", svc("ns", "np", "NodePort", map[string]any{"svc.openyurt.io/discard": "true"}), true},
		{"the tunnel server's internal service is dropped", svc("kube-system", "x-tunnel-server-internal-svc", "ClusterIP", nil), false},
		{"same name elsewhere is kept", svc("default", "x-tunnel-server-internal-svc", "ClusterIP", nil), true},
		{"a service without spec.type", map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "a", "namespace": "b"}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := mustObjectFrom(tc.in)
			out := run(t, f, obj, req, Node{Name: "n1"})
			if out.Keep != tc.keep {
				t.Fatalf("keep = %v, want %v", out.Keep, tc.keep)
			}
			if out.Keep && out.Object != obj {
				t.Fatal("a kept service was changed")
			}
			if !out.Keep && out.DroppedBy != "discardcloudservice" {
				t.Fatalf("DroppedBy = %q", out.DroppedBy)
			}
		})
	}
}

func TestInClusterConfig(t *testing.T) {
	f := compileArtifact(t, "inclusterconfig", fakeLookup{})
	req := Request{UserAgent: "kubelet", Verb: "get", Version: "v1", Resource: "configmaps", Namespace: "kube-system", Name: "kube-proxy"}
	cm := func(ns, name string, data map[string]any) map[string]any {
		obj := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name, "namespace": ns}}
		if data != nil {
			obj["data"] = data
		}
		return obj
	}
	conf := "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nclientConnection:\n  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf\n  qps: 5\nmode: iptables\n"
	want := "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nclientConnection:\n  #kubeconfig: /var/lib/kube-proxy/kubeconfig.conf\n  qps: 5\nmode: iptables\n"
	cases := []struct {
		name string
		in   map[string]any
		want map[string]any // nil: unchanged
	}{
		{"kubeconfig line is commented out", cm("kube-system", "kube-proxy", map[string]any{"config.conf": conf, "other": "kubeconfig: x"}),
			map[string]any{"config.conf": want, "other": "kubeconfig: x"}},
		{"at the start of the file, no space after the colon", cm("kube-system", "kube-proxy", map[string]any{"config.conf": "kubeconfig:/k\nx: 1"}),
			map[string]any{"config.conf": "#kubeconfig:/k\nx: 1"}},
		{"trailing spaces and CRLF", cm("kube-system", "kube-proxy", map[string]any{"config.conf": "  kubeconfig: /k  \r\nx: 1"}),
			map[string]any{"config.conf": "  #kubeconfig: /k  \r\nx: 1"}},
		{"a value with a colon is left alone", cm("kube-system", "kube-proxy", map[string]any{"config.conf": "kubeconfig: C:\\k\n"}), nil},
		{"a tab-indented line is left alone", cm("kube-system", "kube-proxy", map[string]any{"config.conf": "\tkubeconfig: /k\n"}), nil},
		{"kubeconfig as a value is left alone", cm("kube-system", "kube-proxy", map[string]any{"config.conf": "path: kubeconfig\n"}), nil},
		{"already commented", cm("kube-system", "kube-proxy", map[string]any{"config.conf": "#kubeconfig: /k\n"}), nil},
		{"another configmap", cm("kube-system", "other", map[string]any{"config.conf": conf}), nil},
		{"another namespace", cm("default", "kube-proxy", map[string]any{"config.conf": conf}), nil},
		{"no data", cm("kube-system", "kube-proxy", nil), nil},
		{"empty config.conf", cm("kube-system", "kube-proxy", map[string]any{"config.conf": ""}), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := mustObjectFrom(tc.in)
			out := run(t, f, obj, req, Node{Name: "n1"})
			if !out.Keep {
				t.Fatal("dropped")
			}
			if tc.want == nil {
				if out.Object != obj {
					t.Fatalf("changed: %v", out.Object.Object)
				}
				return
			}
			if got := out.Object.Object["data"]; !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("data = %q\nwant   %q", got, tc.want)
			}
			if !reflect.DeepEqual(out.Object.Object["metadata"], tc.in["metadata"]) {
				t.Fatalf("metadata changed: %v", out.Object.Object["metadata"])
			}
		})
	}
}

func TestForwardKubeSvcTraffic(t *testing.T) {
	f := compileArtifact(t, "forwardkubesvctraffic", fakeLookup{})
	req := Request{UserAgent: "kube-proxy", Verb: "watch", Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
	eps := func(ns, name, family string, ports ...map[string]any) map[string]any {
		var ps []any
		for _, p := range ports {
			ps = append(ps, p)
		}
		return map[string]any{
			"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": family,
			"metadata":  map[string]any{"name": name, "namespace": ns, "labels": map[string]any{"kubernetes.io/service-name": "kubernetes"}},
			"endpoints": []any{map[string]any{"addresses": []any{"192.168.0.10"}, "conditions": map[string]any{"ready": true}}, map[string]any{"addresses": []any{"192.168.0.11"}}},
			"ports":     ps,
		}
	}
	sp := func(name string, n int64) map[string]any {
		return map[string]any{"name": name, "port": n, "protocol": "TCP"}
	}
	hubEndpoints := []any{map[string]any{"addresses": []any{"169.254.2.1"}, "conditions": map[string]any{"ready": true}}}
	cases := []struct {
		name      string
		in        map[string]any
		wantPorts []any // nil: unchanged
	}{
		{"default/kubernetes goes to the hub", eps("default", "kubernetes", "IPv4", sp("https", 6443)), []any{sp("https", 10268)}},
		{"only the first https port", eps("default", "kubernetes", "IPv4", sp("other", 1), sp("https", 6443), sp("https", 7443)), []any{sp("other", 1), sp("https", 10268), sp("https", 7443)}},
		{"no https port: endpoints only", eps("default", "kubernetes", "IPv4", sp("web", 80)), []any{sp("web", 80)}},
		{"IPv6 slice with an IPv4 hub is left alone", eps("default", "kubernetes", "IPv6", sp("https", 6443)), nil},
		{"another slice", eps("default", "kubernetes-abc", "IPv4", sp("https", 6443)), nil},
		{"another namespace", eps("kube-system", "kubernetes", "IPv4", sp("https", 6443)), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := mustObjectFrom(tc.in)
			out := run(t, f, obj, req, Node{Name: "n1"})
			if !out.Keep {
				t.Fatal("dropped")
			}
			if tc.wantPorts == nil {
				if out.Object != obj {
					t.Fatalf("changed: %v", out.Object.Object)
				}
				return
			}
			if got := out.Object.Object["endpoints"]; !reflect.DeepEqual(got, hubEndpoints) {
				t.Errorf("endpoints = %v, want %v", got, hubEndpoints)
			}
			if got := out.Object.Object["ports"]; !reflect.DeepEqual(got, tc.wantPorts) {
				t.Errorf("ports = %v, want %v", got, tc.wantPorts)
			}
		})
	}
}
