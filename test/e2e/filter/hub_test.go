package filter

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

// hubFilterEnv is two pools with one edge node each (netns + yurthub + the real kube-proxy),
// the built-in filters applied with kubectl and the hub RBAC from artifacts/deploy.
type hubFilterEnv struct {
	ns     string
	a, b   *framework.EdgeNode
	poolA  string
	poolB  string
	client *framework.Clientsets
}

// id keeps each test's namespace, pools and nodes apart (deletions finish asynchronously).
func setupHubFilterEnv(t *testing.T, id string) *hubFilterEnv {
	t.Helper()
	ctx := context.Background()
	c := framework.Clients(t)
	e := &hubFilterEnv{ns: "rf-" + id, poolA: "rf-" + id + "-a", poolB: "rf-" + id + "-b", client: c}

	rbac := framework.RepoPath(t, "artifacts", "deploy", "21-yurthub-rbac.yaml")
	if out, err := framework.Kubectl(t, "apply", "-f", rbac); err != nil {
		t.Fatalf("kubectl apply -f %s: %v\n%s", rbac, err, out)
	}
	filters := framework.RepoPath(t, "artifacts", "filters") + "/"
	if out, err := framework.Kubectl(t, "apply", "-f", filters); err != nil {
		t.Fatalf("kubectl apply -f artifacts/filters/: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = framework.Kubectl(t, "delete", "--ignore-not-found", "-f", filters) })

	for _, p := range []string{e.poolA, e.poolB} {
		np := &appsv1beta2.NodePool{ObjectMeta: metav1.ObjectMeta{Name: p}, Spec: appsv1beta2.NodePoolSpec{Type: appsv1beta2.Edge}}
		if _, err := c.Yurt.AppsV1beta2().NodePools().Create(ctx, np, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating pool %s: %v", p, err)
		}
		t.Cleanup(func() {
			if err := c.Yurt.AppsV1beta2().NodePools().Delete(context.Background(), p, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("deleting pool %s: %v", p, err)
			}
		})
	}
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Kube.CoreV1().Namespaces().Delete(context.Background(), e.ns, metav1.DeleteOptions{}) })

	e.a = framework.NewEdgeNode(t, "rf-"+id+"-edge-a", framework.EdgeNodeOptions{Pool: e.poolA})
	e.b = framework.NewEdgeNode(t, "rf-"+id+"-edge-b", framework.EdgeNodeOptions{Pool: e.poolB})
	return e
}

func (e *hubFilterEnv) start(t *testing.T) {
	t.Helper()
	for _, n := range []*framework.EdgeNode{e.a, e.b} {
		n.StartHub()
		n.StartKubeProxy(true)
	}
}

// service creates a selector-less Service and one EndpointSlice with an endpoint per
// (ip, node) pair, so the test decides where endpoints are.
func (e *hubFilterEnv) service(t *testing.T, name string, typ corev1.ServiceType, labels, annotations map[string]string, endpoints map[string]string) *corev1.Service {
	t.Helper()
	ctx := context.Background()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns, Labels: labels, Annotations: annotations},
		Spec:       corev1.ServiceSpec{Type: typ, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}},
	}
	created, err := e.client.Kube.CoreV1().Services(e.ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating service %s: %v", name, err)
	}
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-1", Namespace: e.ns, Labels: map[string]string{
			discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: "e2e.yurt",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for ip, node := range endpoints {
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{ip}, NodeName: ptr.To(node), Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		})
	}
	if _, err := e.client.Kube.DiscoveryV1().EndpointSlices(e.ns).Create(ctx, es, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating endpointslice of %s: %v", name, err)
	}
	return created
}

func dnatTo(ip string) string { return "--to-destination " + ip + ":8080" }

func hasAll(rules string, ips ...string) bool {
	for _, ip := range ips {
		if !strings.Contains(rules, dnatTo(ip)) {
			return false
		}
	}
	return true
}

func hasNone(rules string, ips ...string) bool {
	for _, ip := range ips {
		if strings.Contains(rules, dnatTo(ip)) {
			return false
		}
	}
	return true
}

