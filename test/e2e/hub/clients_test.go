package hub

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/yurt-edge/yurt/pkg/hub/codec"
	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

var nodePoolGVR = schema.GroupVersionResource{Group: "apps.openyurt.io", Version: "v1beta2", Resource: "nodepools"}

// rawGet fetches a path through the hub's proxy as userAgent, accepting accept.
func rawGet(t *testing.T, n *framework.EdgeNode, path, userAgent, accept string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:10261"+path, nil)
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", accept)
	resp, err := n.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// TestClientsThroughHub: kubectl (JSON, get and a streaming watch) and client-go (protobuf)
// through the hub inside the node's namespace; then offline, the cached agents' get and list
// (with selectors, in protobuf and JSON, for a core resource and for the aggregated NodePool)
// come from the cache, a watch stays open and ends when the cloud returns, and continuing it
// from the cache's resourceVersion earns 410 Gone.
func TestClientsThroughHub(t *testing.T) {
	const ns = "hub-clients"
	ctx := context.Background()
	framework.CreateNamespace(t, ns)
	admin := framework.Clients(t)
	for _, s := range []struct{ name, tier string }{{"web", "front"}, {"db", "back"}} {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: ns, Labels: map[string]string{"tier": s.tier}},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
		}
		if _, err := admin.Kube.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pool := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps.openyurt.io/v1beta2", "kind": "NodePool",
		"metadata": map[string]any{"name": "hub-e2e-pool"}, "spec": map[string]any{"type": "Edge"},
	}}
	if _, err := admin.Dynamic.Resource(nodePoolGVR).Create(ctx, pool, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = admin.Dynamic.Resource(nodePoolGVR).Delete(context.Background(), "hub-e2e-pool", metav1.DeleteOptions{})
	})
	grantNodePoolRead(t)

	n := framework.NewEdgeNode(t, "edge-clients", framework.EdgeNodeOptions{})
	// This hub takes the node's credentials from a kubeconfig (the other input form).
	creds := filepath.Join(n.Dir, "node.kubeconfig")
	if err := localstack.WriteKubeconfig(creds, n.CloudURL(), framework.Stack(t).PKI.CA.CertPEM, "system:node:edge-clients", mustRead(t, filepath.Join(n.Dir, "node.crt")), mustRead(t, filepath.Join(n.Dir, "node.key"))); err != nil {
		t.Fatal(err)
	}
	n.StartHubWith("--kubeconfig=" + creds)

	// kubectl through the hub, JSON.
	kubectl := func(args ...string) string {
		t.Helper()
		full := append([]string{"--kubeconfig=" + n.HubKubeconfig(), "--cache-dir=" + filepath.Join(n.Dir, "kubectl-cache")}, args...)
		out, err := n.NS.Run(ctx, "kubectl", full...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	out := kubectl("get", "services", "-n", ns, "-o", "json")
	if !strings.Contains(out, `"name": "web"`) || !strings.Contains(out, `"name": "db"`) {
		t.Fatalf("kubectl get through the hub:\n%s", out)
	}

	// A streaming watch through the hub: an object created after the watch started arrives.
	watchCtx, cancelWatch := context.WithTimeout(ctx, 60*time.Second)
	defer cancelWatch()
	cmd := n.NS.Command(watchCtx, "kubectl", "--kubeconfig="+n.HubKubeconfig(), "--cache-dir="+filepath.Join(n.Dir, "kubectl-cache"),
		"get", "services", "-n", ns, "--watch-only", "-o", "name")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	time.Sleep(2 * time.Second) // let the watch open
	if _, err := admin.Kube.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "late", Namespace: ns},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case l := <-lines:
		if l != "service/late" {
			t.Fatalf("kubectl watch through the hub printed %q, want service/late", l)
		}
	case <-watchCtx.Done():
		t.Fatal("kubectl watch through the hub saw no event")
	}
	cancelWatch()
	_ = cmd.Wait()

	// client-go with protobuf, as kube-proxy (a cached agent).
	kp := n.HubClient("kube-proxy/e2e", true)
	list, err := kp.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 3 {
		t.Fatalf("protobuf list through the hub: %d services, want 3", len(list.Items))
	}
	resp, _ := rawGet(t, n, "/api/v1/namespaces/"+ns+"/services", "kube-proxy/e2e", "application/vnd.kubernetes.protobuf, application/json")
	if !codec.IsProtobuf(resp.Header.Get("Content-Type")) {
		t.Fatalf("protobuf list through the hub came back as %q", resp.Header.Get("Content-Type"))
	}
	if _, err := kp.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	kubelet, err := dynamic.NewForConfig(n.HubConfig("kubelet/e2e", false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kubelet.Resource(nodePoolGVR).List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("listing NodePools (aggregated) through the hub: %v", err)
	}

	// Offline.
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

	cachedList, err := kp.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("protobuf list from the cache: %v", err)
	}
	if len(cachedList.Items) != 3 || !strings.HasPrefix(cachedList.ResourceVersion, "yurthub-cache.") {
		t.Fatalf("protobuf list from the cache: %d items, resourceVersion %q", len(cachedList.Items), cachedList.ResourceVersion)
	}
	sel, err := kp.CoreV1().Services(ns).List(ctx, metav1.ListOptions{LabelSelector: "tier=front"})
	if err != nil || len(sel.Items) != 1 || sel.Items[0].Name != "web" {
		t.Fatalf("label-selected list from the cache: %v %v", sel, err)
	}
	fsel, err := kp.CoreV1().Services(ns).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=db"})
	if err != nil || len(fsel.Items) != 1 || fsel.Items[0].Name != "db" {
		t.Fatalf("field-selected list from the cache: %v %v", fsel, err)
	}
	if got, err := kp.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{}); err != nil || got.Spec.Ports[0].Port != 80 {
		t.Fatalf("get from the cache: %v %v", got, err)
	}
	resp, body := rawGet(t, n, "/api/v1/namespaces/"+ns+"/services", "kube-proxy/e2e", "application/json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(body), `"name":"web"`) {
		t.Fatalf("JSON list from the cache: %s %q %s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	resp, _ = rawGet(t, n, "/api/v1/namespaces/"+ns+"/services", "kube-proxy/e2e", "application/vnd.kubernetes.protobuf, application/json")
	if !codec.IsProtobuf(resp.Header.Get("Content-Type")) {
		t.Fatalf("protobuf list from the cache came back as %q", resp.Header.Get("Content-Type"))
	}
	pools, err := kubelet.Resource(nodePoolGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("listing NodePools from the cache: %v", err)
	}
	found := false
	for _, p := range pools.Items {
		found = found || p.GetName() == "hub-e2e-pool"
	}
	if !found {
		t.Fatalf("NodePool hub-e2e-pool missing from the cached list: %v", pools.Items)
	}
	// A component that is not cached gets a clear 503, not someone else's data.
	resp, body = rawGet(t, n, "/api/v1/namespaces/"+ns+"/services", "kubectl/e2e", "application/json")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("uncached component offline: %s %s", resp.Status, body)
	}

	// A watch from the cache's resourceVersion stays open while offline…
	w, err := kp.CoreV1().Services(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: cachedList.ResourceVersion})
	if err != nil {
		t.Fatalf("watch from the cache: %v", err)
	}
	select {
	case ev, ok := <-w.ResultChan():
		t.Fatalf("watch from the cache ended or sent %v (open=%v) while offline", ev.Type, ok)
	case <-time.After(3 * time.Second):
	}
	// …and ends when the cloud is back; continuing from that resourceVersion gets 410 Gone.
	if err := n.NS.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	healed = true
	waitCloudHealthy(t, n, true)
	select {
	case _, ok := <-w.ResultChan():
		for ok {
			_, ok = <-w.ResultChan()
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the watch served from the cache did not end when the cloud came back")
	}
	_, err = kp.CoreV1().Services(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: cachedList.ResourceVersion})
	if !apierrors.IsGone(err) && !apierrors.IsResourceExpired(err) {
		t.Fatalf("watch from the cache's resourceVersion after the cloud came back: got %v, want 410 Gone", err)
	}
	fresh, err := kp.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil || strings.HasPrefix(fresh.ResourceVersion, "yurthub-cache.") {
		t.Fatalf("list after reconnecting: rv %q, %v", fresh.ResourceVersion, err)
	}
}

// grantNodePoolRead lets nodes read NodePools, as a kubelet-side agent would need.
func grantNodePoolRead(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	client := framework.Clients(t).Kube
	cr := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "yurthub-e2e-nodepool-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"apps.openyurt.io"}, Resources: []string{"nodepools"}, Verbs: []string{"get", "list", "watch"}}},
	}
	if _, err := client.RbacV1().ClusterRoles().Create(ctx, cr, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "yurthub-e2e-nodepool-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: cr.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "Group", Name: "system:nodes"}},
	}
	if _, err := client.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
