package filter

import (
	"testing"
)

func nodePortService(svcType string, listen *string) map[string]any {
	md := map[string]any{"name": "web", "namespace": "ns"}
	if listen != nil {
		md["annotations"] = map[string]any{"nodeport.openyurt.io/listen": *listen}
	}
	return map[string]any{
		"apiVersion": "v1", "kind": "Service", "metadata": md,
		"spec": map[string]any{"type": svcType, "ports": []any{map[string]any{"port": int64(80), "nodePort": int64(30080), "protocol": "TCP"}}},
	}
}

func TestNodePortIsolation(t *testing.T) {
	f := compileArtifact(t, "nodeportisolation", fakeLookup{})
	req := Request{UserAgent: "kube-proxy", Verb: "list", Version: "v1", Resource: "services"}
	s := func(v string) *string { return &v }
	cases := []struct {
		name    string
		svcType string
		listen  *string
		pool    string
		keep    bool
	}{
		{"name enables its pool", "NodePort", s("foo"), "foo", true},
		{"name does not enable another pool", "NodePort", s("foo"), "bar", false},
		{"-name disables its pool", "NodePort", s("-foo"), "foo", false},
		{"-name alone disables every pool", "NodePort", s("-foo"), "bar", false},
		{"* enables all pools", "NodePort", s("*"), "bar", true},
		{"foo,* is all pools (foo)", "NodePort", s("foo,*"), "foo", true},
		{"foo,* is all pools (bar)", "NodePort", s("foo,*"), "bar", true},
		{"-foo,* is all but foo (foo)", "NodePort", s("-foo,*"), "foo", false},
		{"-foo,* is all but foo (bar)", "NodePort", s("-foo,*"), "bar", true},
		{"*,-foo: the pool's mention beats *", "NodePort", s("*,-foo"), "foo", false},
		{"whitespace is trimmed", "NodePort", s("  foo , bar "), "bar", true},
		{"whitespace around -name", "NodePort", s(" -foo ,\t* "), "foo", false},
		{"tabs and newlines", "NodePort", s("\tbar\n"), "bar", true},
		{"first mention counts: foo,-foo", "NodePort", s("foo,-foo"), "foo", true},
		{"first mention counts: -foo,foo", "NodePort", s("-foo,foo"), "foo", false},
		{"repeated name", "NodePort", s("foo,foo"), "foo", true},
		{"first mention of * counts: -*,*", "NodePort", s("-*,*"), "bar", false},
		{"empty entries are ignored", "NodePort", s(",,foo,"), "foo", true},
		{"a lone - names no pool", "NodePort", s("-,foo"), "foo", true},
		{"empty value drops", "NodePort", s(""), "foo", false},
		{"only commas drop", "NodePort", s(" , "), "foo", false},
		{"pool name is exact", "NodePort", s("foo"), "foobar", false},
		{"-prefix of another pool", "NodePort", s("-foo,*"), "-foo", true},
		{"LoadBalancer services too", "LoadBalancer", s("-foo"), "foo", false},
		{"ClusterIP services are untouched", "ClusterIP", s("-foo"), "foo", true},
		{"no annotation: unchanged", "NodePort", nil, "foo", true},
		{"node in no pool keeps the service", "NodePort", s("-foo"), "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := mustObjectFrom(nodePortService(tc.svcType, tc.listen))
			out := run(t, f, obj, req, Node{Name: "n1", Pool: tc.pool})
			if out.Keep != tc.keep {
				t.Fatalf("keep = %v, want %v", out.Keep, tc.keep)
			}
			if out.Keep && out.Object != obj {
				t.Fatal("a kept service was changed")
			}
		})
	}
}

func TestNodePortIsolationMatch(t *testing.T) {
	f := compileArtifact(t, "nodeportisolation", fakeLookup{})
	for _, tc := range []struct {
		req  Request
		want bool
	}{
		{Request{UserAgent: "kube-proxy", Verb: "watch", Resource: "services"}, true},
		{Request{UserAgent: "kube-proxy", Verb: "get", Resource: "services"}, false},
		{Request{UserAgent: "coredns", Verb: "list", Resource: "services"}, false},
	} {
		if got := f.Matches(tc.req); got != tc.want {
			t.Errorf("Matches(%+v) = %v, want %v", tc.req, got, tc.want)
		}
	}
}
