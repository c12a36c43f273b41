package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
)

// TestToHealthyServer: the leader's lease-proxy client follows the health checker's choice of
// cloud server, and fails fast when none is healthy.
func TestToHealthyServer(t *testing.T) {
	var hitA, hitB atomic.Int32
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hitA.Add(1) }))
	defer a.Close()
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hitB.Add(1)
		_, _ = io.WriteString(w, r.URL.Path+"?"+r.URL.RawQuery)
	}))
	defer b.Close()
	var current atomic.Pointer[url.URL]
	ub, _ := url.Parse(b.URL)
	current.Store(ub)
	c := &http.Client{Transport: &toHealthyServer{server: current.Load, next: http.DefaultTransport}}

	resp, err := c.Get(a.URL + "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1?timeout=10s")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if hitA.Load() != 0 || hitB.Load() != 1 || string(body) != "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1?timeout=10s" {
		t.Fatalf("a=%d b=%d body %q: want the request, path and query intact, at the healthy server", hitA.Load(), hitB.Load(), body)
	}

	current.Store(nil)
	if _, err := c.Get(a.URL + "/x"); err == nil {
		t.Fatal("no healthy server: the request went through")
	}
	if hitA.Load() != 0 {
		t.Fatal("the request reached a server the checker does not trust")
	}
}
