package proxy

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/hub/cache"
	"github.com/yurt-edge/yurt/pkg/hub/codec"
	"github.com/yurt-edge/yurt/pkg/hub/metrics"
)

// benchSlice is an EndpointSlice like the hub bench's anchor ones (50 endpoints), encoded as
// protobuf and JSON.
func benchSlice(b *testing.B) (pb, js []byte) {
	b.Helper()
	es := &discoveryv1.EndpointSlice{
		TypeMeta:    metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta:  metav1.ObjectMeta{Name: "svc-500-abcde", Namespace: "bench", ResourceVersion: "1234", Labels: map[string]string{discoveryv1.LabelServiceName: "svc-500"}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	ready := true
	for i := range 50 {
		node := fmt.Sprintf("node-%d", i)
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}, NodeName: &node,
		})
	}
	port, proto := int32(80), corev1.ProtocolTCP
	es.Ports = []discoveryv1.EndpointPort{{Port: &port, Protocol: &proto}}
	content, err := json.Marshal(es)
	if err != nil {
		b.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(content); err != nil {
		b.Fatal(err)
	}
	if pb, _, err = codec.EncodeObject(u, true); err != nil {
		b.Fatal(err)
	}
	return pb, content
}

// BenchmarkGetLatency measures one GET of an EndpointSlice, in protobuf and JSON, directly
// to a fake TLS (HTTP/2) API server and through the hub's Handler and CloudSource as a cached
// component (response teed into an on-disk cache) and as an uncached one, and as an uncached
// one with the get on HTTP/2 to the cloud too. Compare the ns/op of the sides of one run; run
// with -cpuprofile/-memprofile to see where the hub's time goes.
func BenchmarkGetLatency(b *testing.B) {
	pb, js := benchSlice(b)
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if codec.AcceptsProtobuf(r.Header.Get("Accept")) {
			w.Header().Set("Content-Type", codec.MediaTypeProtobuf)
			_, _ = w.Write(pb)
			return
		}
		w.Header().Set("Content-Type", codec.MediaTypeJSON)
		_, _ = w.Write(js)
	}))
	up.EnableHTTP2 = true
	up.StartTLS()
	b.Cleanup(up.Close)
	upURL, _ := url.Parse(up.URL)
	upTransport := up.Client().Transport

	store, err := cache.NewStore(b.TempDir(), klog.Background(), nil)
	if err != nil {
		b.Fatal(err)
	}
	// As the hub's server sets it up: HTTP/2 for watches, HTTP/1.1 for the rest.
	h1 := upTransport.(*http.Transport).Clone()
	h1.ForceAttemptHTTP2 = false
	h1.TLSClientConfig.NextProtos = []string{"http/1.1"}
	h1.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	cloud := &CloudSource{Server: func() *url.URL { return upURL }, Transport: upTransport, UpgradeTransport: h1, ShortTransport: h1, Store: store, Metrics: metrics.New()}
	h := &Handler{CacheAgents: sets.New("kube-proxy"), Route: func(*Request) Source { return cloud }, Metrics: cloud.Metrics, Logger: klog.Background()}
	hub := httptest.NewServer(h)
	b.Cleanup(hub.Close)
	// The same with every request on HTTP/2 (no ShortTransport), for comparison.
	cloudH2 := &CloudSource{Server: cloud.Server, Transport: upTransport, UpgradeTransport: h1, Store: store, Metrics: cloud.Metrics}
	hubH2 := httptest.NewServer(&Handler{CacheAgents: h.CacheAgents, Route: func(*Request) Source { return cloudH2 }, Metrics: cloud.Metrics, Logger: klog.Background()})
	b.Cleanup(hubH2.Close)
	hubClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 10}}
	directClient := &http.Client{Transport: upTransport.(*http.Transport).Clone()}

	const path = "/apis/discovery.k8s.io/v1/namespaces/bench/endpointslices/svc-500-abcde"
	for _, format := range []struct{ name, accept string }{
		{"protobuf", codec.MediaTypeProtobuf + ", application/json"},
		{"json", "application/json"},
	} {
		for _, side := range []struct {
			name   string
			client *http.Client
			base   string
			ua     string
		}{
			{"direct", directClient, up.URL, "kube-proxy/v1.36"},
			{"hub-cached", hubClient, hub.URL, "kube-proxy/v1.36"},
			{"hub-uncached", hubClient, hub.URL, "bench-client/v0"},
			{"hub-uncached-all-h2", hubClient, hubH2.URL, "bench-client/v0"},
		} {
			b.Run(format.name+"/"+side.name, func(b *testing.B) {
				get := func() {
					req, _ := http.NewRequest(http.MethodGet, side.base+path, nil)
					req.Header.Set("Accept", format.accept)
					req.Header.Set("User-Agent", side.ua)
					resp, err := side.client.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != http.StatusOK {
						b.Fatalf("GET: %s, %v", resp.Status, err)
					}
					if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(format.accept, ct) {
						b.Fatalf("content type %q for Accept %q", ct, format.accept)
					}
				}
				get() // connections up
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					get()
				}
				b.StopTimer()
				// The cache writes belong to the requests measured, and must not spill into
				// the next side's time.
				if err := cloud.WaitForCacheWrites(b.Context()); err != nil {
					b.Fatal(err)
				}
				if err := cloudH2.WaitForCacheWrites(b.Context()); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}
