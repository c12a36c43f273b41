package framework

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/yurt-edge/yurt/pkg/localstack"
)

// MaxEdgeNodes is how many edge nodes a test package may have at once.
const MaxEdgeNodes = 24

var (
	edgeMu    sync.Mutex
	edgeInUse = map[int]bool{}
)

// edgeSubnet is slot i's /30 for this process: 10.<231+i/63>.<pid>.<4*(i%63)>, so concurrent
// test processes on one machine do not collide.
func edgeSubnet(i int) (subnet, hostIP string) {
	third := os.Getpid()%200 + 20
	second, fourth := 231+i/63, 4*(i%63)
	return fmt.Sprintf("10.%d.%d.%d/30", second, third, fourth), fmt.Sprintf("10.%d.%d.%d", second, third, fourth+1)
}

// EdgeServingSANs are the host ends of every edge-node slot: pass them as the stack's
// ExtraServingSANs so hubs can reach kube-apiserver (through a forwarder) by that address.
func EdgeServingSANs() []string {
	out := make([]string, MaxEdgeNodes)
	for i := range out {
		_, out[i] = edgeSubnet(i)
	}
	return out
}

// CleanupEdgeNamespaces removes namespaces a crashed earlier run of this process id left; call from TestMain.
func CleanupEdgeNamespaces() {
	for i := 0; i < MaxEdgeNodes; i++ {
		name := edgeNSName(i)
		ns := &localstack.NetNS{Name: name, HostIF: name + "-h"}
		_ = ns.Delete(context.Background())
	}
}

func edgeNSName(i int) string { return fmt.Sprintf("ye%d-%d", os.Getpid()%100000, i) }

// EdgeNodeOptions shape a new edge node.
type EdgeNodeOptions struct {
	// Pool labels the Node apps.openyurt.io/nodepool=<Pool> and is passed to its hub as --nodepool.
	Pool string
	// Labels are extra Node labels.
	Labels map[string]string
	// NoNodeObject skips creating the Node (a hollow kubelet registers it itself).
	NoNodeObject bool
}

// EdgeNode is one edge node in an end-to-end test: a network namespace joined to the host by
// a veth pair, a forwarder from the host end to kube-apiserver, the node's client certificate
// (system:node:<name>) and its Node object, and — once started — bin/yurthub and the real
// kube-proxy inside the namespace. Everything is removed when the test ends. Needs root.
type EdgeNode struct {
	T    *testing.T
	Name string
	Pool string
	// Dir holds the node's credentials, the hub's cache and kubeconfigs.
	Dir string
	NS  *localstack.NetNS
	// CloudFwd forwards the namespace's view of the cloud (NS.HostIP:port) to kube-apiserver.
	CloudFwd *localstack.TCPForwarder
	// HubArgs are appended to every StartHub (coordinator flags, say).
	HubArgs   []string
	Hub       *localstack.Process
	KubeProxy *localstack.Process

	slot int
}

// NewEdgeNode creates an edge node; see EdgeNode.
func NewEdgeNode(t *testing.T, name string, opts EdgeNodeOptions) *EdgeNode {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("edge nodes need root for network namespaces and iptables")
	}
	for _, bin := range []string{"ip", "iptables", "iptables-save"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not on PATH (install iproute2 and iptables)", bin)
		}
	}
	slot := -1
	edgeMu.Lock()
	for i := 0; i < MaxEdgeNodes; i++ {
		if !edgeInUse[i] {
			slot, edgeInUse[i] = i, true
			break
		}
	}
	edgeMu.Unlock()
	if slot < 0 {
		t.Fatalf("more than %d edge nodes at once", MaxEdgeNodes)
	}
	stack := Stack(t)
	ctx := context.Background()
	n := &EdgeNode{T: t, Name: name, Pool: opts.Pool, Dir: t.TempDir(), slot: slot}
	subnet, _ := edgeSubnet(slot)
	ns, err := localstack.CreateNetNS(ctx, edgeNSName(slot), subnet)
	if err != nil {
		edgeMu.Lock()
		delete(edgeInUse, slot)
		edgeMu.Unlock()
		t.Fatal(err)
	}
	n.NS = ns
	t.Cleanup(func() {
		n.StopKubeProxy()
		n.StopHub()
		if err := ns.Delete(context.Background()); err != nil {
			t.Errorf("deleting namespace %s: %v", ns.Name, err)
		}
		edgeMu.Lock()
		delete(edgeInUse, slot)
		edgeMu.Unlock()
	})
	apiURL, _ := url.Parse(stack.KubeAPIServerURL)
	n.CloudFwd = n.Forward(apiURL.Host)

	cert, err := stack.PKI.NewClientCert("system:node:"+name, []string{"system:nodes"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.Write(filepath.Join(n.Dir, "node.crt"), filepath.Join(n.Dir, "node.key")); err != nil {
		t.Fatal(err)
	}
	kc := `apiVersion: v1
kind: Config
clusters: [{name: hub, cluster: {server: "http://127.0.0.1:10261"}}]
contexts: [{name: hub, context: {cluster: hub}}]
current-context: hub
`
	if err := os.WriteFile(n.HubKubeconfig(), []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}

	client := Clients(t).Kube
	// kube-proxy's requests reach the cloud as the node (the hub's credentials), so nodes
	// need kube-proxy's permissions, as with OpenYurt.
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "yurthub-e2e-node-proxier"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:node-proxier"},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "Group", Name: "system:nodes"}},
	}
	if _, err := client.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if opts.NoNodeObject {
		return n
	}
	labels := map[string]string{"kubernetes.io/hostname": name}
	if opts.Pool != "" {
		labels["apps.openyurt.io/nodepool"] = opts.Pool
	}
	for k, v := range opts.Labels {
		labels[k] = v
	}
	nodeObj := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: ns.NSIP}, {Type: corev1.NodeHostName, Address: name},
		}},
	}
	if _, err := client.CoreV1().Nodes().Create(ctx, nodeObj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return n
}

