package appset

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"

	"github.com/yurt-edge/yurt/pkg/controller/daemonupgrade"
	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

func daemonSet(name, strategy string) *appsv1.DaemonSet {
	lbls := map[string]string{"app": name}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{
			daemonupgrade.UpdateStrategyAnnotation: strategy,
			daemonupgrade.MaxUnavailableAnnotation: "1",
		}},
		Spec: appsv1.DaemonSetSpec{
			Selector:       &metav1.LabelSelector{MatchLabels: lbls},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbls},
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken: new(bool),
					Containers:                   []corev1.Container{{Name: "agent", Image: pauseImage}},
				},
			},
		},
	}
}

// podsByNode lists the DaemonSet's pods that are not being deleted, keyed by node.
func podsByNode(t *testing.T, ns, app string) map[string]corev1.Pod {
	t.Helper()
	list, err := framework.Clients(t).Kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: labels.Set{"app": app}.String()})
	if err != nil {
		t.Logf("listing pods: %v", err)
		return nil
	}
	out := map[string]corev1.Pod{}
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && p.Spec.NodeName != "" {
			out[p.Spec.NodeName] = p
		}
	}
	return out
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podCondition(p corev1.Pod, ct corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == ct {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// waitAllAt waits until every hollow node in nodes runs a Ready pod of app at revision hash
// (any revision when hash is "") and returns the pods.
func waitAllAt(t *testing.T, ns, app, hash string, nodes ...string) map[string]corev1.Pod {
	t.Helper()
	var pods map[string]corev1.Pod
	framework.WaitFor(t, 2*waitTimeout, func() (bool, error) {
		pods = podsByNode(t, ns, app)
		for _, n := range nodes {
			p, ok := pods[n]
			if !ok || !podReady(p) || (hash != "" && p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] != hash) {
				return false, nil
			}
		}
		return true, nil
	})
	return pods
}

// watchUnavailable follows app's pods with an informer and returns a function giving the
// largest number of nodes seen at once without a Ready, non-terminating pod.
func watchUnavailable(t *testing.T, ns, app string, nodes ...string) func() int {
	t.Helper()
	factory := informers.NewSharedInformerFactoryWithOptions(framework.Clients(t).Kube, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = "app=" + app }))
	inf := factory.Core().V1().Pods().Informer()
	var mu sync.Mutex
	worst := 0
	recount := func() {
		available := map[string]bool{}
		for _, obj := range inf.GetStore().List() {
			p := obj.(*corev1.Pod)
			if p.DeletionTimestamp == nil && podReady(*p) {
				available[p.Spec.NodeName] = true
			}
		}
		n := 0
		for _, node := range nodes {
			if !available[node] {
				n++
			}
		}
		mu.Lock()
		worst = max(worst, n)
		mu.Unlock()
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { recount() }, UpdateFunc: func(any, any) { recount() }, DeleteFunc: func(any) { recount() },
	})
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	factory.Start(stop)
	factory.WaitForCacheSync(stop)
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return worst
	}
}

func setEnv(t *testing.T, ns, name, value string) {
	t.Helper()
	daemons := framework.Clients(t).Kube.AppsV1().DaemonSets(ns)
	// kube-controller-manager writes the DaemonSet's status concurrently.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ds, err := daemons.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		ds.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "VERSION", Value: value}}
		_, err = daemons.Update(context.Background(), ds, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatalf("updating DaemonSet %s/%s: %v", ns, name, err)
	}
}

