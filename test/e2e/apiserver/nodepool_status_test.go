package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	appsapi "github.com/yurt-edge/yurt/apis/apps"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

// poolWatch follows one NodePool's watch and checks that every event is a MODIFIED with a
// resourceVersion the watch has not seen before.
type poolWatch struct {
	w      watch.Interface
	lastRV string
}

// expect reads events until the pool's status is nodes/ready/unready, failing the test when
// an event is not a MODIFIED with a new resourceVersion or when none matches in time.
func (p *poolWatch) expect(t *testing.T, what string, nodes []string, ready, unready int32) *appsv1beta2.NodePool {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-p.w.ResultChan():
			if !ok {
				t.Fatalf("%s: the pool's watch ended", what)
			}
			pool, isPool := ev.Object.(*appsv1beta2.NodePool)
			if ev.Type != watch.Modified || !isPool {
				t.Fatalf("%s: watch event %s %T, want MODIFIED NodePool", what, ev.Type, ev.Object)
			}
			if pool.ResourceVersion == p.lastRV {
				t.Errorf("%s: MODIFIED event with the previous resourceVersion %s", what, pool.ResourceVersion)
			}
			p.lastRV = pool.ResourceVersion
			s := pool.Status
			if slices.Equal(s.Nodes, nodes) && s.ReadyNodeNum == ready && s.UnreadyNodeNum == unready {
				return pool
			}
			t.Logf("%s: intermediate status nodes=%v ready=%d unready=%d", what, s.Nodes, s.ReadyNodeNum, s.UnreadyNodeNum)
		case <-deadline:
			t.Fatalf("%s: no MODIFIED event with nodes=%v ready=%d unready=%d", what, nodes, ready, unready)
		}
	}
}

