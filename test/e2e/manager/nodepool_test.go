package manager

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/yurt-edge/yurt/apis/apps"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	yurtclient "github.com/yurt-edge/yurt/generated/clientset/versioned"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

const waitTimeout = 60 * time.Second

// createPool creates a pool and deletes it when the test ends; keep leaves it (the witness
// hollow node carries its pool label for the whole package).
func createPool(t *testing.T, client yurtclient.Interface, pool *appsv1beta2.NodePool, keep bool) {
	t.Helper()
	if _, err := client.AppsV1beta2().NodePools().Create(context.Background(), pool, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating pool %s: %v", pool.Name, err)
	}
	if keep {
		return
	}
	t.Cleanup(func() {
		// Members are deleted first (their Cleanups run earlier), else the pool is protected.
		framework.WaitFor(t, 30*time.Second, func() (bool, error) {
			err := client.AppsV1beta2().NodePools().Delete(context.Background(), pool.Name, metav1.DeleteOptions{})
			return err == nil || apierrors.IsNotFound(err), err
		})
	})
}

// updatePool applies mutate to the pool's spec, retrying on conflicts.
func updatePool(t *testing.T, client yurtclient.Interface, name string, mutate func(*appsv1beta2.NodePoolSpec)) {
	t.Helper()
	framework.WaitFor(t, 30*time.Second, func() (bool, error) {
		p, err := client.AppsV1beta2().NodePools().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		mutate(&p.Spec)
		_, err = client.AppsV1beta2().NodePools().Update(context.Background(), p, metav1.UpdateOptions{})
		return err == nil, err
	})
}

// TestNodePoolAttributes: a pool's labels, annotations and taints reach its member nodes
// (one a hollow kubelet updating its status meanwhile, one a bare Node object), leave them
// when dropped from the pool, and follow a node that moves to another pool.
func TestNodePoolAttributes(t *testing.T) {
	e := setup(t)
	clients := framework.Clients(t)
	kube := clients.Kube
	ctx := context.Background()

	createPool(t, clients.Yurt, &appsv1beta2.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: witnessPool},
		Spec:       appsv1beta2.NodePoolSpec{Type: appsv1beta2.Edge, HostNetwork: true},
	}, true)
	createPool(t, clients.Yurt, &appsv1beta2.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-pool-b"},
		Spec: appsv1beta2.NodePoolSpec{
			Type:   appsv1beta2.Edge,
			Labels: map[string]string{"example.com/site": "b"},
			Taints: []corev1.Taint{{Key: "example.com/site-b", Value: "true", Effect: corev1.TaintEffectPreferNoSchedule}},
		},
	}, false)
	const bare = "e2e-bare-node"
	createNode(t, kube, bare, map[string]string{apps.NodePoolLabel: witnessPool}, nil)
	members := []string{witnessNode, bare}
	_ = e

	// A hostNetwork pool labels its nodes.
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		for _, name := range members {
			n, err := getNode(kube, name)
			if err != nil || n.Labels[apps.NodePoolHostNetworkLabel] != "true" {
				return false, err
			}
		}
		return true, nil
	})

	updatePool(t, clients.Yurt, witnessPool, func(s *appsv1beta2.NodePoolSpec) {
		s.Labels = map[string]string{"example.com/team": "edge", "example.com/tier": "gold"}
		s.Annotations = map[string]string{"example.com/owner": "ops"}
		s.Taints = []corev1.Taint{{Key: "example.com/dedicated", Value: "edge", Effect: corev1.TaintEffectNoSchedule}}
	})
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		for _, name := range members {
			n, err := getNode(kube, name)
			if err != nil {
				return false, err
			}
			tn := findTaint(n, "example.com/dedicated", corev1.TaintEffectNoSchedule)
			if n.Labels["example.com/team"] != "edge" || n.Labels["example.com/tier"] != "gold" ||
				n.Annotations["example.com/owner"] != "ops" || tn == nil || tn.Value != "edge" {
				return false, nil
			}
		}
		return true, nil
	})
	n, err := getNode(kube, bare)
	if err != nil {
		t.Fatal(err)
	}
	var prev struct {
		Labels map[string]string `json:"labels"`
	}
	if err := json.Unmarshal([]byte(n.Annotations[apps.PreviousAttributesAnnotation]), &prev); err != nil {
		t.Fatalf("annotation %s: %v", apps.PreviousAttributesAnnotation, err)
	}
	if prev.Labels["example.com/team"] != "edge" || prev.Labels[apps.NodePoolHostNetworkLabel] != "true" {
		t.Errorf("previous attributes = %s, want the pool's labels", n.Annotations[apps.PreviousAttributesAnnotation])
	}
	if evs := events(t, kube, "default", "Node", bare); !hasEvent(evs, "PoolAttributesApplied") {
		t.Errorf("no PoolAttributesApplied event on node %s; events: %q", bare, evs)
	}

	// Keys that leave the pool leave the nodes; the others stay.
	updatePool(t, clients.Yurt, witnessPool, func(s *appsv1beta2.NodePoolSpec) {
		s.Labels = map[string]string{"example.com/tier": "gold"}
		s.Taints = nil
	})
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		for _, name := range members {
			n, err := getNode(kube, name)
			if err != nil {
				return false, err
			}
			if _, ok := n.Labels["example.com/team"]; ok || findTaint(n, "example.com/dedicated", corev1.TaintEffectNoSchedule) != nil {
				return false, nil
			}
			if n.Labels["example.com/tier"] != "gold" || n.Annotations["example.com/owner"] != "ops" {
				t.Fatalf("node %s lost attributes the pool still has: labels %v annotations %v", name, n.Labels, n.Annotations)
			}
		}
		return true, nil
	})

	// Move the bare node to pool b: pool a's attributes go, pool b's come.
	patch := []byte(`{"metadata":{"labels":{"` + apps.NodePoolLabel + `":"e2e-pool-b"}}}`)
	if _, err := kube.CoreV1().Nodes().Patch(ctx, bare, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		n, err := getNode(kube, bare)
		if err != nil {
			return false, err
		}
		_, tier := n.Labels["example.com/tier"]
		_, owner := n.Annotations["example.com/owner"]
		_, hostNet := n.Labels[apps.NodePoolHostNetworkLabel]
		return !tier && !owner && !hostNet && n.Labels["example.com/site"] == "b" &&
			findTaint(n, "example.com/site-b", corev1.TaintEffectPreferNoSchedule) != nil, nil
	})
	// The hollow node stayed in pool a.
	if n, err := getNode(kube, witnessNode); err != nil || n.Labels["example.com/tier"] != "gold" {
		t.Errorf("node %s lost pool %s's label after another node moved: %v %v", witnessNode, witnessPool, n.Labels, err)
	}

	// Leaving every pool removes what the last pool applied.
	patch = []byte(`{"metadata":{"labels":{"` + apps.NodePoolLabel + `":null}}}`)
	if _, err := kube.CoreV1().Nodes().Patch(ctx, bare, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		n, err := getNode(kube, bare)
		if err != nil {
			return false, err
		}
		_, site := n.Labels["example.com/site"]
		_, prev := n.Annotations[apps.PreviousAttributesAnnotation]
		return !site && !prev && findTaint(n, "example.com/site-b", corev1.TaintEffectPreferNoSchedule) == nil, nil
	})
	// Clear pool a's spec so the witness node is clean for the other tests.
	updatePool(t, clients.Yurt, witnessPool, func(s *appsv1beta2.NodePoolSpec) { s.Labels, s.Annotations = nil, nil })
}

