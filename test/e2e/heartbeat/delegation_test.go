package heartbeat

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/yurt-edge/yurt/pkg/controller/delegatedheartbeat"
	"github.com/yurt-edge/yurt/pkg/coordinator/certs"
	"github.com/yurt-edge/yurt/pkg/coordinator/lease"
	"github.com/yurt-edge/yurt/pkg/hub/options"
	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

const (
	pool = "pool-hb"
	// gracePeriod is kube-controller-manager's --node-monitor-grace-period: a node whose Lease
	// is not renewed for this long turns NotReady (Unknown) and gets the unreachable taint.
	gracePeriod = 20 * time.Second
	// observe is how long after the cut the delegated node must stay Ready: well past the grace
	// period, and long enough for the control node's pod to be evicted.
	observe = 2*gracePeriod + 5*time.Second
	// tolerate is the pods' tolerationSeconds for the unreachable/not-ready taints, so that
	// an unreachable node's pod is evicted within the test.
	tolerate = 5
)

// edge is an edge node with its hub and hollow kubelet.
type edge struct {
	*framework.EdgeNode
	hollow *localstack.HollowNode
	pod    string
}

// TestDelegatedHeartbeat: two nodes of a pool with a coordinator and a third node whose hub has
// none, each a real (hollow) kubelet talking through its hub. node-1 and node-3 lose the cloud
// at once (node-1 keeps its coordinator):
//   - node-1 stays Ready well past kube-controller-manager's grace period (the pool leader,
//     node-2's hub, renews its Lease in the cloud, marked openyurt.io/delegate-heartbeat),
//     yurt-manager taints it node.openyurt.io/unschedulable:NoSchedule, and its pod is not
//     evicted;
//   - node-3 turns NotReady, gets the unreachable taint and its pod is evicted.
//
// After the cut heals, node-1's taint and annotation go and node-3 is Ready again.
func TestDelegatedHeartbeat(t *testing.T) {
	ctx := context.Background()
	kube := framework.Clients(t).Kube
	start := time.Now()

	c := startCloud(t, pool)
	newEdge := func(name string, withCoordinator bool) *edge { return c.newEdge(t, name, withCoordinator) }
	// node-2 starts first, so it most likely leads; either way node-1 cannot lead once cut.
	n2 := newEdge("hb-node-2", true)
	n1 := newEdge("hb-node-1", true)
	n3 := newEdge("hb-node-3", false)
	waitReady(t, kube, n1, n2, n3)
	t.Logf("3 hollow nodes Ready with their Leases, through their hubs, after %s", time.Since(start).Round(time.Second))

	checkIdentities(t, n1.Name, n2.Name)

	for _, n := range []*edge{n1, n3} {
		n.pod = "hb-pod-" + n.Name
		createPod(t, kube, n.pod, n.Name)
	}
	for _, n := range []*edge{n1, n3} {
		framework.WaitFor(t, time.Minute, func() (bool, error) {
			p, err := kube.CoreV1().Pods("default").Get(ctx, n.pod, metav1.GetOptions{})
			return err == nil && p.Status.Phase == corev1.PodRunning, err
		})
	}

	// The cut: node-1 and node-3 lose the cloud; node-1 keeps its coordinator.
	cut := time.Now()
	n1.CutCloud()
	n3.CutCloud()
	t.Logf("cut node-1 and node-3 off the cloud at +%s", time.Since(start).Round(time.Second))

	var (
		n1Tainted, n1Annotated       time.Duration
		n3NotReady, n3Unreachable    time.Duration
		n3Evicted                    time.Duration
		since                        = func() time.Duration { return time.Since(cut).Round(100 * time.Millisecond) }
		unreachable, notReady        = corev1.TaintNodeUnreachable, corev1.TaintNodeNotReady
		delegatedLeaseSeen, renewals int
		lastRenew                    time.Time
	)
	for time.Since(cut) < observe || n3Evicted == 0 && time.Since(cut) < observe+30*time.Second {
		node1, err := kube.CoreV1().Nodes().Get(ctx, n1.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !localstack.NodeReady(node1) {
			t.Fatalf("+%s: node-1 (cut off from the cloud, not from its pool) is not Ready: %+v\n--- hub of node-2 ---\n%s\n--- hub of node-1 ---\n%s",
				since(), readyCondition(node1), localstack.TailFile(n2.LogFile("yurthub"), 30), localstack.TailFile(n1.LogFile("yurthub"), 30))
		}
		for _, key := range []string{unreachable, notReady} {
			if hasTaint(node1, key, "") {
				t.Fatalf("+%s: node-1 got taint %s: %v", since(), key, node1.Spec.Taints)
			}
		}
		if n1Tainted == 0 && hasTaint(node1, delegatedheartbeat.UnschedulableTaintKey, corev1.TaintEffectNoSchedule) {
			n1Tainted = since()
		}
		l, err := kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, n1.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if lease.IsDelegated(l) {
			delegatedLeaseSeen++
			if n1Annotated == 0 {
				n1Annotated = since()
			}
			if rt := l.Spec.RenewTime.Time; rt.After(lastRenew) {
				if !lastRenew.IsZero() {
					renewals++
				}
				lastRenew = rt
			}
		}
		pod1, err := kube.CoreV1().Pods("default").Get(ctx, n1.pod, metav1.GetOptions{})
		if err != nil || pod1.DeletionTimestamp != nil {
			t.Fatalf("+%s: node-1's pod is being evicted: %v %v", since(), err, pod1.GetDeletionTimestamp())
		}

		node3, err := kube.CoreV1().Nodes().Get(ctx, n3.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n3NotReady == 0 && !localstack.NodeReady(node3) {
			n3NotReady = since()
		}
		if n3Unreachable == 0 && hasTaint(node3, unreachable, corev1.TaintEffectNoExecute) {
			n3Unreachable = since()
		}
		if pod3, err := kube.CoreV1().Pods("default").Get(ctx, n3.pod, metav1.GetOptions{}); n3Evicted == 0 && (apierrors.IsNotFound(err) || err == nil && pod3.DeletionTimestamp != nil) {
			n3Evicted = since()
		}
		time.Sleep(time.Second)
	}
	t.Logf("node-1 (coordinator): Ready throughout %s after the cut (grace period %s); cloud Lease delegated at +%s, renewed %d times by the leader; unschedulable taint at +%s; pod kept",
		since(), gracePeriod, n1Annotated, renewals, n1Tainted)
	t.Logf("node-3 (no coordinator): NotReady at +%s, unreachable taint at +%s, pod evicted at +%s", n3NotReady, n3Unreachable, n3Evicted)
	if n1Annotated == 0 || renewals < 2 {
		t.Errorf("node-1's cloud Lease: delegate annotation first seen at +%s, %d renewals seen; want it delegated and renewed", n1Annotated, renewals)
	}
	if n1Tainted == 0 {
		t.Errorf("node-1 never got %s:NoSchedule", delegatedheartbeat.UnschedulableTaintKey)
	}
	if n3NotReady == 0 || n3Unreachable == 0 || n3Evicted == 0 {
		t.Errorf("node-3 without a coordinator: NotReady at +%s, unreachable taint at +%s, pod evicted at +%s; want all three", n3NotReady, n3Unreachable, n3Evicted)
	}
	checkLeaderRenewed(t, kube, n1.Name, n2)
	// node-1's hub answered its kubelet's heartbeats itself and handed them to the coordinator.
	if m, err := n1.HubGet("/metrics"); err != nil || !strings.Contains(m, `yurthub_heartbeat_mirror_writes_total{delegated="true",result="ok"}`) ||
		!strings.Contains(m, `yurthub_heartbeat_local_answers_total{code="200",verb="update"}`) {
		t.Errorf("node-1's hub metrics lack delegated mirror writes or local Lease updates (%v):\n%s", err, grepLines(m, "yurthub_heartbeat_"))
	}

	// Heal: node-1 heartbeats directly again (its hub strips the annotation), the taint goes.
	heal := time.Now()
	n1.HealCloud()
	n3.HealCloud()
	framework.WaitFor(t, time.Minute, func() (bool, error) {
		node1, err := kube.CoreV1().Nodes().Get(ctx, n1.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		l, err := kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, n1.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return localstack.NodeReady(node1) && !lease.IsDelegated(l) &&
			!hasTaint(node1, delegatedheartbeat.UnschedulableTaintKey, corev1.TaintEffectNoSchedule), nil
	})
	n1Healed := time.Since(heal).Round(100 * time.Millisecond)
	// node-3 turns Ready once its kubelet posts its status again, not with the first renewed
	// Lease: kube-controller-manager set its Ready condition to Unknown.
	framework.WaitFor(t, time.Minute, func() (bool, error) {
		node3, err := kube.CoreV1().Nodes().Get(ctx, n3.Name, metav1.GetOptions{})
		return err == nil && localstack.NodeReady(node3) && !hasTaint(node3, unreachable, ""), err
	})
	t.Logf("healed: node-1's annotation and taint gone after %s, node-3 Ready after %s; test took %s",
		n1Healed, time.Since(heal).Round(100*time.Millisecond), time.Since(start).Round(time.Second))
}

// cloud is what a test's edge nodes need from the cloud and their pool: kube-controller-manager
// with a short grace period, yurt-manager's delegatedheartbeat controller, the lease-proxy RBAC
// from artifacts/deploy and credentials, and the pool's coordinator. Everything a test starts
// here is stopped at its end, so the next test starts its own.
type cloud struct {
	stack         *localstack.Stack
	kube          kubernetes.Interface
	pool          string
	ca            *certs.Pair
	coordHost     string
	coordCAFile   string
	lpCert, lpKey string
}

func startCloud(t *testing.T, pool string) *cloud {
	t.Helper()
	ctx := context.Background()
	stack := framework.Stack(t)
	kcm, err := stack.StartKubeControllerManager(ctx, localstack.KubeControllerManagerOptions{NodeMonitorGracePeriod: gracePeriod})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kcm.Stop(10 * time.Second) })
	// yurt-manager releases its leader Lease when stopped: the next test's takes over at once.
	ym, _, err := stack.StartYurtManager(ctx, localstack.YurtManagerOptions{Controllers: []string{delegatedheartbeat.ControllerName}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ym.Stop(10 * time.Second) })
	rbac := framework.RepoPath(t, "artifacts", "deploy", "20-yurthub-lease-proxy-rbac.yaml")
	if out, err := framework.Kubectl(t, "apply", "-f", rbac); err != nil {
		t.Fatalf("applying %s: %v\n%s", rbac, err, out)
	}
	credDir := t.TempDir()
	c := &cloud{stack: stack, kube: framework.Clients(t).Kube, pool: pool,
		lpCert: filepath.Join(credDir, "lease-proxy.crt"), lpKey: filepath.Join(credDir, "lease-proxy.key")}
	lp, err := stack.PKI.NewClientCert(options.LeaseProxyUser, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.Write(c.lpCert, c.lpKey); err != nil {
		t.Fatal(err)
	}
	// The pool's coordinator; each hub gets its own certificate from the pool CA.
	coord, err := stack.StartCoordinator(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = coord.Process.Stop(10 * time.Second) })
	if c.ca, err = certs.LoadCA(certs.Files{Dir: coord.CertDir}.CA()); err != nil {
		t.Fatal(err)
	}
	c.coordHost, c.coordCAFile = strings.TrimPrefix(coord.Endpoints[0], "https://"), coord.CAFile
	return c
}

// newEdge starts an edge node: its namespace, hub (with hubArgs) and hollow kubelet.
func (c *cloud) newEdge(t *testing.T, name string, withCoordinator bool, hubArgs ...string) *edge {
	t.Helper()
	ctx := context.Background()
	nodePool := ""
	if withCoordinator {
		nodePool = c.pool
	}
	n := framework.NewEdgeNode(t, name, framework.EdgeNodeOptions{Pool: nodePool, NoNodeObject: true})
	// kubemark's kubelet says User-Agent hollow-kubelet; cache it as a real kubelet is.
	n.HubArgs = append(n.HubArgs, "--cache-agents=kubelet,hollow-kubelet,kube-proxy,coredns")
	if withCoordinator {
		hub, err := c.ca.SignHub(c.pool, name, 0)
		if err != nil {
			t.Fatal(err)
		}
		hc, hk := certs.Files{Dir: n.Dir}.Hub(name)
		if err := hub.Write(hc, hk); err != nil {
			t.Fatal(err)
		}
		// The coordinator is reached through its own forwarder: CutCloud leaves it alone.
		fwd := n.Forward(c.coordHost)
		n.HubArgs = append(n.HubArgs,
			"--coordinator-endpoints=https://"+fwd.Addr(),
			"--coordinator-ca-file="+c.coordCAFile, "--coordinator-cert-file="+hc, "--coordinator-key-file="+hk,
			"--lease-proxy-client-certificate="+c.lpCert, "--lease-proxy-client-key="+c.lpKey)
	}
	n.HubArgs = append(n.HubArgs, hubArgs...)
	n.StartHub()
	// Stop the hub before its forwarders close (cleanups run last-registered first): a hub
	// stopping while its cloud and coordinator are gone takes 6s or more (see the report),
	// which is not what this test is about.
	t.Cleanup(n.StopHub)
	hollow, err := c.stack.StartHollowNode(ctx, localstack.HollowNodeOptions{
		Name: name, Pool: nodePool, Server: "http://127.0.0.1:10261", NetNS: n.NS.Name,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := hollow.Stop(10 * time.Second); err != nil {
			t.Errorf("stopping the hollow kubelet of %s: %v", name, err)
		}
		_ = c.kube.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return &edge{EdgeNode: n, hollow: hollow}
}

// waitReady waits for the nodes to be Ready with their Leases in the cloud.
func waitReady(t *testing.T, kube kubernetes.Interface, nodes ...*edge) {
	t.Helper()
	ctx := context.Background()
	for _, n := range nodes {
		framework.WaitFor(t, 2*time.Minute, func() (bool, error) {
			select {
			case <-n.hollow.Done():
				t.Fatalf("hollow kubelet of %s exited: %v\n%s", n.Name, n.hollow.ExitError(), localstack.TailFile(n.hollow.LogFile, 30))
			default:
			}
			node, err := kube.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil || !localstack.NodeReady(node) {
				return false, err
			}
			// The Lease comes a moment after the Node; without one the leader has nothing to renew.
			_, err = kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, n.Name, metav1.GetOptions{})
			return err == nil, err
		})
	}
}

// checkIdentities shows why the leader needs its own identity: node-2's credentials may not
// touch node-1's Lease (Node authorizer) nor its Node (NodeRestriction), while the lease-proxy
// user may read, update and create node Leases and read Nodes, and nothing else.
func checkIdentities(t *testing.T, node1, node2 string) {
	t.Helper()
	ctx := context.Background()
	asNode2 := framework.ClientsFor(t, framework.RESTConfigFor(t, "system:node:"+node2, []string{"system:nodes"})).Kube
	l, err := asNode2.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, node2, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("node-2 reading its own Lease: %v", err)
	}
	other := l.DeepCopy()
	other.Name, other.ResourceVersion, other.UID = node1, "", ""
	if _, err := asNode2.CoordinationV1().Leases(corev1.NamespaceNodeLease).Update(ctx, other, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("node-2 updating node-1's Lease: %v, want Forbidden", err)
	}
	patch := []byte(`{"metadata":{"labels":{"e2e-touched-by":"` + node2 + `"}}}`)
	if _, err := asNode2.CoreV1().Nodes().Patch(ctx, node1, types.MergePatchType, patch, metav1.PatchOptions{}); !apierrors.IsForbidden(err) ||
		!strings.Contains(err.Error(), "is not allowed to modify node") {
		t.Errorf("node-2 patching node-1's Node: %v, want Forbidden by NodeRestriction", err)
	}
	asProxy := framework.ClientsFor(t, framework.RESTConfigFor(t, options.LeaseProxyUser, nil)).Kube
	if _, err := asProxy.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, node1, metav1.GetOptions{}); err != nil {
		t.Errorf("the lease-proxy user reading node-1's Lease: %v", err)
	}
	// It reads Nodes to check their pool before renewing.
	if _, err := asProxy.CoreV1().Nodes().Get(ctx, node1, metav1.GetOptions{}); err != nil {
		t.Errorf("the lease-proxy user reading node-1's Node: %v", err)
	}
	// It creates the Lease of a node cut before its first Lease reached the cloud.
	if _, err := asProxy.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "e2e-not-a-node"}},
		metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Errorf("the lease-proxy user creating a Lease in kube-node-lease: %v", err)
	}
	for what, do := range map[string]func() error{
		"create a Lease in kube-system": func() error {
			_, err := asProxy.CoordinationV1().Leases("kube-system").Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "e2e-not-a-node"}},
				metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			return err
		},
		"read a Lease in kube-system": func() error {
			_, err := asProxy.CoordinationV1().Leases("kube-system").Get(ctx, "kube-controller-manager", metav1.GetOptions{})
			return err
		},
		"delete node-1's Lease": func() error {
			return asProxy.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(ctx, node1, metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}})
		},
		"patch node-1's Node": func() error {
			_, err := asProxy.CoreV1().Nodes().Patch(ctx, node1, types.MergePatchType, patch, metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}})
			return err
		},
		"list Nodes": func() error {
			_, err := asProxy.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			return err
		},
	} {
		if err := do(); !apierrors.IsForbidden(err) {
			t.Errorf("the lease-proxy user may %s: %v, want Forbidden", what, err)
		}
	}
}

