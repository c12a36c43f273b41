package proxy

import (
	"strconv"
	"strings"
)

// CacheResourceVersionPrefix marks list resourceVersions issued by the cache. They are never
// sent to the cloud: a client that watches from one after the cloud came back gets 410 Gone and
// relists, so it never mixes cached state with the cloud's event stream.
const CacheResourceVersionPrefix = "yurthub-cache."

// CacheResourceVersion is the list resourceVersion the cache issues for data that reflects the
// cloud at cloudRV.
func CacheResourceVersion(cloudRV string) string {
	return CacheResourceVersionPrefix + cloudRV
}

// IsCacheResourceVersion reports whether rv was issued by the cache.
func IsCacheResourceVersion(rv string) bool {
	return strings.HasPrefix(rv, CacheResourceVersionPrefix)
}

// IsCloudResourceVersion reports whether rv has the cloud's form (kube-apiserver's are etcd
// revisions, decimal integers).
func IsCloudResourceVersion(rv string) bool {
	_, err := strconv.ParseUint(rv, 10, 64)
	return err == nil
}

// isUnsetResourceVersion reports whether rv asks for no particular version ("" = most recent,
// "0" = any); every source accepts those.
func isUnsetResourceVersion(rv string) bool {
	return rv == "" || rv == "0"
}