// TestAdvancedRollingUpdate: with one node NotReady, a template change upgrades the pods on
// the Ready nodes (kube-controller-manager recreates the deleted pods at the new revision)
// and leaves the NotReady node's pod alone; when that node returns, its pod is upgraded too.
func TestAdvancedRollingUpdate(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	kube := framework.Clients(t).Kube
	const ns = "e2e-aru"
	framework.CreateNamespace(t, ns)
	nodes := []string{"e2e-hn-a", "e2e-hn-b", "e2e-hn-c"}
	if _, err := kube.AppsV1().DaemonSets(ns).Create(ctx, daemonSet("agent", daemonupgrade.AdvancedRollingUpdate), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := waitAllAt(t, ns, "agent", "", nodes...)
	oldHash := before["e2e-hn-a"].Labels[appsv1.DefaultDaemonSetUniqueLabelKey]

	// e2e-hn-c stops heartbeating.
	const down = "e2e-hn-c"
	if err := e.nodes[down].Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, nodeMonitorGracePeriod+waitTimeout, func() (bool, error) {
		n, err := kube.CoreV1().Nodes().Get(ctx, down, metav1.GetOptions{})
		return err == nil && !localstack.NodeReady(n), err
	})

	// Watch the pods through the upgrade: at no point may both Ready nodes be without a
	// Ready pod (max-unavailable 1).
	worst := watchUnavailable(t, ns, "agent", "e2e-hn-a", "e2e-hn-b")
	setEnv(t, ns, "agent", "2")
	var newHash string
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		revs, err := kube.AppsV1().ControllerRevisions(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=agent"})
		if err != nil {
			return false, err
		}
		var newest int64
		for _, r := range revs.Items {
			if r.Revision > newest {
				newest, newHash = r.Revision, r.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
			}
		}
		return newest == 2, nil
	})
	pods := waitAllAt(t, ns, "agent", newHash, "e2e-hn-a", "e2e-hn-b")
	if w := worst(); w > 1 {
		t.Errorf("%d Ready nodes were without a Ready pod at once; max-unavailable is 1", w)
	}
	if p := pods[down]; p.UID != before[down].UID || p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] != oldHash {
		t.Fatalf("the pod on the NotReady node was touched: %s %v", p.UID, p.Labels)
	}
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		evs := eventsOf(t, ns, "DaemonSet", "agent")[daemonupgrade.ReasonWaitingForNodes]
		return len(evs) > 0 && strings.Contains(evs[0].Message, down), nil
	})
	// The budget is one pod at a time.
	for _, ev := range eventsOf(t, ns, "DaemonSet", "agent")[daemonupgrade.ReasonUpgrading] {
		if !strings.HasPrefix(ev.Message, "deleted 1 old pods") {
			t.Errorf("more than max-unavailable=1 pods deleted at once: %s", ev.Message)
		}
	}
	if p := podsByNode(t, ns, "agent")[down]; p.UID != before[down].UID {
		t.Fatalf("the pod on the NotReady node was deleted")
	}

	// The node returns: its pod is upgraded.
	n, err := e.stack.StartHollowNode(ctx, localstack.HollowNodeOptions{Name: down, Pool: hollowPools[down], WaitReady: true})
	if err != nil {
		t.Fatal(err)
	}
	e.nodes[down] = n
	waitAllAt(t, ns, "agent", newHash, nodes...)
}

// TestOTA: on an OTA DaemonSet every pod carries PodNeedUpgrade (False at the newest
// revision, True after a template change, nothing deleted by the controller); the hub of
// node e2e-hn-a lists its node's pods, refuses to upgrade another node's pod, and upgrades
// its own, after which the new pod says False and a second upgrade is refused. The hub runs
// in a network namespace; with its link to the cloud cut (iptables DROP) both endpoints
// answer 503, and once healed the upgrade goes through.
func TestOTA(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	kube := framework.Clients(t).Kube
	const ns = "e2e-ota"
	framework.CreateNamespace(t, ns)
	nodes := []string{"e2e-hn-a", "e2e-hn-b"}
	if _, err := kube.AppsV1().DaemonSets(ns).Create(ctx, daemonSet("ota", "ota"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitCondition := func(status corev1.ConditionStatus) map[string]corev1.Pod {
		t.Helper()
		var pods map[string]corev1.Pod
		framework.WaitFor(t, 2*waitTimeout, func() (bool, error) {
			pods = podsByNode(t, ns, "ota")
			for _, n := range nodes {
				c := podCondition(pods[n], daemonupgrade.PodNeedUpgrade)
				if c == nil || c.Status != status || !podReady(pods[n]) {
					return false, nil
				}
			}
			return true, nil
		})
		return pods
	}
	before := waitCondition(corev1.ConditionFalse)
	setEnv(t, ns, "ota", "2")
	old := waitCondition(corev1.ConditionTrue)
	for _, n := range nodes {
		if old[n].UID != before[n].UID {
			t.Fatalf("the OTA controller deleted the pod on %s", n)
		}
	}

	hub := startHub(t, e, "e2e-hn-a")
	code, body := hub.do(t, "GET", "/pods")
	var list corev1.PodList
	if err := json.Unmarshal([]byte(body), &list); code != 200 || err != nil {
		t.Fatalf("GET /pods: %d %v %s", code, err, body)
	}
	for _, p := range list.Items {
		if p.Spec.NodeName != "e2e-hn-a" {
			t.Errorf("GET /pods returned pod %s/%s of node %s", p.Namespace, p.Name, p.Spec.NodeName)
		}
	}
	upgrade := func(p corev1.Pod) (int, string) {
		return hub.do(t, "POST", fmt.Sprintf("/openyurt.io/v1/namespaces/%s/pods/%s/upgrade", p.Namespace, p.Name))
	}
	if code, body := upgrade(old["e2e-hn-b"]); code != http.StatusForbidden || !strings.Contains(body, "not bound to this node \"e2e-hn-a\"") {
		t.Errorf("upgrading another node's pod: %d %s", code, body)
	}
	if code, body := upgrade(old["e2e-hn-a"]); code != http.StatusOK {
		t.Fatalf("upgrading this node's pod: %d %s", code, body)
	}
	var fresh corev1.Pod
	framework.WaitFor(t, 2*waitTimeout, func() (bool, error) {
		fresh = podsByNode(t, ns, "ota")["e2e-hn-a"]
		c := podCondition(fresh, daemonupgrade.PodNeedUpgrade)
		return fresh.UID != old["e2e-hn-a"].UID && c != nil && c.Status == corev1.ConditionFalse && podReady(fresh), nil
	})
	if code, body := upgrade(fresh); code != http.StatusForbidden || !strings.Contains(body, "PodNeedUpgrade") {
		t.Errorf("upgrading an up-to-date pod: %d %s", code, body)
	}
	if p := podsByNode(t, ns, "ota")["e2e-hn-b"]; p.UID != old["e2e-hn-b"].UID {
		t.Errorf("the pod on e2e-hn-b was upgraded without being asked")
	}

	// The node loses the cloud: the hub answers 503 instead of acting on stale data.
	setEnv(t, ns, "ota", "3")
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		c := podCondition(podsByNode(t, ns, "ota")["e2e-hn-a"], daemonupgrade.PodNeedUpgrade)
		return c != nil && c.Status == corev1.ConditionTrue, nil
	})
	if err := hub.ns.Cut(ctx); err != nil {
		t.Fatal(err)
	}
	hub.waitReadyz(t, "cloud unreachable")
	target := podsByNode(t, ns, "ota")["e2e-hn-a"]
	if code, body := upgrade(target); code != http.StatusServiceUnavailable {
		t.Errorf("upgrade while the cloud is unreachable: %d %s", code, body)
	}
	if code, body := hub.do(t, "GET", "/pods"); code != http.StatusServiceUnavailable {
		t.Errorf("GET /pods while the cloud is unreachable: %d %s", code, body)
	}
	if err := hub.ns.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	hub.waitReadyz(t, "cloud healthy")
	if code, body := upgrade(target); code != http.StatusOK {
		t.Errorf("upgrade once the cloud is back: %d %s", code, body)
	}
}