// TestHubServiceTopologyAndNodePortIsolationWithKubeProxy: the built-in servicetopology and
// nodeportisolation filters, applied with kubectl, shape what the real kube-proxy programs on
// each edge node; an annotation change is followed without restarting anything.
func TestHubServiceTopologyAndNodePortIsolationWithKubeProxy(t *testing.T) {
	e := setupHubFilterEnv(t, "topo")
	ctx := context.Background()
	const ipA, ipB = "10.99.1.1", "10.99.2.1"
	e.service(t, "topo", corev1.ServiceTypeClusterIP, nil,
		map[string]string{"openyurt.io/topologyKeys": "openyurt.io/nodepool"},
		map[string]string{ipA: e.a.Name, ipB: e.b.Name})
	np := e.service(t, "np", corev1.ServiceTypeNodePort, nil,
		map[string]string{"nodeport.openyurt.io/listen": "-" + e.poolB + ",*"},
		map[string]string{"10.99.3.1": e.a.Name})
	nodePort := fmt.Sprintf("--dport %d", np.Spec.Ports[0].NodePort)
	e.start(t)

	// Each node programs only its own pool's endpoint.
	e.a.WaitRules(60*time.Second, "only pool-a's endpoint of topo", func(r string) bool { return hasAll(r, ipA) && hasNone(r, ipB) })
	e.b.WaitRules(60*time.Second, "only pool-b's endpoint of topo", func(r string) bool { return hasAll(r, ipB) && hasNone(r, ipA) })

	// The NodePort is open on pool-a's node and not on pool-b's. A NodePort Service created
	// afterwards shows that pool-b's kube-proxy is up to date when np is checked.
	e.a.WaitRules(30*time.Second, "np's node port", func(r string) bool { return strings.Contains(r, nodePort) })
	later := e.service(t, "np-later", corev1.ServiceTypeNodePort, nil, nil, map[string]string{"10.99.3.2": e.a.Name})
	laterPort := fmt.Sprintf("--dport %d", later.Spec.Ports[0].NodePort)
	e.b.WaitRules(30*time.Second, "np-later's node port", func(r string) bool { return strings.Contains(r, laterPort) })
	if r := e.b.IPTablesSave(); strings.Contains(r, nodePort) || strings.Contains(r, e.ns+"/np:http") {
		t.Errorf("pool-b's node programs np (listen: -%s,*):\n%s", e.poolB, r)
	}

	// Dropping the annotation: both nodes follow, kube-proxy keeps running.
	pidA, pidB := e.a.KubeProxy, e.b.KubeProxy
	start := time.Now()
	if _, err := e.client.Kube.CoreV1().Services(e.ns).Patch(ctx, "topo", types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"openyurt.io/topologyKeys":null}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.a.WaitRules(30*time.Second, "both endpoints of topo after the annotation went", func(r string) bool { return hasAll(r, ipA, ipB) })
	e.b.WaitRules(30*time.Second, "both endpoints of topo after the annotation went", func(r string) bool { return hasAll(r, ipA, ipB) })
	t.Logf("rules followed the annotation's removal in %s", time.Since(start).Round(100*time.Millisecond))

	// And back to per-pool, now by node name.
	start = time.Now()
	if _, err := e.client.Kube.CoreV1().Services(e.ns).Patch(ctx, "topo", types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"openyurt.io/topologyKeys":"kubernetes.io/hostname"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.a.WaitRules(30*time.Second, "only this node's endpoint of topo", func(r string) bool { return hasAll(r, ipA) && hasNone(r, ipB) })
	e.b.WaitRules(30*time.Second, "only this node's endpoint of topo", func(r string) bool { return hasAll(r, ipB) && hasNone(r, ipA) })
	t.Logf("rules followed the annotation's return in %s", time.Since(start).Round(100*time.Millisecond))
	if e.a.KubeProxy != pidA || e.b.KubeProxy != pidB {
		t.Error("kube-proxy was restarted")
	}
	for _, n := range []*framework.EdgeNode{e.a, e.b} {
		select {
		case <-n.KubeProxy.Done():
			t.Errorf("kube-proxy of %s exited", n.Name)
		case <-n.Hub.Done():
			t.Errorf("yurthub of %s exited", n.Name)
		default:
		}
	}
}

// TestHubCustomFilterWithKubeProxy: a ResponseFilter registered with kubectl takes effect on
// running kube-proxies within seconds, without restarting the hub, and deleting it undoes it.
func TestHubCustomFilterWithKubeProxy(t *testing.T) {
	e := setupHubFilterEnv(t, "custom")
	const hiddenIP, visibleIP = "10.99.5.1", "10.99.5.2"
	e.service(t, "hidden", corev1.ServiceTypeClusterIP, map[string]string{"edge.example.com/hidden": "true"}, nil,
		map[string]string{hiddenIP: e.a.Name})
	e.service(t, "visible", corev1.ServiceTypeClusterIP, nil, nil, map[string]string{visibleIP: e.b.Name})
	e.start(t)
	nodes := []*framework.EdgeNode{e.a, e.b}
	for _, n := range nodes {
		n.WaitRules(60*time.Second, "both services", func(r string) bool { return hasAll(r, hiddenIP, visibleIP) })
	}
	hubA, hubB := e.a.Hub, e.b.Hub

	manifest := `apiVersion: apps.openyurt.io/v1alpha1
kind: ResponseFilter
metadata:
  name: e2e-hide-labelled
spec:
  priority: 10
  failurePolicy: Fail
  match:
    userAgents: [kube-proxy]
    resources: [{group: "", resources: [services], verbs: [list, watch]}]
  keep: "object.metadata.?labels[?'edge.example.com/hidden'].orValue('') != 'true'"
`
	start := time.Now()
	if out, err := framework.KubectlStdin(t, manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		_, _ = framework.Kubectl(t, "delete", "--ignore-not-found", "responsefilter", "e2e-hide-labelled")
	})
	for _, n := range nodes {
		n.WaitRules(30*time.Second, "the hidden service gone", func(r string) bool { return hasNone(r, hiddenIP) && hasAll(r, visibleIP) })
	}
	t.Logf("kube-proxy stopped programming the hidden service %s after kubectl apply", time.Since(start).Round(100*time.Millisecond))

	start = time.Now()
	if out, err := framework.Kubectl(t, "delete", "responsefilter", "e2e-hide-labelled"); err != nil {
		t.Fatalf("kubectl delete: %v\n%s", err, out)
	}
	for _, n := range nodes {
		n.WaitRules(30*time.Second, "the hidden service back", func(r string) bool { return hasAll(r, hiddenIP, visibleIP) })
	}
	t.Logf("the hidden service came back %s after kubectl delete", time.Since(start).Round(100*time.Millisecond))
	if e.a.Hub != hubA || e.b.Hub != hubB {
		t.Error("a hub was restarted")
	}
	for _, n := range nodes {
		select {
		case <-n.Hub.Done():
			t.Errorf("yurthub of %s exited: %v", n.Name, n.Hub.ExitError())
		default:
		}
	}
}