// Forward starts a forwarder on the host end of the veth to target (host:port) and returns
// the address the namespace reaches it at. It is closed when the test ends.
func (n *EdgeNode) Forward(target string) *localstack.TCPForwarder {
	n.T.Helper()
	f, err := localstack.Forward(net.JoinHostPort(n.NS.HostIP, "0"), target)
	if err != nil {
		n.T.Fatal(err)
	}
	n.T.Cleanup(func() { _ = f.Close() })
	return f
}

// HubKubeconfig is a kubeconfig for the hub's proxy (what kube-proxy and kubelet use).
func (n *EdgeNode) HubKubeconfig() string { return filepath.Join(n.Dir, "hub.kubeconfig") }

// CloudURL is the cloud as the node sees it.
func (n *EdgeNode) CloudURL() string { return "https://" + n.CloudFwd.Addr() }

// CutCloud drops the node's traffic to the cloud only; HealCloud undoes it.
func (n *EdgeNode) CutCloud() {
	n.T.Helper()
	_, port, _ := net.SplitHostPort(n.CloudFwd.Addr())
	if err := n.NS.CutPort(context.Background(), port); err != nil {
		n.T.Fatal(err)
	}
}

// HealCloud undoes CutCloud.
func (n *EdgeNode) HealCloud() {
	n.T.Helper()
	_, port, _ := net.SplitHostPort(n.CloudFwd.Addr())
	if err := n.NS.HealPort(context.Background(), port); err != nil {
		n.T.Fatal(err)
	}
}

// LogFile is where a component of this node logs.
func (n *EdgeNode) LogFile(component string) string {
	return filepath.Join(Stack(n.T).Dir, "logs", n.Name+"-"+component+".log")
}

// StartHub starts bin/yurthub in the namespace with the node's client certificate, HubArgs
// and extra, and waits for its /readyz.
func (n *EdgeNode) StartHub(extra ...string) {
	n.T.Helper()
	creds := []string{"--client-certificate=" + filepath.Join(n.Dir, "node.crt"), "--client-key=" + filepath.Join(n.Dir, "node.key")}
	n.StartHubWith(append(creds, extra...)...)
}

// StartHubWith starts the hub with exactly these credential (and other) flags plus HubArgs.
func (n *EdgeNode) StartHubWith(flags ...string) {
	t := n.T
	t.Helper()
	stack := Stack(t)
	bin := RepoPath(t, "bin", "yurthub")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing (build it with make build)", bin)
	}
	args := []string{"netns", "exec", n.NS.Name, bin,
		"--server-addr=" + n.CloudURL(),
		"--node-name=" + n.Name,
		"--certificate-authority=" + stack.PKI.CA.CertFile,
		"--cache-dir=" + filepath.Join(n.Dir, "cache"),
		"--heartbeat-interval=1s", "--heartbeat-timeout=1s", "--heartbeat-healthy-threshold=2",
		"--heartbeat-failed-retry=2", "--heartbeat-max-backoff=2s",
		"-v=4",
	}
	if n.Pool != "" {
		args = append(args, "--nodepool="+n.Pool)
	}
	args = append(args, n.HubArgs...)
	args = append(args, flags...)
	proc, err := localstack.StartProcess("yurthub", "ip", args, n.LogFile("yurthub"))
	if err != nil {
		t.Fatal(err)
	}
	n.Hub = proc
	WaitFor(t, 60*time.Second, func() (bool, error) {
		select {
		case <-proc.Done():
			t.Fatalf("yurthub of %s exited: %v\n%s", n.Name, proc.ExitError(), localstack.TailFile(proc.LogFile, 30))
		default:
		}
		body, err := n.HubGet("/readyz")
		return err == nil && strings.HasPrefix(body, "ok"), err
	})
}

// StopHub stops the hub (SIGTERM, then SIGKILL after 10s).
func (n *EdgeNode) StopHub() {
	if n.Hub != nil {
		if err := n.Hub.Stop(10 * time.Second); err != nil {
			n.T.Errorf("stopping yurthub of %s: %v", n.Name, err)
		}
		n.Hub = nil
	}
}