// TestNodePoolStatusFollowsNodes creates Nodes in the real kube-apiserver and checks that the
// pool's server-owned status follows them join, flip Ready, leave and go away, each change a
// MODIFIED event with a new resourceVersion; that users cannot write the derived status; and
// that a pool with nodes cannot be deleted.
func TestNodePoolStatusFollowsNodes(t *testing.T) {
	t.Parallel()
	c := framework.Clients(t)
	ctx := context.Background()
	poolName := uniqueName("status")
	pools := c.Yurt.AppsV1beta2().NodePools()
	created, err := pools.Create(ctx, &appsv1beta2.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: poolName},
		Spec:       appsv1beta2.NodePoolSpec{Type: appsv1beta2.Edge},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pool: %v", err)
	}
	t.Cleanup(func() { _ = pools.Delete(context.Background(), poolName, metav1.DeleteOptions{}) })
	if s := created.Status; len(s.Nodes) != 0 || s.ReadyNodeNum != 0 || s.UnreadyNodeNum != 0 {
		t.Errorf("new pool without nodes has status %+v", s)
	}

	// The watch opens before any change, from the pool's resourceVersion.
	w, err := pools.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + poolName, ResourceVersion: created.ResourceVersion})
	if err != nil {
		t.Fatalf("watch pool: %v", err)
	}
	defer w.Stop()
	pw := &poolWatch{w: w, lastRV: created.ResourceVersion}

	nodes := c.Kube.CoreV1().Nodes()
	// Names sort in the reverse of their creation order, so the status must sort them.
	nodeB, nodeA := poolName+"-b", poolName+"-a"
	createNode := func(name string) {
		t.Helper()
		_, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name: name, Labels: map[string]string{appsapi.NodePoolLabel: poolName},
		}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create node %s: %v", name, err)
		}
		t.Cleanup(func() { _ = nodes.Delete(context.Background(), name, metav1.DeleteOptions{}) })
	}
	setReady := func(name string, status corev1.ConditionStatus) {
		t.Helper()
		node, err := nodes.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		now := metav1.Now()
		node.Status.Conditions = []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: status, Reason: "E2E", LastHeartbeatTime: now, LastTransitionTime: now,
		}}
		if _, err := nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("set node %s Ready=%s: %v", name, status, err)
		}
	}

	createNode(nodeB) // no Ready condition yet: not ready
	pw.expect(t, "node b joins", []string{nodeB}, 0, 1)
	setReady(nodeB, corev1.ConditionTrue)
	pw.expect(t, "node b turns Ready", []string{nodeB}, 1, 0)
	createNode(nodeA)
	pw.expect(t, "node a joins", []string{nodeA, nodeB}, 1, 1)
	setReady(nodeA, corev1.ConditionTrue)
	pool := pw.expect(t, "node a turns Ready", []string{nodeA, nodeB}, 2, 0)

	// kubectl shows the counts and, wide, the nodes.
	out := kubectlOK(t, "get", "np", poolName, "--no-headers", "-o", "wide")
	if f := strings.Fields(out); len(f) < 4 || f[1] != "Edge" || f[2] != "2" || f[3] != "0" || !strings.Contains(out, nodeA+","+nodeB) {
		t.Errorf("kubectl get np -o wide: %q, want Edge, 2 ready, 0 not ready, nodes %s,%s", out, nodeA, nodeB)
	}

	// Users cannot write the derived status, through the status subresource or the main one.
	forged := pool.DeepCopy()
	forged.Status.ReadyNodeNum = 7
	forged.Status.Nodes = []string{"forged"}
	_, err = pools.UpdateStatus(ctx, forged, metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "status") || !strings.Contains(err.Error(), "derived") {
		t.Errorf("PUT /status with forged counts: %v, want 422 Invalid naming status as derived", err)
	}
	_, err = pools.Patch(ctx, poolName, types.MergePatchType, []byte(`{"status":{"unreadyNodeNum":3}}`), metav1.PatchOptions{}, "status")
	if !apierrors.IsInvalid(err) {
		t.Errorf("PATCH /status with a forged count: %v, want 422 Invalid", err)
	}
	if _, err := framework.Kubectl(t, "patch", "np", poolName, "--subresource=status", "--type=merge", "-p", `{"status":{"nodes":["x"]}}`); err == nil ||
		!strings.Contains(err.Error(), "is invalid") {
		t.Errorf("kubectl patch --subresource=status: %v, want an Invalid error", err)
	}
	// The main endpoint ignores a status in the body (it resets the status), like built-in resources.
	updated, err := pools.Update(ctx, forged, metav1.UpdateOptions{})
	if err != nil {
		t.Errorf("PUT of the pool with a forged status: %v", err)
	} else if s := updated.Status; !slices.Equal(s.Nodes, []string{nodeA, nodeB}) || s.ReadyNodeNum != 2 || s.UnreadyNodeNum != 0 {
		t.Errorf("PUT of the pool changed its status to %+v", s)
	}
	_, err = pools.Patch(ctx, poolName, types.MergePatchType, []byte(`{"status":{"readyNodeNum":9}}`), metav1.PatchOptions{})
	if err != nil {
		t.Errorf("merge patch of the pool's status through the main endpoint: %v", err)
	}
	if got, err := pools.Get(ctx, poolName, metav1.GetOptions{}); err != nil || got.Status.ReadyNodeNum != 2 {
		t.Errorf("after writes of the status by users, pool %v, %v; want readyNodeNum 2", got, err)
	}
	// A write that changed nothing keeps the resourceVersion, so no event is owed for it.
	if pool2, err := pools.Get(ctx, poolName, metav1.GetOptions{}); err == nil && pool2.ResourceVersion != pool.ResourceVersion {
		t.Errorf("no-op writes moved the resourceVersion from %s to %s", pool.ResourceVersion, pool2.ResourceVersion)
	}

	// A pool with nodes cannot be deleted; the error names them.
	err = pools.Delete(ctx, poolName, metav1.DeleteOptions{})
	if err == nil || !strings.Contains(err.Error(), nodeA) || !strings.Contains(err.Error(), nodeB) {
		t.Errorf("delete of a pool with nodes: %v, want an error naming %s and %s", err, nodeA, nodeB)
	} else if !apierrors.IsForbidden(err) {
		t.Errorf("delete of a pool with nodes: %v (reason %s), want 403 Forbidden", err, apierrors.ReasonForError(err))
	}
	if _, err := framework.Kubectl(t, "delete", "np", poolName); err == nil || !strings.Contains(err.Error(), nodeA) {
		t.Errorf("kubectl delete of a pool with nodes: %v, want an error naming the nodes", err)
	}

	setReady(nodeB, corev1.ConditionFalse)
	pw.expect(t, "node b turns NotReady", []string{nodeA, nodeB}, 1, 1)
	// Leaving by losing the label.
	patch, _ := json.Marshal(map[string]interface{}{"metadata": map[string]interface{}{"labels": map[string]interface{}{appsapi.NodePoolLabel: nil}}})
	if _, err := nodes.Patch(ctx, nodeB, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	pw.expect(t, "node b leaves (label removed)", []string{nodeA}, 1, 0)

	// Still one node: still refused, naming only that node.
	if err := pools.Delete(ctx, poolName, metav1.DeleteOptions{}); err == nil || !strings.Contains(err.Error(), nodeA) || strings.Contains(err.Error(), nodeB) {
		t.Errorf("delete of a pool with node %s: %v, want an error naming only it", nodeA, err)
	}

	// Leaving by being deleted.
	if err := nodes.Delete(ctx, nodeA, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	pw.expect(t, "node a is deleted", nil, 0, 0)

	// Without nodes the pool can go.
	if err := pools.Delete(ctx, poolName, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete of an empty pool: %v", err)
	}
	waitEvent(t, w, 30*time.Second, func(ev watch.Event) bool { return ev.Type == watch.Deleted })
}

// TestNodePoolStatusFromExistingNodes checks that a pool created after its nodes starts with
// their status, and that nodes of other pools do not count.
func TestNodePoolStatusFromExistingNodes(t *testing.T) {
	t.Parallel()
	c := framework.Clients(t)
	ctx := context.Background()
	poolName := uniqueName("prelabelled")
	nodes := c.Kube.CoreV1().Nodes()
	for i, pool := range []string{poolName, poolName, poolName + "-other"} {
		name := fmt.Sprintf("%s-n%d", poolName, i)
		if _, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name: name, Labels: map[string]string{appsapi.NodePoolLabel: pool},
		}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nodes.Delete(context.Background(), name, metav1.DeleteOptions{}) })
	}
	pools := c.Yurt.AppsV1beta2().NodePools()
	// The server's informer sees the nodes shortly after they are created.
	framework.WaitFor(t, 30*time.Second, func() (bool, error) {
		_ = pools.Delete(ctx, poolName, metav1.DeleteOptions{})
		pool, err := pools.Create(ctx, &appsv1beta2.NodePool{
			ObjectMeta: metav1.ObjectMeta{Name: poolName},
			Spec:       appsv1beta2.NodePoolSpec{Type: appsv1beta2.Cloud},
		}, metav1.CreateOptions{})
		if err != nil {
			return false, err
		}
		return slices.Equal(pool.Status.Nodes, []string{poolName + "-n0", poolName + "-n1"}) && pool.Status.UnreadyNodeNum == 2, nil
	})
	t.Cleanup(func() {
		for _, n := range []string{"-n0", "-n1"} {
			_ = nodes.Delete(context.Background(), poolName+n, metav1.DeleteOptions{})
		}
		framework.WaitFor(t, 30*time.Second, func() (bool, error) {
			err := pools.Delete(context.Background(), poolName, metav1.DeleteOptions{})
			return err == nil || apierrors.IsNotFound(err), err
		})
	})
}
