package proxy

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
	apirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/yurt-edge/yurt/pkg/hub/cache"
	"github.com/yurt-edge/yurt/pkg/hub/codec"
)

var requestInfoFactory = &apirequest.RequestInfoFactory{
	APIPrefixes:          sets.NewString("api", "apis"),
	GrouplessAPIPrefixes: sets.NewString("api"),
}

// Request is what the hub knows about one incoming request.
type Request struct {
	*apirequest.RequestInfo
	// Component is the User-Agent up to the first '/', e.g. "kube-proxy".
	Component string
	// Cached says responses are written to (and may be served from) the cache.
	Cached bool
	// RawKey is set for a cached agent's discovery or /version GET, whose response is kept as
	// received under this key (path and Accept header).
	RawKey string
	// Resource is the cache key for resource requests.
	Resource cache.Resource
	// WantProtobuf is set when the client offered protobuf first.
	WantProtobuf bool
	// As is the Accept header's "as" parameter (Table, PartialObjectMetadata…), "" when the
	// client wants plain objects; sources that only hold objects pass such requests on.
	As string
	// ResourceVersion, Selector, SendInitialEvents, AllowBookmarks and Timeout come from the query.
	ResourceVersion   string
	Selector          cache.Selector
	SendInitialEvents bool
	AllowBookmarks    bool
	Timeout           time.Duration
	// Paged is set for a list with limit or continue, which may be partial.
	Paged bool
	// Done, for a watch, closes when the source serving it stops being the one to use; the
	// source then ends the watch cleanly.
	Done <-chan struct{}
}

// IsRead reports a get, list or watch of a resource.
func (r *Request) IsRead() bool {
	return r.IsResourceRequest && (r.Verb == "get" || r.Verb == "list" || r.Verb == "watch")
}

// ComponentOf returns the component a User-Agent names.
func ComponentOf(userAgent string) string {
	c, _, _ := strings.Cut(userAgent, "/")
	return strings.TrimSpace(c)
}

// ParseRequest classifies r; cacheAgents are the components whose responses are cached ("*" = all).
func ParseRequest(r *http.Request, cacheAgents sets.Set[string]) (*Request, error) {
	info, err := requestInfoFactory.NewRequestInfo(r)
	if err != nil {
		return nil, fmt.Errorf("parsing the request path %q: %w", r.URL.Path, err)
	}
	req := &Request{
		RequestInfo:  info,
		Component:    ComponentOf(r.UserAgent()),
		WantProtobuf: codec.AcceptsProtobuf(r.Header.Get("Accept")),
		As:           codec.AsParameter(r.Header.Get("Accept")),
	}
	cachedAgent := req.Component != "" && (cacheAgents.Has("*") || cacheAgents.Has(req.Component))
	if !info.IsResourceRequest {
		if cachedAgent && r.Method == http.MethodGet && isDiscoveryPath(r.URL.Path) {
			req.RawKey = r.URL.Path + "\n" + r.Header.Get("Accept")
		}
		return req, nil
	}
	q := r.URL.Query()
	req.ResourceVersion = q.Get("resourceVersion")
	req.SendInitialEvents = q.Get("sendInitialEvents") == "true"
	req.AllowBookmarks = q.Get("allowWatchBookmarks") == "true"
	req.Paged = q.Get("limit") != "" || q.Get("continue") != ""
	if ts := q.Get("timeoutSeconds"); ts != "" {
		n, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("invalid timeoutSeconds %q", ts)
		}
		req.Timeout = time.Duration(n) * time.Second
	}
	if req.Selector, err = cache.ParseSelector(q.Get("labelSelector"), q.Get("fieldSelector")); err != nil {
		return nil, err
	}
	req.Resource = cache.Resource{Component: req.Component}
	req.Resource.Group, req.Resource.Version, req.Resource.Resource = info.APIGroup, info.APIVersion, info.Resource
	req.Cached = req.IsRead() && info.Subresource == "" && cachedAgent &&
		codec.AsParameter(r.Header.Get("Accept")) == ""
	return req, nil
}

// isDiscoveryPath reports the small, rarely changing non-resource paths a client may need
// before it can work: /version and API discovery.
func isDiscoveryPath(path string) bool {
	if path == "/version" || path == "/api" || path == "/apis" {
		return true
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch parts[0] {
	case "api":
		return len(parts) == 2
	case "apis":
		return len(parts) <= 3
	}
	return false
}