// KillHub SIGKILLs the hub, as a crash would, and waits until it is gone.
func (n *EdgeNode) KillHub() {
	n.T.Helper()
	if n.Hub != nil {
		KillProcess(n.T, n.Hub)
		n.Hub = nil
	}
}

// HTTPClient reaches servers on the namespace's loopback.
func (n *EdgeNode) HTTPClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: n.NS.DialContext, DisableKeepAlives: true}}
}

// HubGet fetches a path from the hub's own server (127.0.0.1:10267 in the namespace).
func (n *EdgeNode) HubGet(path string) (string, error) {
	resp, err := n.HTTPClient().Get("http://127.0.0.1:10267" + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
	}
	return string(body), err
}

// HubConfig is a client configuration for the hub's proxy, as a given component.
func (n *EdgeNode) HubConfig(userAgent string, protobuf bool) *rest.Config {
	cfg := &rest.Config{Host: "http://127.0.0.1:10261", UserAgent: userAgent, Dial: n.NS.DialContext, Timeout: 15 * time.Second}
	if protobuf {
		cfg.ContentType = "application/vnd.kubernetes.protobuf"
		cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	}
	return cfg
}

// HubClient is a clientset for the hub's proxy, as a given component.
func (n *EdgeNode) HubClient(userAgent string, protobuf bool) kubernetes.Interface {
	c, err := kubernetes.NewForConfig(n.HubConfig(userAgent, protobuf))
	if err != nil {
		n.T.Fatal(err)
	}
	return c
}

// StartKubeProxy starts the real kube-proxy in the namespace, talking to the hub. With clean
// it first removes every rule an earlier kube-proxy left, so rules seen afterwards were
// programmed by this one from the data it received.
func (n *EdgeNode) StartKubeProxy(clean bool) {
	t := n.T
	t.Helper()
	bin := filepath.Join(RepoPath(t, "bin", "kube"), "kube-proxy")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing (build it with make kube-binaries)", bin)
	}
	if clean {
		if out, err := n.NS.Run(context.Background(), bin, "--cleanup", "--v=1"); err != nil {
			t.Logf("kube-proxy --cleanup: %v\n%s", err, out)
		}
		if rules := n.IPTablesSave(); strings.Contains(rules, "KUBE-SVC-") {
			t.Fatalf("kube-proxy --cleanup left service rules:\n%s", rules)
		}
	}
	args := []string{"netns", "exec", n.NS.Name, bin,
		"--kubeconfig=" + n.HubKubeconfig(),
		"--hostname-override=" + n.Name,
		"--proxy-mode=iptables",
		"--cluster-cidr=10.244.0.0/16",
		"--healthz-bind-address=127.0.0.1:10256",
		"--metrics-bind-address=127.0.0.1:10249",
		"--conntrack-max-per-core=0", "--conntrack-min=0",
		"--conntrack-tcp-timeout-established=0", "--conntrack-tcp-timeout-close-wait=0",
		"--v=2",
	}
	proc, err := localstack.StartProcess("kube-proxy", "ip", args, n.LogFile("kube-proxy"))
	if err != nil {
		t.Fatal(err)
	}
	n.KubeProxy = proc
}

// StopKubeProxy stops kube-proxy (its rules stay).
func (n *EdgeNode) StopKubeProxy() {
	if n.KubeProxy != nil {
		if err := n.KubeProxy.Stop(10 * time.Second); err != nil {
			n.T.Errorf("stopping kube-proxy of %s: %v", n.Name, err)
		}
		n.KubeProxy = nil
	}
}

// IPTablesSave is iptables-save in the namespace.
func (n *EdgeNode) IPTablesSave() string {
	out, err := n.NS.Run(context.Background(), "iptables-save")
	if err != nil {
		n.T.Fatal(err)
	}
	return out
}

// WaitRules waits until iptables-save in the namespace satisfies cond.
func (n *EdgeNode) WaitRules(timeout time.Duration, what string, cond func(rules string) bool) {
	n.T.Helper()
	deadline := time.Now().Add(timeout)
	for {
		rules := n.IPTablesSave()
		if cond(rules) {
			return
		}
		if n.KubeProxy != nil {
			select {
			case <-n.KubeProxy.Done():
				n.T.Fatalf("kube-proxy of %s exited: %v\n%s", n.Name, n.KubeProxy.ExitError(), localstack.TailFile(n.KubeProxy.LogFile, 40))
			default:
			}
		}
		if time.Now().After(deadline) {
			n.T.Fatalf("iptables in %s: %s not seen within %s\n--- rules ---\n%s\n--- kube-proxy log ---\n%s\n--- yurthub log ---\n%s",
				n.Name, what, timeout, rules, localstack.TailFile(n.LogFile("kube-proxy"), 40), localstack.TailFile(n.LogFile("yurthub"), 40))
		}
		time.Sleep(500 * time.Millisecond)
	}
}