// checkLeaderRenewed checks that the renewals of node-1's cloud Lease came from the lease-proxy
// client (its User-Agent is the field manager) and that node-2's hub leads and counted them.
func checkLeaderRenewed(t *testing.T, kube kubernetes.Interface, node1 string, leader *edge) {
	t.Helper()
	l, err := kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(context.Background(), node1, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var managers []string
	for _, mf := range l.ManagedFields {
		managers = append(managers, mf.Manager)
	}
	if !strings.Contains(strings.Join(managers, ","), "yurthub-lease-proxy") {
		t.Errorf("%s's Lease field managers %v: no renewal by yurthub-lease-proxy", node1, managers)
	}
	metrics, err := leader.HubGet("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"yurthub_pool_leader 1", `yurthub_heartbeat_delegated_renewals_total{result="renewed"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("the hub of %s (leader) lacks %q in its metrics", leader.Name, want)
		}
	}
	t.Logf("the hub of %s (leader):\n%s", leader.Name, grepLines(metrics, "yurthub_heartbeat_"))
}

func grepLines(text, prefix string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, "  "+line)
		}
	}
	return strings.Join(out, "\n")
}

func createPod(t *testing.T, kube kubernetes.Interface, name, node string) {
	t.Helper()
	tol := func(key string) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](tolerate)}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeName:                     node,
			AutomountServiceAccountToken: ptr.To(false),
			Containers:                   []corev1.Container{{Name: "pause", Image: "registry.k8s.io/pause:3.10"}},
			Tolerations:                  []corev1.Toleration{tol(corev1.TaintNodeUnreachable), tol(corev1.TaintNodeNotReady)},
		},
	}
	// The default ServiceAccount appears once kube-controller-manager has made it.
	framework.WaitFor(t, 30*time.Second, func() (bool, error) {
		_, err := kube.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{})
		return err == nil, err
	})
	t.Cleanup(func() {
		_ = kube.CoreV1().Pods("default").Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	})
}

func hasTaint(n *corev1.Node, key string, effect corev1.TaintEffect) bool {
	for _, tn := range n.Spec.Taints {
		if tn.Key == key && (effect == "" || tn.Effect == effect) {
			return true
		}
	}
	return false
}

func readyCondition(n *corev1.Node) string {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return fmt.Sprintf("%s %s: %s", c.Status, c.Reason, c.Message)
		}
	}
	return "no Ready condition"
}
