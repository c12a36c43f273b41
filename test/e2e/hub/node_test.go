package hub

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
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

// node is one edge node: a namespace, the node's credentials, a hub and (when started) kube-proxy.
type node struct {
	t         *testing.T
	name      string
	dir       string
	ns        *localstack.NetNS
	fwd       *localstack.TCPForwarder
	hub       *localstack.Process
	kubeProxy *localstack.Process
}

// newNode creates the namespace, a forwarder from the host end of its veth to kube-apiserver,
// the node's client certificate (system:node:<name>) and its Node object with the namespace's
// address as InternalIP. Everything is removed when the test ends.
func newNode(t *testing.T, name string) *node {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("these tests need root for network namespaces and iptables")
	}
	for _, bin := range []string{"ip", "iptables", "iptables-save"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not on PATH (install iproute2 and iptables)", bin)
		}
	}
	stack := framework.Stack(t)
	ctx := context.Background()
	n := &node{t: t, name: name, dir: t.TempDir()}
	ns, err := localstack.CreateNetNS(ctx, netnsName(), subnet)
	if err != nil {
		t.Fatal(err)
	}
	n.ns = ns
	t.Cleanup(func() {
		n.stopKubeProxy()
		n.stopHub()
		if err := ns.Delete(context.Background()); err != nil {
			t.Errorf("deleting the namespace: %v", err)
		}
	})
	apiURL, _ := url.Parse(stack.KubeAPIServerURL)
	if n.fwd, err = localstack.Forward(net.JoinHostPort(ns.HostIP, "0"), apiURL.Host); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.fwd.Close() })

	cert, err := stack.PKI.NewClientCert("system:node:"+name, []string{"system:nodes"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.Write(filepath.Join(n.dir, "node.crt"), filepath.Join(n.dir, "node.key")); err != nil {
		t.Fatal(err)
	}
	kc := `apiVersion: v1
kind: Config
clusters: [{name: hub, cluster: {server: "http://127.0.0.1:10261"}}]
contexts: [{name: hub, context: {cluster: hub}}]
current-context: hub
`
	if err := os.WriteFile(n.hubKubeconfig(), []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}

	client := framework.Clients(t).Kube
	// kube-proxy's requests reach the cloud as the node (the hub's credentials), so the node
	// needs kube-proxy's permissions, as with OpenYurt.
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "yurthub-e2e-node-proxier"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:node-proxier"},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "Group", Name: "system:nodes"}},
	}
	if _, err := client.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	nodeObj := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
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

func (n *node) hubKubeconfig() string { return filepath.Join(n.dir, "hub.kubeconfig") }

func (n *node) cloudURL() string { return "https://" + n.fwd.Addr() }

func (n *node) logFile(component string) string {
	return filepath.Join(framework.Stack(n.t).Dir, "logs", n.name+"-"+component+".log")
}

// startHub starts bin/yurthub inside the namespace with the node's client certificate and
// waits for its /readyz.
func (n *node) startHub() {
	n.t.Helper()
	n.startHubWith("--client-certificate="+filepath.Join(n.dir, "node.crt"), "--client-key="+filepath.Join(n.dir, "node.key"))
}

// startHubWith starts the hub with the given credential flags.
func (n *node) startHubWith(credentials ...string) {
	t := n.t
	t.Helper()
	stack := framework.Stack(t)
	bin := framework.RepoPath(t, "bin", "yurthub")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing (build it with make build)", bin)
	}
	args := []string{"netns", "exec", n.ns.Name, bin,
		"--server-addr=" + n.cloudURL(),
		"--node-name=" + n.name,
		"--certificate-authority=" + stack.PKI.CA.CertFile,
		"--cache-dir=" + filepath.Join(n.dir, "cache"),
		"--heartbeat-interval=1s", "--heartbeat-timeout=1s", "--heartbeat-healthy-threshold=2",
		"--heartbeat-failed-retry=2", "--heartbeat-max-backoff=2s",
		"-v=4",
	}
	args = append(args, credentials...)
	proc, err := localstack.StartProcess("yurthub", "ip", args, n.logFile("yurthub"))
	if err != nil {
		t.Fatal(err)
	}
	n.hub = proc
	framework.WaitFor(t, 60*time.Second, func() (bool, error) {
		select {
		case <-proc.Done():
			t.Fatalf("yurthub exited: %v\n%s", proc.ExitError(), localstack.TailFile(proc.LogFile, 30))
		default:
		}
		body, err := n.hubGet("/readyz")
		return err == nil && strings.HasPrefix(body, "ok"), err
	})
}