// TestNodePoolTaintConflict: a pool taint clashing with a taint the node already has (same
// key and effect, another value) is not forced onto the node; a Warning event on the node and
// the pool says why, and the controller does not spin on it.
func TestNodePoolTaintConflict(t *testing.T) {
	e := setup(t)
	clients := framework.Clients(t)
	kube := clients.Kube

	const pool, node = "e2e-conflict", "e2e-conflict-node"
	createPool(t, clients.Yurt, &appsv1beta2.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: pool},
		Spec: appsv1beta2.NodePoolSpec{
			Type:   appsv1beta2.Edge,
			Labels: map[string]string{"example.com/conflict-pool": "yes"},
			Taints: []corev1.Taint{
				{Key: "example.com/gpu", Value: "pool", Effect: corev1.TaintEffectNoSchedule},
				{Key: "example.com/ok", Value: "pool", Effect: corev1.TaintEffectNoSchedule},
			},
		},
	}, false)
	createNode(t, kube, node, map[string]string{apps.NodePoolLabel: pool},
		[]corev1.Taint{{Key: "example.com/gpu", Value: "admin", Effect: corev1.TaintEffectNoSchedule}})

	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		n, err := getNode(kube, node)
		if err != nil {
			return false, err
		}
		return n.Labels["example.com/conflict-pool"] == "yes" && findTaint(n, "example.com/ok", corev1.TaintEffectNoSchedule) != nil, nil
	})
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		return hasEvent(events(t, kube, "default", "Node", node), "TaintConflict") &&
			hasEvent(events(t, kube, "default", "NodePool", pool), "TaintConflict"), nil
	})
	n, err := getNode(kube, node)
	if err != nil {
		t.Fatal(err)
	}
	if tn := findTaint(n, "example.com/gpu", corev1.TaintEffectNoSchedule); tn == nil || tn.Value != "admin" {
		t.Errorf("the node's own taint was changed: %+v", tn)
	}
	t.Logf("events on the node: %q", events(t, kube, "default", "Node", node))

	// No hot loop: the node is not reconciled again and again.
	before := metricValue(t, e.metrics, "yurt_manager_reconcile_total", `controller="nodepool"`)
	time.Sleep(5 * time.Second)
	after := metricValue(t, e.metrics, "yurt_manager_reconcile_total", `controller="nodepool"`)
	if after-before > 5 {
		t.Errorf("nodepool reconciled %v times in 5 s with nothing changing: a hot loop", after-before)
	}

	// Once the node's own taint goes, the pool's is applied.
	framework.WaitFor(t, 30*time.Second, func() (bool, error) {
		n, err := getNode(kube, node)
		if err != nil {
			return false, err
		}
		var keep []corev1.Taint
		for _, tn := range n.Spec.Taints {
			if tn.Key != "example.com/gpu" {
				keep = append(keep, tn)
			}
		}
		n.Spec.Taints = keep
		_, err = kube.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{})
		return err == nil, err
	})
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		n, err := getNode(kube, node)
		if err != nil {
			return false, err
		}
		tn := findTaint(n, "example.com/gpu", corev1.TaintEffectNoSchedule)
		return tn != nil && tn.Value == "pool", nil
	})
}
