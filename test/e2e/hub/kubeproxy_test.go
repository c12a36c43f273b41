package hub

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/pkg/procstatus"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

// TestKubeProxyThroughHubOffline: the real kube-proxy programs what it receives through the
// hub; cut off from the cloud, it keeps its rules, a restarted kube-proxy and a restarted hub
// still get the full data from the cache, and after the link heals, changes made meanwhile arrive.
func TestKubeProxyThroughHubOffline(t *testing.T) {
	const ns = "hub-offline"
	framework.CreateNamespace(t, ns)
	framework.CreateService(t, ns, "svc-a", "10.244.1.10")
	framework.CreateService(t, ns, "svc-b", "10.244.1.11")

	n := framework.NewEdgeNode(t, "edge-offline", framework.EdgeNodeOptions{})
	n.StartHub()
	n.StartKubeProxy(true)
	ctx := context.Background()

	n.WaitRules(60*time.Second, "svc-a and svc-b endpoints", func(r string) bool {
		return strings.Contains(r, framework.DNAT("10.244.1.10")) && strings.Contains(r, framework.DNAT("10.244.1.11")) && strings.Contains(r, ns+"/svc-a:http")
	})
	// The cache holds what kube-proxy received, under its own component.
	cached, err := n.HubGet("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cached, `yurthub_cache_writes_total{result="ok"}`) {
		t.Fatalf("hub metrics show no cache writes:\n%s", cached)
	}

	// Cut the node off from the cloud.
	if err := n.NS.Cut(ctx); err != nil {
		t.Fatal(err)
	}
	healed := false
	t.Cleanup(func() {
		if !healed {
			_ = n.NS.Heal(context.Background())
		}
	})
	waitCloudHealthy(t, n, false)

	// Changes in the cloud while the node is away.
	framework.CreateService(t, ns, "svc-c", "10.244.1.12")
	framework.DeleteService(t, ns, "svc-b")

	// kube-proxy keeps its rules.
	framework.HoldsFor(t, 3*time.Second, "kube-proxy's rules while offline", func() (bool, error) {
		rules := n.IPTablesSave()
		if !strings.Contains(rules, framework.DNAT("10.244.1.10")) || !strings.Contains(rules, framework.DNAT("10.244.1.11")) {
			return false, fmt.Errorf("rules lost:\n%s", rules)
		}
		return true, nil
	})

	// A restarted kube-proxy (rules wiped first) gets the full data from the hub's cache.
	n.StopKubeProxy()
	n.StartKubeProxy(true)
	n.WaitRules(60*time.Second, "svc-a and svc-b endpoints from the cache", func(r string) bool {
		return strings.Contains(r, framework.DNAT("10.244.1.10")) && strings.Contains(r, framework.DNAT("10.244.1.11"))
	})

	// A hub restarted while offline serves from disk.
	n.StopKubeProxy()
	n.StopHub()
	n.StartHub()
	waitCloudHealthy(t, n, false)
	n.StartKubeProxy(true)
	n.WaitRules(60*time.Second, "svc-a and svc-b endpoints from the restarted hub's disk", func(r string) bool {
		return strings.Contains(r, framework.DNAT("10.244.1.10")) && strings.Contains(r, framework.DNAT("10.244.1.11"))
	})
	if strings.Contains(n.IPTablesSave(), framework.DNAT("10.244.1.12")) {
		t.Fatal("svc-c, created while offline, showed up before the link healed")
	}
	t.Logf("yurthub RSS with kube-proxy's data cached: %s", rss(n.Hub.Pid()))

	// A corrupt cache file (one flipped byte in svc-b's EndpointSlice) is detected when the
	// hub reads it: dropped, logged, counted, never served; the rest is still served.
	n.StopKubeProxy()
	n.StopHub()
	slicePath := filepath.Join(n.Dir, "cache", "kube-proxy", "endpointslices.v1.discovery.k8s.io", ns, "svc-b-1")
	data, err := os.ReadFile(slicePath)
	if err != nil {
		t.Fatalf("the hub's cache lacks svc-b's EndpointSlice: %v", err)
	}
	data[len(data)-5] ^= 0x01
	if err := os.WriteFile(slicePath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	n.StartHub()
	waitCloudHealthy(t, n, false)
	n.StartKubeProxy(true)
	n.WaitRules(60*time.Second, "svc-a's endpoint without the corrupt svc-b slice", func(r string) bool {
		return strings.Contains(r, framework.DNAT("10.244.1.10")) && strings.Contains(r, "hub-offline/svc-b:http") && !strings.Contains(r, framework.DNAT("10.244.1.11"))
	})
	if m, err := n.HubGet("/metrics"); err != nil || !strings.Contains(m, "yurthub_cache_corrupt_entries_total 1") {
		t.Fatalf("corrupt entry not counted (%v):\n%s", err, grepLines(m, "yurthub_cache"))
	}
	if _, err := os.Stat(slicePath); !os.IsNotExist(err) {
		t.Fatalf("the corrupt cache file is still there: %v", err)
	}
	if !strings.Contains(localstack.TailFile(n.LogFile("yurthub"), 400), "Dropping a corrupt cache entry") {
		t.Fatal("the hub did not log the corrupt entry")
	}

	// Reconnect: what changed meanwhile arrives (svc-c added, svc-b removed) without restarts.
	if err := n.NS.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	healed = true
	waitCloudHealthy(t, n, true)
	n.WaitRules(60*time.Second, "svc-c added and svc-b removed after reconnecting", func(r string) bool {
		return strings.Contains(r, framework.DNAT("10.244.1.10")) && strings.Contains(r, framework.DNAT("10.244.1.12")) && !strings.Contains(r, framework.DNAT("10.244.1.11"))
	})
	metrics, err := n.HubGet("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"yurthub_foreign_resource_version_total", "yurthub_watches_ended_on_source_switch_total{source=\"cache\"}"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("hub metrics lack %s", want)
		}
	}
	t.Logf("hub metrics after reconnecting:\n%s", grepLines(metrics, "yurthub_"))
}

// waitCloudHealthy waits until the hub's view of the cloud is healthy (or not).
func waitCloudHealthy(t *testing.T, n *framework.EdgeNode, healthy bool) {
	t.Helper()
	want := "yurthub_cloud_healthy 0"
	if healthy {
		want = "yurthub_cloud_healthy 1"
	}
	framework.WaitFor(t, 30*time.Second, func() (bool, error) {
		m, err := n.HubGet("/metrics")
		return err == nil && strings.Contains(m, want), err
	})
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// rss is a process's resident set size as /proc reports it.
func rss(pid int) string {
	m, err := procstatus.Read(pid)
	if err != nil {
		return err.Error()
	}
	return procstatus.MiB(m.RSS)
}