func (n *node) stopHub() {
	if n.hub != nil {
		if err := n.hub.Stop(10 * time.Second); err != nil {
			n.t.Errorf("stopping yurthub: %v", err)
		}
		n.hub = nil
	}
}

// httpClient reaches servers on the namespace's loopback.
func (n *node) httpClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: n.ns.DialContext, DisableKeepAlives: true}}
}

// hubGet fetches a path from the hub's own server (127.0.0.1:10267 in the namespace).
func (n *node) hubGet(path string) (string, error) {
	resp, err := n.httpClient().Get("http://127.0.0.1:10267" + path)
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

// hubConfig is a client configuration for the hub's proxy, as a given component.
func (n *node) hubConfig(userAgent string, protobuf bool) *rest.Config {
	cfg := &rest.Config{Host: "http://127.0.0.1:10261", UserAgent: userAgent, Dial: n.ns.DialContext, Timeout: 15 * time.Second}
	if protobuf {
		cfg.ContentType = "application/vnd.kubernetes.protobuf"
		cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	}
	return cfg
}

func (n *node) hubClient(userAgent string, protobuf bool) kubernetes.Interface {
	c, err := kubernetes.NewForConfig(n.hubConfig(userAgent, protobuf))
	if err != nil {
		n.t.Fatal(err)
	}
	return c
}

// startKubeProxy starts the real kube-proxy inside the namespace, talking to the hub. With
// clean it first removes every rule an earlier kube-proxy left, so rules seen afterwards were
// programmed by this one from the data it received.
func (n *node) startKubeProxy(clean bool) {
	t := n.t
	t.Helper()
	bin := filepath.Join(framework.RepoPath(t, "bin", "kube"), "kube-proxy")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing (build it with make kube-binaries)", bin)
	}
	if clean {
		if out, err := n.ns.Run(context.Background(), bin, "--cleanup", "--v=1"); err != nil {
			t.Logf("kube-proxy --cleanup: %v\n%s", err, out)
		}
		if rules := n.iptablesSave(); strings.Contains(rules, "KUBE-SVC-") {
			t.Fatalf("kube-proxy --cleanup left service rules:\n%s", rules)
		}
	}
	args := []string{"netns", "exec", n.ns.Name, bin,
		"--kubeconfig=" + n.hubKubeconfig(),
		"--hostname-override=" + n.name,
		"--proxy-mode=iptables",
		"--cluster-cidr=10.244.0.0/16",
		"--healthz-bind-address=127.0.0.1:10256",
		"--metrics-bind-address=127.0.0.1:10249",
		"--conntrack-max-per-core=0", "--conntrack-min=0",
		"--conntrack-tcp-timeout-established=0", "--conntrack-tcp-timeout-close-wait=0",
		"--v=2",
	}
	proc, err := localstack.StartProcess("kube-proxy", "ip", args, n.logFile("kube-proxy"))
	if err != nil {
		t.Fatal(err)
	}
	n.kubeProxy = proc
}

func (n *node) stopKubeProxy() {
	if n.kubeProxy != nil {
		if err := n.kubeProxy.Stop(10 * time.Second); err != nil {
			n.t.Errorf("stopping kube-proxy: %v", err)
		}
		n.kubeProxy = nil
	}
}

func (n *node) iptablesSave() string {
	out, err := n.ns.Run(context.Background(), "iptables-save")
	if err != nil {
		n.t.Fatal(err)
	}
	return out
}

// waitRules waits until iptables-save in the namespace satisfies cond.
func (n *node) waitRules(timeout time.Duration, what string, cond func(rules string) bool) {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		rules := n.iptablesSave()
		if cond(rules) {
			return
		}
		if n.kubeProxy != nil {
			select {
			case <-n.kubeProxy.Done():
				n.t.Fatalf("kube-proxy exited: %v\n%s", n.kubeProxy.ExitError(), localstack.TailFile(n.kubeProxy.LogFile, 40))
			default:
			}
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("iptables in %s: %s not seen within %s\n--- rules ---\n%s\n--- kube-proxy log ---\n%s\n--- yurthub log ---\n%s",
				n.ns.Name, what, timeout, rules, tail(n.logFile("kube-proxy")), tail(n.logFile("yurthub")))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func tail(path string) string { return localstack.TailFile(path, 40) }
