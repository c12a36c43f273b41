package coordinator

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Key segments that stand for "empty": the core API group and the namespace of a
// cluster-scoped object.
const (
	CoreGroupSegment     = "core"
	ClusterScopedSegment = "_"
)

// PoolPrefix is the prefix of every key of a pool.
func PoolPrefix(pool string) string { return "/yurt/pools/" + pool + "/" }

func gvrSegments(gvr schema.GroupVersionResource) string {
	group := gvr.Group
	if group == "" {
		group = CoreGroupSegment
	}
	return group + "/" + gvr.Version + "/" + gvr.Resource
}

// ObjectsPrefix is the prefix of a resource's objects in a namespace, or in every namespace
// when namespace is "" (cluster-scoped objects then included, under "_").
func ObjectsPrefix(pool string, gvr schema.GroupVersionResource, namespace string) string {
	p := PoolPrefix(pool) + "objects/" + gvrSegments(gvr) + "/"
	if namespace != "" {
		p += namespace + "/"
	}
	return p
}

// ObjectKey is the key of one object; namespace "" means cluster-scoped.
func ObjectKey(pool string, gvr schema.GroupVersionResource, namespace, name string) string {
	if namespace == "" {
		namespace = ClusterScopedSegment
	}
	return ObjectsPrefix(pool, gvr, namespace) + name
}

// ParseObjectKey returns the namespace ("" for cluster-scoped) and name of an object key under
// prefix (as returned by ObjectsPrefix with namespace "").
func ParseObjectKey(resourcePrefix, key string) (namespace, name string, err error) {
	rest, ok := strings.CutPrefix(key, resourcePrefix)
	if !ok {
		return "", "", fmt.Errorf("key %q is not under %q", key, resourcePrefix)
	}
	namespace, name, ok = strings.Cut(rest, "/")
	if !ok || namespace == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("key %q is not <prefix>/<namespace>/<name>", key)
	}
	if namespace == ClusterScopedSegment {
		namespace = ""
	}
	return namespace, name, nil
}

// SyncKey is the key of the leader's sync marker for a resource.
func SyncKey(pool string, gvr schema.GroupVersionResource) string {
	return PoolPrefix(pool) + "sync/" + gvrSegments(gvr)
}

// LeasesPrefix is the prefix of the pool's node leases.
func LeasesPrefix(pool string) string { return PoolPrefix(pool) + "leases/" }

// LeaseKey is the key of a node's lease.
func LeaseKey(pool, node string) string { return LeasesPrefix(pool) + node }

// ElectionPrefix is the prefix of the pool's leader election (concurrency.NewElection adds "/").
func ElectionPrefix(pool string) string { return PoolPrefix(pool) + "election" }

// ValidatePool checks that a pool name can be used in keys: a DNS subdomain, as NodePool names are.
func ValidatePool(pool string) error {
	if errs := validation.IsDNS1123Subdomain(pool); len(errs) > 0 {
		return fmt.Errorf("pool name %q: %s", pool, strings.Join(errs, "; "))
	}
	return nil
}

// ValidateGVR checks that a resource can be used in keys.
func ValidateGVR(gvr schema.GroupVersionResource) error {
	if gvr.Version == "" || gvr.Resource == "" {
		return fmt.Errorf("resource %q: version and resource are required", gvr.String())
	}
	for _, s := range []string{gvr.Group, gvr.Version, gvr.Resource} {
		if strings.Contains(s, "/") {
			return fmt.Errorf("resource %q: segments must not contain '/'", gvr.String())
		}
	}
	return nil
}