type hubProc struct {
	ns   *localstack.NetNS
	addr string // the hub's server port on the namespace's loopback
	proc *localstack.Process
}

func (h hubProc) client(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: h.ns.DialContext, DisableKeepAlives: true}}
}

func (h hubProc) do(t *testing.T, method, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+h.addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h.client(20 * time.Second).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// startHub runs bin/yurthub for node in a network namespace of its own, with the hollow
// node's credentials, reaching kube-apiserver through a forwarder on the veth's host end (so
// an iptables DROP inside the namespace cuts it off), and waits until it finds the cloud
// healthy.
func startHub(t *testing.T, e *environment, node string) hubProc {
	t.Helper()
	ctx := context.Background()
	bin := framework.RepoPath(t, "bin", "yurthub")
	ns, err := localstack.CreateNetNS(ctx, netnsName(), subnet)
	if err != nil {
		t.Fatalf("creating the hub's network namespace (needs root and ip): %v", err)
	}
	t.Cleanup(func() {
		if err := ns.Delete(context.Background()); err != nil {
			t.Errorf("deleting the network namespace: %v", err)
		}
	})
	apiURL, err := url.Parse(e.stack.KubeAPIServerURL)
	if err != nil {
		t.Fatal(err)
	}
	fwd, err := localstack.Forward(net.JoinHostPort(ns.HostIP, "0"), apiURL.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fwd.Close() })
	const serverAddr = "127.0.0.1:10267"
	args := []string{"netns", "exec", ns.Name, bin,
		"--kubeconfig=" + e.nodes[node].Kubeconfig,
		"--server-addr=https://" + fwd.Addr(),
		"--node-name=" + node,
		"--cache-dir=" + filepath.Join(t.TempDir(), "cache"),
		"--proxy-address=127.0.0.1:10261",
		"--server-address=" + serverAddr,
		"--heartbeat-interval=1s", "--heartbeat-timeout=1s", "--heartbeat-healthy-threshold=2",
		"--heartbeat-failed-retry=2", "--heartbeat-max-backoff=2s",
	}
	proc, err := localstack.StartProcess("yurthub-"+node, "ip", args, e.stack.LogFile("yurthub-"+node))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := proc.Stop(10 * time.Second); err != nil {
			t.Errorf("stopping yurthub: %v", err)
		}
	})
	h := hubProc{ns: ns, addr: serverAddr, proc: proc}
	h.waitReadyz(t, "cloud healthy")
	return h
}

// waitReadyz waits until the hub's /readyz answers 200 with a body containing want.
func (h hubProc) waitReadyz(t *testing.T, want string) {
	t.Helper()
	framework.WaitFor(t, 60*time.Second, func() (bool, error) {
		select {
		case <-h.proc.Done():
			t.Fatalf("yurthub exited: %v\n%s", h.proc.ExitError(), localstack.TailFile(h.proc.LogFile, 30))
		default:
		}
		resp, err := h.client(5 * time.Second).Get("http://" + h.addr + "/readyz")
		if err != nil {
			return false, err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 200 && strings.Contains(string(b), want), nil
	})
}
