package heartbeat

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	"github.com/yurt-edge/yurt/pkg/controller/delegatedheartbeat"
	"github.com/yurt-edge/yurt/pkg/coordinator/lease"
	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

// TestFailoverWhileDelegated: three nodes of a pool; one (the cut node, not the leader) loses
// the cloud and the leader renews its Lease. Then
//  1. the LEADER's hub crashes (SIGKILL): the third hub wins the election and goes on renewing
//     the cut node's Lease, so the cut node stays Ready and keeps its pod;
//  2. the cut node's own hub restarts while still cut off: it starts from its disk cache,
//     serves the kubelet, mirrors the Lease to the coordinator again, and the node stays Ready.
//
// Heal: taint and annotation go.
func TestFailoverWhileDelegated(t *testing.T) {
	ctx := context.Background()
	kube, yurt := framework.Clients(t).Kube, framework.Clients(t).Yurt
	start := time.Now()
	const poolName = "pool-hb-failover"
	// The NodePool, where the leader records itself (status.leaderEndpoints).
	np := &appsv1beta2.NodePool{ObjectMeta: metav1.ObjectMeta{Name: poolName}, Spec: appsv1beta2.NodePoolSpec{Type: appsv1beta2.Edge}}
	// Retried: kube-apiserver's aggregator may not route apps.openyurt.io for a moment after
	// the stack starts.
	framework.WaitFor(t, 30*time.Second, func() (bool, error) {
		_, err := yurt.AppsV1beta2().NodePools().Create(ctx, np, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Logf("creating NodePool %s: %v", poolName, err)
			return false, nil
		}
		return true, nil
	})
	t.Cleanup(func() {
		_ = yurt.AppsV1beta2().NodePools().Delete(context.Background(), poolName, metav1.DeleteOptions{})
	})
	c := startCloud(t, poolName)
	nodes := []*edge{
		c.newEdge(t, "hbf-node-a", true, leaderHubArgs...),
		c.newEdge(t, "hbf-node-b", true, leaderHubArgs...),
		c.newEdge(t, "hbf-node-c", true, leaderHubArgs...),
	}
	waitReady(t, kube, nodes...)

	leader := waitLeader(t, nodes)
	waitPoolLeader(t, poolName, leader.Name)
	var cut, third *edge
	for _, n := range nodes {
		switch {
		case n == leader:
		case cut == nil:
			cut = n
		default:
			third = n
		}
	}
	cut.pod = "hbf-pod-" + cut.Name
	createPod(t, kube, cut.pod, cut.Name)
	framework.WaitFor(t, time.Minute, func() (bool, error) {
		p, err := kube.CoreV1().Pods("default").Get(ctx, cut.pod, metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})
	t.Logf("%s leads; cutting %s off the cloud after %s", leader.Name, cut.Name, time.Since(start).Round(time.Second))

	cutAt := time.Now()
	cut.CutCloud()
	// The leader renews the cut node's Lease, marked delegated.
	framework.WaitFor(t, gracePeriod, func() (bool, error) {
		l, err := kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, cut.Name, metav1.GetOptions{})
		return err == nil && lease.IsDelegated(l), err
	})
	t.Logf("+%s: %s's cloud Lease is delegated; SIGKILLing the leader's hub (%s)", time.Since(cutAt).Round(100*time.Millisecond), cut.Name, leader.Name)

	// 1. The leader crashes.
	killed := time.Now()
	leader.KillHub()
	stayReady(t, kube, cut, observe, "after the leader's hub was killed")
	if m, err := third.HubGet("/metrics"); err != nil || !strings.Contains(m, "\nyurthub_pool_leader 1\n") {
		t.Fatalf("%s does not lead %s after the leader's hub was killed: %v", third.Name, time.Since(killed).Round(time.Second), err)
	}
	checkLeaderRenewed(t, kube, cut.Name, third)
	waitPoolLeader(t, poolName, third.Name)
	t.Logf("%s stayed Ready %s after the leader's hub died; %s leads and renews its Lease", cut.Name, observe, third.Name)

	// 2. The cut node's hub restarts, still cut off: from its cache, with the coordinator.
	cut.StopHub()
	cut.StartHub()
	if body, err := cut.HubGet("/readyz"); err != nil || !strings.Contains(body, "unreachable") {
		t.Errorf("the restarted hub of %s: /readyz %q, %v; want it serving from its cache", cut.Name, body, err)
	}
	stayReady(t, kube, cut, gracePeriod+10*time.Second, "after its hub restarted while cut off")
	if m, err := cut.HubGet("/metrics"); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("restarted hub of %s:\n%s", cut.Name, grepLines(m, "yurthub_heartbeat_"))
	}

	heal := time.Now()
	cut.HealCloud()
	framework.WaitFor(t, time.Minute, func() (bool, error) {
		l, err := kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, cut.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		node, err := kube.CoreV1().Nodes().Get(ctx, cut.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return localstack.NodeReady(node) && !lease.IsDelegated(l) && !hasTaint(node, delegatedheartbeat.UnschedulableTaintKey, corev1.TaintEffectNoSchedule), nil
	})
	t.Logf("healed after %s; test took %s", time.Since(heal).Round(100*time.Millisecond), time.Since(start).Round(time.Second))
}

// waitPoolLeader waits until the NodePool's status names node as its one hub leader.
func waitPoolLeader(t *testing.T, pool, node string) {
	t.Helper()
	yurt := framework.Clients(t).Yurt
	framework.WaitFor(t, 30*time.Second, func() (bool, error) {
		np, err := yurt.AppsV1beta2().NodePools().Get(context.Background(), pool, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		st := np.Status
		return st.LeaderNum == 1 && len(st.LeaderEndpoints) == 1 && st.LeaderEndpoints[0].NodeName == node && !st.LeaderLastElectedTime.IsZero(), nil
	})
	if out, err := framework.Kubectl(t, "get", "nodepool", pool); err == nil {
		t.Logf("NodePool %s names %s its leader:\n%s", pool, node, out)
	}
}

// waitLeader returns the node whose hub leads the pool.
func waitLeader(t *testing.T, nodes []*edge) *edge {
	t.Helper()
	var leader *edge
	framework.WaitFor(t, 30*time.Second, func() (bool, error) {
		for _, n := range nodes {
			m, err := n.HubGet("/metrics")
			if err != nil {
				return false, err
			}
			if strings.Contains(m, "\nyurthub_pool_leader 1\n") {
				leader = n
				return true, nil
			}
		}
		return false, nil
	})
	return leader
}

// stayReady checks for d that the node stays Ready, without the unreachable or not-ready
// taints, and that its pod is not evicted.
func stayReady(t *testing.T, kube kubernetes.Interface, n *edge, d time.Duration, when string) {
	t.Helper()
	ctx := context.Background()
	framework.HoldsFor(t, d, n.Name+" Ready with its pod "+when, func() (bool, error) {
		node, err := kube.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if !localstack.NodeReady(node) {
			return false, fmt.Errorf("not Ready: %s\n--- its hub ---\n%s", readyCondition(node), localstack.TailFile(n.LogFile("yurthub"), 30))
		}
		for _, key := range []string{corev1.TaintNodeUnreachable, corev1.TaintNodeNotReady} {
			if hasTaint(node, key, "") {
				return false, fmt.Errorf("tainted %s: %v", key, node.Spec.Taints)
			}
		}
		if n.pod != "" {
			p, err := kube.CoreV1().Pods("default").Get(ctx, n.pod, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if p.DeletionTimestamp != nil {
				return false, fmt.Errorf("its pod %s is being evicted", n.pod)
			}
		}
		return true, nil
	})
}