// TestHubFiltersSurviveOfflineRestart: a hub restarted while its node is cut off from the
// cloud loads its ResponseFilters (and the Services and pools behind them) from its own cache
// and keeps applying them.
func TestHubFiltersSurviveOfflineRestart(t *testing.T) {
	e := setupHubFilterEnv(t, "offline")
	const hiddenIP, visibleIP = "10.99.6.1", "10.99.6.2"
	e.service(t, "hidden", corev1.ServiceTypeClusterIP, map[string]string{"edge.example.com/hidden": "true"}, nil,
		map[string]string{hiddenIP: e.a.Name})
	e.service(t, "visible", corev1.ServiceTypeClusterIP, nil, nil, map[string]string{visibleIP: e.a.Name})
	manifest := `apiVersion: apps.openyurt.io/v1alpha1
kind: ResponseFilter
metadata:
  name: e2e-hide-offline
spec:
  failurePolicy: Fail
  match:
    userAgents: [kube-proxy]
    resources: [{group: "", resources: [services], verbs: [get, list, watch]}]
  keep: "object.metadata.?labels[?'edge.example.com/hidden'].orValue('') != 'true'"
`
	if out, err := framework.KubectlStdin(t, manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		_, _ = framework.Kubectl(t, "delete", "--ignore-not-found", "responsefilter", "e2e-hide-offline")
	})
	e.a.StartHub()
	e.a.StartKubeProxy(true)
	e.a.WaitRules(60*time.Second, "only the visible service", func(r string) bool { return hasAll(r, visibleIP) && hasNone(r, hiddenIP) })

	// Offline, restarted: the filters come from the hub's cache.
	e.a.CutCloud()
	t.Cleanup(e.a.HealCloud)
	e.a.StopHub()
	logBefore, _ := os.ReadFile(e.a.LogFile("yurthub"))
	e.a.StartHub()
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, err := os.ReadFile(e.a.LogFile("yurthub"))
		if err != nil {
			t.Fatal(err)
		}
		after := string(data[min(len(logBefore), len(data)):])
		if strings.Contains(after, "Response filters changed") && strings.Contains(after, "e2e-hide-offline@") {
			break
		}
		if time.Now().After(deadline) {
			var cacheLines []string
			for _, l := range strings.Split(string(data[:min(len(logBefore), len(data))]), "\n") {
				if strings.Contains(l, "yurthub-filters") || strings.Contains(l, "aching") {
					cacheLines = append(cacheLines, l)
				}
			}
			t.Fatalf("the hub restarted offline did not load the filters from its cache within 30s; its log since the restart:\n%s\nbefore, about its cache:\n%s",
				after, strings.Join(cacheLines, "\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The six built-ins and this test's filter.
	if metrics, err := e.a.HubGet("/metrics"); err != nil || !strings.Contains(metrics, "\nyurthub_response_filters 7\n") {
		t.Errorf("yurthub_response_filters after an offline restart (want 7): %v\n%s", err, metrics)
	}
	if body, err := e.a.HubGet("/readyz"); err != nil || !strings.Contains(body, "cache") {
		t.Fatalf("the hub should be serving from its cache: %q %v", body, err)
	}
	// kube-proxy is served from the cache, which holds what the filters gave it.
	kp := e.a.HubClient("kube-proxy/v1.36.3", true)
	svcs, err := kp.CoreV1().Services(e.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("listing services through the offline hub: %v", err)
	}
	var names []string
	for _, s := range svcs.Items {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "visible" {
		t.Errorf("offline list as kube-proxy: %v, want only visible", names)
	}
	e.a.WaitRules(10*time.Second, "still only the visible service", func(r string) bool { return hasAll(r, visibleIP) && hasNone(r, hiddenIP) })
}
