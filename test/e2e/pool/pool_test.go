package pool

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	"github.com/yurt-edge/yurt/pkg/coordinator"
	"github.com/yurt-edge/yurt/pkg/coordinator/certs"
	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

const (
	electionTTL = 3 * time.Second
	syncMaxAge  = 15 * time.Second
)

// moveEndpoint points a service's slice at a new address.
func moveEndpoint(t *testing.T, ns, service, ip string) {
	t.Helper()
	ctx := context.Background()
	client := framework.Clients(t).Kube
	s, err := client.DiscoveryV1().EndpointSlices(ns).Get(ctx, service+"-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Endpoints[0].Addresses = []string{ip}
	if _, err := client.DiscoveryV1().EndpointSlices(ns).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func has(ips ...string) func(string) bool {
	return func(r string) bool {
		for _, ip := range ips {
			if !strings.Contains(r, framework.DNAT(ip)) {
				return false
			}
		}
		return true
	}
}

func hasNot(ip string, and func(string) bool) func(string) bool {
	return func(r string) bool { return and(r) && !strings.Contains(r, framework.DNAT(ip)) }
}

// startCoordinator starts the pool's yurt-coordinator; it is stopped when the test ends.
func startCoordinator(t *testing.T, pool string) *localstack.Coordinator {
	t.Helper()
	c, err := framework.Stack(t).StartCoordinator(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Stop(10 * time.Second) })
	return c
}

// joinCoordinator gives the node's hub a certificate from the pool CA and a forwarder from
// its namespace to the coordinator, and sets the hub's coordinator flags.
func joinCoordinator(t *testing.T, n *framework.EdgeNode, c *localstack.Coordinator) {
	t.Helper()
	files := certs.Files{Dir: c.CertDir}
	ca, err := certs.LoadCA(files.CA())
	if err != nil {
		t.Fatal(err)
	}
	hub, err := ca.SignHub(c.Pool, n.Name, 0)
	if err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(n.Dir, "coordinator.crt"), filepath.Join(n.Dir, "coordinator.key")
	if err := hub.Write(cert, key); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(c.Endpoints[0])
	if err != nil {
		t.Fatal(err)
	}
	fwd := n.Forward(u.Host)
	n.HubArgs = []string{
		"--coordinator-endpoints=https://" + fwd.Addr(),
		"--coordinator-ca-file=" + c.CAFile, "--coordinator-cert-file=" + cert, "--coordinator-key-file=" + key,
		"--coordinator-election-ttl=" + electionTTL.String(), "--pool-sync-max-age=" + syncMaxAge.String(),
	}
}

func newNodes(t *testing.T, prefix, pool string, count int) []*framework.EdgeNode {
	nodes := make([]*framework.EdgeNode, count)
	for i := range nodes {
		nodes[i] = framework.NewEdgeNode(t, fmt.Sprintf("%s-%d", prefix, i), framework.EdgeNodeOptions{Pool: pool})
		n := nodes[i]
		// Runs before the node's own cleanup: a hub that does not stop on SIGTERM gets its
		// goroutines dumped (SIGQUIT) into its log before it is killed, to say what hung.
		t.Cleanup(func() { stopHubOrDump(t, n) })
	}
	return nodes
}

func stopHubOrDump(t *testing.T, n *framework.EdgeNode) {
	n.StopKubeProxy()
	if n.Hub == nil {
		return
	}
	p := n.Hub
	_ = syscall.Kill(-p.Pid(), syscall.SIGTERM)
	select {
	case <-p.Done():
	case <-time.After(8 * time.Second):
		t.Errorf("yurthub of %s did not stop within 8s of SIGTERM; goroutines dumped in %s", n.Name, p.LogFile)
		_ = syscall.Kill(-p.Pid(), syscall.SIGQUIT)
		select {
		case <-p.Done():
		case <-time.After(5 * time.Second):
		}
	}
	n.StopHub()
}

var longrunning = regexp.MustCompile(`^apiserver_longrunning_requests\{([^}]*)\} ([0-9.e+]+)$`)

// cloudWatches is how many watches of resource kube-apiserver is serving now (its own gauge
// apiserver_longrunning_requests, every scope).
func cloudWatches(t *testing.T, resource string) int {
	t.Helper()
	raw, err := framework.Clients(t).Kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, line := range strings.Split(string(raw), "\n") {
		m := longrunning.FindStringSubmatch(line)
		if m == nil || !strings.Contains(m[1], `verb="WATCH"`) || !strings.Contains(m[1], `resource="`+resource+`"`) || !strings.Contains(m[1], `subresource=""`) {
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatalf("parsing %q: %v", line, err)
		}
		total += int(v)
	}
	return total
}

// waitWatches waits until kube-apiserver serves want[r] watches of each resource r above
// base, then checks that it stays so for a few seconds, and returns every resource's count.
func waitWatches(t *testing.T, base map[string]int, want map[string]int, what string) map[string]int {
	t.Helper()
	got := map[string]int{}
	measure := func() bool {
		ok := true
		for r, b := range base {
			got[r] = cloudWatches(t, r) - b
			if w, checked := want[r]; checked && got[r] != w {
				ok = false
			}
		}
		return ok
	}
	framework.WaitFor(t, 60*time.Second, func() (bool, error) {
		if measure() {
			return true, nil
		}
		return false, fmt.Errorf("%s: cloud watches above baseline %v, want %v", what, got, want)
	})
	// The count must be steady, not passing through the wanted value.
	framework.HoldsFor(t, 3*time.Second, what+": cloud watches above baseline at "+fmt.Sprint(want), func() (bool, error) {
		if measure() {
			return true, nil
		}
		return false, fmt.Errorf("changed to %v", got)
	})
	return got
}

// perNode is the cloud's endpointslice watches of a pool without the coordinator: one per
// node (kube-proxy's). Services are watched by more than kube-proxy (the hub's own filters),
// so only endpointslices are pinned.
var perNode = map[string]int{"endpointslices": 3}

// perPool is the cloud's watches of a pool with the coordinator: the leader's, one each.
var perPool = map[string]int{"endpointslices": 1, "services": 1}

func baseline(t *testing.T) map[string]int {
	return map[string]int{"endpointslices": cloudWatches(t, "endpointslices"), "services": cloudWatches(t, "services")}
}

// hubMetric returns the value of the first metric line of a hub that starts with prefix (-1: none).
func hubMetric(t *testing.T, n *framework.EdgeNode, prefix string) float64 {
	t.Helper()
	m, err := n.HubGet("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	sum, found := 0.0, false
	for _, line := range strings.Split(m, "\n") {
		if strings.HasPrefix(line, prefix) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err == nil {
				sum, found = sum+v, true
			}
		}
	}
	if !found {
		return -1
	}
	return sum
}

// leaderOf returns the node whose hub leads the pool, waiting for one.
func leaderOf(t *testing.T, nodes []*framework.EdgeNode, timeout time.Duration) *framework.EdgeNode {
	t.Helper()
	var leader *framework.EdgeNode
	framework.WaitFor(t, timeout, func() (bool, error) {
		leader = nil
		count := 0
		for _, n := range nodes {
			if n.Hub == nil {
				continue
			}
			if hubMetric(t, n, "yurthub_pool_leader ") == 1 {
				leader = n
				count++
			}
		}
		if count == 1 {
			return true, nil
		}
		return false, fmt.Errorf("%d hubs lead", count)
	})
	return leader
}

// coordinatorWatches is how many watches a hub serves from the coordinator now.
func coordinatorWatches(t *testing.T, n *framework.EdgeNode) float64 {
	return hubMetric(t, n, "yurthub_pool_coordinator_watches ")
}

// coordinatorRelists is how many lists and watches with the initial state (informer relists)
// a hub served from the coordinator.
func coordinatorRelists(t *testing.T, n *framework.EdgeNode) float64 {
	return hubMetric(t, n, `yurthub_pool_coordinator_requests_total{kind="list"}`) +
		hubMetric(t, n, `yurthub_pool_coordinator_requests_total{kind="watch"}`)
}

// TestPoolSharesOneCloudWatch: three kube-proxies behind three hubs. Without the coordinator
// the cloud serves one endpointslice (and service) watch per node; with it, one per pool —
// the leader's — and every kube-proxy still programs every change. Then the leader is
// SIGKILLed: another hub takes over within the election TTL, and kube-proxy on a follower
// keeps its rules and receives the next change without relisting.
func TestPoolSharesOneCloudWatch(t *testing.T) {
	const ns, pool = "pool-share", "pool-share"
	framework.CreateNamespace(t, ns)
	framework.CreateService(t, ns, "svc-a", "10.244.2.10")
	nodes := newNodes(t, "share", pool, 3)
	base := baseline(t)
	t.Logf("cloud watches before the hubs: %v", base)

	// Without a coordinator: one stream per node.
	for _, n := range nodes {
		n.StartHub()
		n.StartKubeProxy(true)
	}
	for _, n := range nodes {
		n.WaitRules(60*time.Second, "svc-a without the coordinator", has("10.244.2.10"))
	}
	without := waitWatches(t, base, perNode, "without the coordinator")
	t.Logf("cloud watches for the pool WITHOUT the coordinator: %v", without)
	for _, n := range nodes {
		n.StopKubeProxy()
		n.StopHub()
	}
	waitWatches(t, base, map[string]int{"endpointslices": 0, "services": 0}, "after stopping the hubs")

	// With the pool's coordinator.
	c := startCoordinator(t, pool)
	for _, n := range nodes {
		joinCoordinator(t, n, c)
		n.StartHub()
		n.StartKubeProxy(true)
	}
	for _, n := range nodes {
		n.WaitRules(60*time.Second, "svc-a with the coordinator", has("10.244.2.10"))
	}
	with := waitWatches(t, base, perPool, "with the coordinator")
	t.Logf("cloud watches for the pool WITH the coordinator: %v", with)
	for _, n := range nodes {
		// kube-proxy's services and endpointslices watches.
		if v := coordinatorWatches(t, n); v < 2 {
			t.Errorf("hub of %s serves %v watches from the coordinator, want kube-proxy's two", n.Name, v)
		}
	}

	// Changes propagate to every kube-proxy through the coordinator.
	framework.CreateService(t, ns, "svc-b", "10.244.2.11")
	moveEndpoint(t, ns, "svc-a", "10.244.2.12")
	for _, n := range nodes {
		n.WaitRules(60*time.Second, "svc-b added and svc-a moved", hasNot("10.244.2.10", has("10.244.2.11", "10.244.2.12")))
	}
	framework.DeleteService(t, ns, "svc-b")
	for _, n := range nodes {
		n.WaitRules(60*time.Second, "svc-b deleted", hasNot("10.244.2.11", has("10.244.2.12")))
	}

	// Leader failover.
	leader := leaderOf(t, nodes, 30*time.Second)
	var followers []*framework.EdgeNode
	for _, n := range nodes {
		if n != leader {
			followers = append(followers, n)
		}
	}
	f := followers[0]
	endedBefore := hubMetric(t, f, `yurthub_watches_ended_on_source_switch_total{source="coordinator"}`)
	relistsBefore := coordinatorRelists(t, f)
	t.Logf("leader is %s; SIGKILLing its hub", leader.Name)
	leader.StopKubeProxy()
	killed := time.Now()
	framework.KillProcess(t, leader.Hub)
	leader.Hub = nil
	// kube-proxy on the follower keeps its rules all along; the new leader appears within the TTL.
	var next *framework.EdgeNode
	for next == nil {
		if !has("10.244.2.12")(f.IPTablesSave()) {
			t.Fatalf("kube-proxy on %s lost svc-a's rules during the failover", f.Name)
		}
		for _, n := range followers {
			if hubMetric(t, n, "yurthub_pool_leader ") == 1 {
				next = n
			}
		}
		if time.Since(killed) > electionTTL+20*time.Second {
			t.Fatalf("no new leader %s after the leader was killed", time.Since(killed))
		}
		time.Sleep(200 * time.Millisecond)
	}
	takeover := time.Since(killed)
	t.Logf("new leader %s after %s (election TTL %s)", next.Name, takeover.Round(100*time.Millisecond), electionTTL)
	if takeover > 2*electionTTL+2*time.Second {
		t.Errorf("takeover took %s, more than twice the TTL %s", takeover, electionTTL)
	}
	framework.CreateService(t, ns, "svc-c", "10.244.2.13")
	for _, n := range followers {
		n.WaitRules(60*time.Second, "svc-c after the failover", has("10.244.2.12", "10.244.2.13"))
	}
	// No gap: the follower's coordinator watches were never ended, and kube-proxy did not relist.
	if after := hubMetric(t, f, `yurthub_watches_ended_on_source_switch_total{source="coordinator"}`); after != endedBefore {
		t.Errorf("the follower's coordinator watches were ended during the failover (%v → %v)", endedBefore, after)
	}
	if after := coordinatorRelists(t, f); after != relistsBefore {
		t.Errorf("kube-proxy on the follower relisted during the failover (%v → %v)", relistsBefore, after)
	}
	if v := coordinatorWatches(t, f); v < 2 {
		t.Errorf("the follower serves %v watches from the coordinator after the failover, want kube-proxy's two", v)
	}
	waitWatches(t, base, perPool, "after the failover")

	// A follower cut off from the cloud but not from its pool still receives changes: its
	// hub keeps serving kube-proxy from the coordinator, which the leader keeps current.
	f.CutCloud()
	healed := false
	t.Cleanup(func() {
		if !healed {
			f.HealCloud()
		}
	})
	framework.WaitFor(t, 30*time.Second, func() (bool, error) {
		if v := hubMetric(t, f, "yurthub_cloud_healthy "); v != 0 {
			return false, fmt.Errorf("hub of %s still sees the cloud healthy", f.Name)
		}
		return true, nil
	})
	framework.CreateService(t, ns, "svc-d", "10.244.2.14")
	f.WaitRules(60*time.Second, "svc-d on a node cut off from the cloud", has("10.244.2.12", "10.244.2.13", "10.244.2.14"))
	f.HealCloud()
	healed = true
}

// writeGarbage puts a value that is no object under an endpointslice key of the pool, as a
// member with a bad disk or a buggy writer might leave it.
func writeGarbage(t *testing.T, c *localstack.Coordinator, ns, name string) {
	t.Helper()
	o := coordinator.NewOptions()
	o.Endpoints, o.Pool, o.Identity = c.Endpoints, c.Pool, "e2e"
	o.CertFile, o.KeyFile, o.CAFile = c.ClientCertFile, c.ClientKeyFile, c.CAFile
	cli, err := coordinator.New(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	gvr := schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Etcd.Put(ctx, coordinator.ObjectKey(c.Pool, gvr, ns, name), "k8s\x00\x0a\x02garbage"); err != nil {
		t.Fatal(err)
	}
}

func hubAlive(t *testing.T, n *framework.EdgeNode) {
	t.Helper()
	select {
	case <-n.Hub.Done():
		t.Fatalf("yurthub of %s exited: %v\n%s", n.Name, n.Hub.ExitError(), localstack.TailFile(n.Hub.LogFile, 40))
	default:
	}
}

// TestPoolCoordinatorFaults: a coordinator that is down when the hubs start (they serve from
// the cloud, then move to the coordinator when it comes up), a corrupt value in it (skipped,
// logged, counted; the watches go on), and a coordinator SIGKILLed while it serves watches
// (kube-proxy relists from the cloud, keeps its rules, sees later changes; no hub crashes).
func TestPoolCoordinatorFaults(t *testing.T) {
	const ns, pool = "pool-faults", "pool-faults"
	framework.CreateNamespace(t, ns)
	framework.CreateService(t, ns, "svc-a", "10.244.3.10")
	nodes := newNodes(t, "fault", pool, 3)
	base := baseline(t)

	// Down at start: the hubs come up and serve kube-proxy from the cloud.
	c := startCoordinator(t, pool)
	for _, n := range nodes {
		joinCoordinator(t, n, c)
	}
	if err := c.Process.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		n.StartHub()
		n.StartKubeProxy(true)
	}
	for _, n := range nodes {
		n.WaitRules(60*time.Second, "svc-a with the coordinator down", has("10.244.3.10"))
	}
	waitWatches(t, base, perNode, "coordinator down at start")
	for _, n := range nodes {
		if !strings.Contains(localstack.TailFile(n.LogFile("yurthub"), 2000), "Cannot read the pool's sync markers from the coordinator") {
			t.Errorf("hub of %s did not log that the coordinator is unreachable", n.Name)
		}
	}

	// The coordinator comes up: one cloud stream for the pool, kube-proxy served from it.
	c = startCoordinator(t, pool)
	waitWatches(t, base, perPool, "after the coordinator came up")
	for _, n := range nodes {
		framework.WaitFor(t, 30*time.Second, func() (bool, error) {
			v := coordinatorWatches(t, n)
			if v >= 2 {
				return true, nil
			}
			return false, fmt.Errorf("hub of %s serves %v watches from the coordinator", n.Name, v)
		})
	}
	framework.CreateService(t, ns, "svc-b", "10.244.3.11")
	for _, n := range nodes {
		n.WaitRules(60*time.Second, "svc-b through the coordinator", has("10.244.3.10", "10.244.3.11"))
	}

	// A corrupt value: skipped by every hub (watch and a fresh list), counted, logged.
	writeGarbage(t, c, ns, "bogus-1")
	framework.CreateService(t, ns, "svc-c", "10.244.3.12")
	for _, n := range nodes {
		n.WaitRules(60*time.Second, "svc-c after a corrupt value", has("10.244.3.10", "10.244.3.11", "10.244.3.12"))
		hubAlive(t, n)
		if v := hubMetric(t, n, `yurt_coordinator_client_corrupt_values_total{kind="object"}`); v < 1 {
			t.Errorf("hub of %s did not count the corrupt value (%v)", n.Name, v)
		}
		if !strings.Contains(localstack.TailFile(n.LogFile("yurthub"), 2000), "Skipping a coordinator value that cannot be decoded") {
			t.Errorf("hub of %s did not log the corrupt value", n.Name)
		}
	}
	nodes[0].StopKubeProxy()
	nodes[0].StartKubeProxy(true)
	nodes[0].WaitRules(60*time.Second, "a restarted kube-proxy's full list despite the corrupt value", has("10.244.3.10", "10.244.3.11", "10.244.3.12"))

	// Killed mid-watch: the hubs move kube-proxy to the cloud; rules stay; changes arrive.
	endedBefore := make([]float64, len(nodes))
	for i, n := range nodes {
		endedBefore[i] = hubMetric(t, n, `yurthub_watches_ended_on_source_switch_total{source="coordinator"}`)
	}
	framework.KillProcess(t, c.Process)
	killed := time.Now()
	for _, n := range nodes {
		if !has("10.244.3.10", "10.244.3.11", "10.244.3.12")(n.IPTablesSave()) {
			t.Fatalf("kube-proxy of %s lost rules when the coordinator died", n.Name)
		}
	}
	waitWatches(t, base, perNode, "after the coordinator was killed")
	t.Logf("kube-proxies back on the cloud %s after the coordinator was killed", time.Since(killed).Round(100*time.Millisecond))
	for i, n := range nodes {
		if v := hubMetric(t, n, `yurthub_watches_ended_on_source_switch_total{source="coordinator"}`); v <= endedBefore[i] {
			t.Errorf("hub of %s did not end its coordinator watches (%v → %v)", n.Name, endedBefore[i], v)
		}
	}
	framework.DeleteService(t, ns, "svc-b")
	framework.CreateService(t, ns, "svc-d", "10.244.3.13")
	for _, n := range nodes {
		n.WaitRules(60*time.Second, "svc-b deleted and svc-d added from the cloud", hasNot("10.244.3.11", has("10.244.3.10", "10.244.3.12", "10.244.3.13")))
		hubAlive(t, n)
	}
}

// TestPoolScopeMetadata: the NodePool's spec.poolScopeMetadata adds a resource (configmaps)
// to what the leader syncs (read from yurt-apiserver with the node's credentials and the
// hub RBAC of artifacts/deploy); clients of every hub then list and watch it from the
// coordinator, and the cloud serves the pool one configmaps watch.
func TestPoolScopeMetadata(t *testing.T) {
	const ns, pool = "pool-meta", "pool-meta"
	ctx := context.Background()
	if out, err := framework.Kubectl(t, "apply", "-f", framework.RepoPath(t, "artifacts", "deploy", "21-yurthub-rbac.yaml")); err != nil {
		t.Fatalf("applying the hub RBAC: %v\n%s", err, out)
	}
	// Reading an extra pool-scoped resource is the operator's grant to the nodes.
	kube := framework.Clients(t).Kube
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "pool-meta-configmaps"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch"}}}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "pool-meta-configmaps"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "Group", Name: "system:nodes"}}}
	if _, err := kube.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kube.RbacV1().ClusterRoleBindings().Delete(context.Background(), binding.Name, metav1.DeleteOptions{})
		_ = kube.RbacV1().ClusterRoles().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
	})
	yc := framework.Clients(t).Yurt
	np := &appsv1beta2.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: pool},
		Spec: appsv1beta2.NodePoolSpec{Type: appsv1beta2.Edge,
			PoolScopeMetadata: []metav1.GroupVersionResource{{Version: "v1", Resource: "configmaps"}}},
	}
	if _, err := yc.AppsV1beta2().NodePools().Create(ctx, np, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = yc.AppsV1beta2().NodePools().Delete(context.Background(), pool, metav1.DeleteOptions{}) })
	framework.CreateNamespace(t, ns)
	if _, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm-1"}, Data: map[string]string{"k": "1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	base := cloudWatches(t, "configmaps")
	c := startCoordinator(t, pool)
	nodes := newNodes(t, "meta", pool, 2)
	for _, n := range nodes {
		joinCoordinator(t, n, c)
		n.StartHub()
	}
	for _, n := range nodes {
		framework.WaitFor(t, 60*time.Second, func() (bool, error) {
			if v := hubMetric(t, n, `yurthub_pool_resource_fresh{resource="v1/configmaps"}`); v != 1 {
				return false, fmt.Errorf("configmaps are not fresh on %s (%v)", n.Name, v)
			}
			return true, nil
		})
	}
	// Through each hub: a list and a watch served by the coordinator (its resourceVersions).
	for i, n := range nodes {
		hc := n.HubClient("e2e-client/v1", true)
		list, err := hc.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// cm-1 and one configmap per node before this one.
		if len(list.Items) != 1+i || list.Items[0].Data["k"] != "1" || !strings.HasPrefix(list.ResourceVersion, "yurthub-coordinator.") {
			t.Fatalf("configmaps through the hub of %s: rv %q, %+v", n.Name, list.ResourceVersion, list.Items)
		}
		w, err := hc.CoreV1().ConfigMaps(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		name := "cm-" + n.Name
		if _, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-w.ResultChan():
			cm, ok := ev.Object.(*corev1.ConfigMap)
			if !ok || ev.Type != "ADDED" || cm.Name != name || !strings.HasPrefix(cm.ResourceVersion, "yurthub-coordinator.") {
				t.Fatalf("watch through the hub of %s: %s %#v", n.Name, ev.Type, ev.Object)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no event through the hub of %s", n.Name)
		}
		w.Stop()
	}
	// The cloud serves the pool's configmaps to the leader only (clients' watches are open).
	for _, n := range nodes {
		hc := n.HubClient("e2e-client/v1", false)
		w, err := hc.CoreV1().ConfigMaps("").Watch(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
	}
	framework.WaitFor(t, 30*time.Second, func() (bool, error) {
		if got := cloudWatches(t, "configmaps") - base; got != 1 {
			return false, fmt.Errorf("cloud configmaps watches above baseline: %d, want 1", got)
		}
		return true, nil
	})
	t.Logf("cloud configmaps watches for the pool: 1 (two hub clients watching through the coordinator)")
}
