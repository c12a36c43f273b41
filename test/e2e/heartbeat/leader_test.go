package heartbeat

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yurt-edge/yurt/pkg/controller/delegatedheartbeat"
	"github.com/yurt-edge/yurt/pkg/coordinator/lease"
	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

// leaderHubArgs are the hub's default health-check flags (10s interval, 2s timeout, 3 failed
// probes, 40s backoff) scaled to kube-controller-manager's grace period here (20s, half its
// default 40s). With them alone, the health checker would take about 3 × (5s + 2 × 1s) = 21s to
// call a blackholed cloud unhealthy: longer than the grace period.
var leaderHubArgs = []string{"--heartbeat-interval=5s", "--heartbeat-timeout=1s", "--heartbeat-failed-retry=3",
	"--heartbeat-healthy-threshold=2", "--heartbeat-max-backoff=20s"}

// TestLeaderCutOff: the pool LEADER's hub loses the cloud (not its coordinator). Its next
// undelivered heartbeat makes its health checker re-probe at once; the failed probe puts the
// cloud in doubt and the hub hands the leadership over, long before the checker's thresholds
// would call the cloud unhealthy. The other hub then renews the cut node's Lease, so the node
// stays Ready past kube-controller-manager's grace period (no unreachable taint, its pod not
// evicted) and gets only the unschedulable taint. Heal: taint and annotation go.
func TestLeaderCutOff(t *testing.T) {
	ctx := context.Background()
	kube := framework.Clients(t).Kube
	start := time.Now()
	c := startCloud(t, "pool-hb-leader")
	a := c.newEdge(t, "hbl-node-a", true, leaderHubArgs...)
	b := c.newEdge(t, "hbl-node-b", true, leaderHubArgs...)
	waitReady(t, kube, a, b)

	// Whichever hub leads is cut.
	var leader, other *edge
	framework.WaitFor(t, 30*time.Second, func() (bool, error) {
		for _, pair := range [][2]*edge{{a, b}, {b, a}} {
			m, err := pair[0].HubGet("/metrics")
			if err != nil {
				return false, err
			}
			if strings.Contains(m, "\nyurthub_pool_leader 1\n") {
				leader, other = pair[0], pair[1]
				return true, nil
			}
		}
		return false, nil
	})
	leader.pod = "hbl-pod-" + leader.Name
	createPod(t, kube, leader.pod, leader.Name)
	framework.WaitFor(t, time.Minute, func() (bool, error) {
		p, err := kube.CoreV1().Pods("default").Get(ctx, leader.pod, metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})
	t.Logf("%s leads the pool; both nodes Ready, its pod running, after %s", leader.Name, time.Since(start).Round(time.Second))

	cut := time.Now()
	leader.CutCloud()
	since := func() time.Duration { return time.Since(cut).Round(100 * time.Millisecond) }
	var handedOver, otherLeads, tainted, annotated time.Duration
	for time.Since(cut) < observe {
		node, err := kube.CoreV1().Nodes().Get(ctx, leader.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !localstack.NodeReady(node) {
			t.Fatalf("+%s: %s (its hub led the pool when cut off from the cloud) is not Ready: %s\n--- hub of %s ---\n%s\n--- hub of %s ---\n%s",
				since(), leader.Name, readyCondition(node), leader.Name, localstack.TailFile(leader.LogFile("yurthub"), 40),
				other.Name, localstack.TailFile(other.LogFile("yurthub"), 30))
		}
		for _, key := range []string{corev1.TaintNodeUnreachable, corev1.TaintNodeNotReady} {
			if hasTaint(node, key, "") {
				t.Fatalf("+%s: %s got taint %s: %v", since(), leader.Name, key, node.Spec.Taints)
			}
		}
		if tainted == 0 && hasTaint(node, delegatedheartbeat.UnschedulableTaintKey, corev1.TaintEffectNoSchedule) {
			tainted = since()
		}
		if l, err := kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, leader.Name, metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		} else if annotated == 0 && lease.IsDelegated(l) {
			annotated = since()
		}
		if p, err := kube.CoreV1().Pods("default").Get(ctx, leader.pod, metav1.GetOptions{}); err != nil || p.DeletionTimestamp != nil {
			t.Fatalf("+%s: the pod of %s is being evicted: %v %v", since(), leader.Name, err, p.GetDeletionTimestamp())
		}
		if handedOver == 0 {
			if m, err := leader.HubGet("/metrics"); err == nil && strings.Contains(m, "\nyurthub_pool_leader 0\n") {
				handedOver = since()
			}
		}
		if otherLeads == 0 {
			if m, err := other.HubGet("/metrics"); err == nil && strings.Contains(m, "\nyurthub_pool_leader 1\n") {
				otherLeads = since()
			}
		}
		time.Sleep(time.Second)
	}
	t.Logf("%s: Ready throughout %s after the cut (grace period %s); old leader stepped down at +%s, %s leads at +%s; cloud Lease delegated at +%s, unschedulable taint at +%s; pod kept",
		leader.Name, since(), gracePeriod, handedOver, other.Name, otherLeads, annotated, tainted)
	if handedOver == 0 || otherLeads == 0 {
		t.Errorf("leadership: old leader stepped down at +%s, %s leads at +%s; want both", handedOver, other.Name, otherLeads)
	}
	if annotated == 0 || tainted == 0 {
		t.Errorf("%s: cloud Lease delegated at +%s, unschedulable taint at +%s; want both", leader.Name, annotated, tainted)
	}
	if m, err := leader.HubGet("/metrics"); err != nil || !strings.Contains(m, "\nyurthub_cloud_healthy 0\n") {
		t.Logf("note: the cut hub's health checker did not call the cloud unhealthy (yet): %v", err)
	}
	checkLeaderRenewed(t, kube, leader.Name, other)

	heal := time.Now()
	leader.HealCloud()
	framework.WaitFor(t, time.Minute, func() (bool, error) {
		node, err := kube.CoreV1().Nodes().Get(ctx, leader.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		l, err := kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, leader.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return localstack.NodeReady(node) && !lease.IsDelegated(l) &&
			!hasTaint(node, delegatedheartbeat.UnschedulableTaintKey, corev1.TaintEffectNoSchedule), nil
	})
	t.Logf("healed: annotation and taint gone after %s; test took %s", time.Since(heal).Round(100*time.Millisecond), time.Since(start).Round(time.Second))
}
