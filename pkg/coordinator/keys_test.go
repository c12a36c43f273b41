package coordinator

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestKeys(t *testing.T) {
	svc := schema.GroupVersionResource{Version: "v1", Resource: "services"}
	eps := schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
	for _, tc := range []struct{ got, want string }{
		{ObjectKey("p", svc, "default", "kubernetes"), "/yurt/pools/p/objects/core/v1/services/default/kubernetes"},
		{ObjectKey("p", eps, "ns", "a.b"), "/yurt/pools/p/objects/discovery.k8s.io/v1/endpointslices/ns/a.b"},
		{ObjectKey("p", svc, "", "cluster-thing"), "/yurt/pools/p/objects/core/v1/services/_/cluster-thing"},
		{ObjectsPrefix("p", svc, ""), "/yurt/pools/p/objects/core/v1/services/"},
		{ObjectsPrefix("p", svc, "ns"), "/yurt/pools/p/objects/core/v1/services/ns/"},
		{SyncKey("p", eps), "/yurt/pools/p/sync/discovery.k8s.io/v1/endpointslices"},
		{LeaseKey("p", "node-1"), "/yurt/pools/p/leases/node-1"},
		{ElectionPrefix("p"), "/yurt/pools/p/election"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
	prefix := ObjectsPrefix("p", svc, "")
	for _, tc := range []struct {
		key, ns, name string
		ok            bool
	}{
		{ObjectKey("p", svc, "default", "a"), "default", "a", true},
		{ObjectKey("p", svc, "", "a"), "", "a", true},
		{prefix + "default", "", "", false},
		{prefix + "default/", "", "", false},
		{prefix + "default/a/b", "", "", false},
		{"/other/default/a", "", "", false},
	} {
		ns, name, err := ParseObjectKey(prefix, tc.key)
		if (err == nil) != tc.ok || ns != tc.ns || name != tc.name {
			t.Errorf("ParseObjectKey(%q) = %q, %q, %v", tc.key, ns, name, err)
		}
	}
	// A pool whose name is a prefix of another must not see the other's keys.
	if p1, p2 := PoolPrefix("a"), PoolPrefix("ab"); len(p2) > len(p1) && p2[:len(p1)] == p1 {
		t.Errorf("pool prefix %q contains %q", p2, p1)
	}
}
