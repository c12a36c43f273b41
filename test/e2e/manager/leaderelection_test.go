package manager

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

func statusOf(url string) int {
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestHealthMetricsAndLeaderElection: yurt-manager serves /healthz, /livez, /readyz and
// /metrics with workqueue and reconcile metrics; a second replica waits as a standby (live
// but not ready) while the first holds the Lease kube-system/yurt-manager, and takes over when
// the first stops. The standby then serves the rest of the package's tests.
func TestHealthMetricsAndLeaderElection(t *testing.T) {
	e := setup(t)
	kube := framework.Clients(t).Kube
	ctx := context.Background()

	for _, path := range []string{"/healthz", "/livez", "/readyz"} {
		if code := statusOf("http://" + e.metrics + path); code != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, code)
		}
	}
	// Queue metrics come from client-go's workqueue provider; reconcile counts from ours.
	metricValue(t, e.metrics, "workqueue_depth", `name="nodepool"`)
	metricValue(t, e.metrics, "workqueue_adds_total", `name="autonomy"`)
	metricValue(t, e.metrics, "yurt_manager_reconcile_total", `controller="nodepool"`, `result="success"`)

	lease, err := kube.CoordinationV1().Leases("kube-system").Get(ctx, "yurt-manager", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h == nil || *h != "e2e-first" {
		t.Fatalf("lease holder = %v, want e2e-first", h)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	standbyAddr := l.Addr().String()
	l.Close()
	stack := framework.Stack(t)
	standby, err := localstack.StartProcess("yurt-manager-standby", framework.RepoPath(t, "bin", "yurt-manager"), []string{
		"--kubeconfig=" + stack.AdminKubeconfig, "--bind-address=" + standbyAddr,
		"--leader-elect-identity=e2e-standby", "--leader-elect-retry-period=1s", "-v=2",
	}, stack.LogFile("yurt-manager-standby"))
	if err != nil {
		t.Fatal(err)
	}
	promoted := false
	t.Cleanup(func() {
		if !promoted {
			_ = standby.Stop(10 * time.Second)
		}
	})
	framework.WaitFor(t, 30*time.Second, func() (bool, error) {
		return statusOf("http://"+standbyAddr+"/healthz") == http.StatusOK, nil
	})
	// A few retry periods: the standby must not take the lease nor claim readiness.
	time.Sleep(3 * time.Second)
	if code := statusOf("http://" + standbyAddr + "/readyz"); code == http.StatusOK {
		t.Errorf("standby /readyz = 200 while another instance leads")
	}

	// The leader stops and releases the lease; the standby takes over.
	stopped := time.Now()
	if err := e.manager.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, 30*time.Second, func() (bool, error) {
		return statusOf("http://"+standbyAddr+"/readyz") == http.StatusOK, nil
	})
	t.Logf("standby ready %s after the leader stopped", time.Since(stopped).Round(100*time.Millisecond))
	lease, err = kube.CoordinationV1().Leases("kube-system").Get(ctx, "yurt-manager", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h == nil || *h != "e2e-standby" {
		t.Fatalf("lease holder = %v, want e2e-standby", h)
	}
	if lease.Spec.LeaseTransitions == nil || *lease.Spec.LeaseTransitions < 1 {
		t.Errorf("lease transitions = %v, want at least 1", lease.Spec.LeaseTransitions)
	}
	// The standby now runs the controllers for the remaining tests; the stack stops it.
	promoted = true
	e.manager, e.metrics = standby, standbyAddr
	stack.AddComponent(standby)
}
