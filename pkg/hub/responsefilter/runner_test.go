package responsefilter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2/ktesting"

	"github.com/yurt-edge/yurt/pkg/hub/codec"
)

// Without RBAC for the node (or without yurt-apiserver), the hub does not hold responses
// back waiting for filters it cannot read.
func TestRefusedListsDoNotHoldResponsesBack(t *testing.T) {
	var mu sync.Mutex
	var agents []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		agents = append(agents, r.UserAgent())
		mu.Unlock()
		w.Header().Set("Content-Type", codec.MediaTypeJSON)
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write(codec.Status(http.StatusForbidden, metav1.StatusReasonForbidden, "nodes may not"))
	}))
	t.Cleanup(srv.Close)
	logger, ctx := ktesting.NewTestContext(t)
	r, err := NewRunner(RunnerOptions{NodeName: "edge-1", NodePool: "a", SyncWait: time.Minute, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- r.Run(ctx, &rest.Config{Host: srv.URL}) }()
	defer func() { cancel(); <-done }()
	select {
	case <-r.synced:
	case <-time.After(15 * time.Second):
		t.Fatal("responses still held back 15s after every list was refused")
	}
	if n := r.Node(); n.Name != "edge-1" || n.Pool != "a" {
		t.Errorf("node %+v, want edge-1 in a (from the flags)", n)
	}
	if len(r.Manager().Chain().Filters()) != 0 {
		t.Error("filters from nowhere")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(agents) == 0 || agents[0] != UserAgent {
		t.Errorf("the hub's own informers should identify as %s, got %v", UserAgent, agents)
	}
}
