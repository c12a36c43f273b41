package manager

import (
	"context"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/yurt-edge/yurt/pkg/controller/delegatedheartbeat"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

// TestDelegatedHeartbeatTaint: when a node's cloud Lease carries
// openyurt.io/delegate-heartbeat=true (its pool leader renews it), the node is tainted
// node.openyurt.io/unschedulable:NoSchedule; when the annotation goes, so does the taint.
func TestDelegatedHeartbeatTaint(t *testing.T) {
	setup(t)
	kube := framework.Clients(t).Kube
	ctx := context.Background()
	const node = "e2e-delegated"
	createNode(t, kube, node, nil, nil)
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: corev1.NamespaceNodeLease},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(node),
			LeaseDurationSeconds: ptr.To[int32](40),
			RenewTime:            &metav1.MicroTime{Time: metav1.Now().Time},
		},
	}
	if _, err := kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, lease, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(context.Background(), node, metav1.DeleteOptions{})
	})
	tainted := func() (bool, error) {
		n, err := getNode(kube, node)
		if err != nil {
			return false, err
		}
		return findTaint(n, delegatedheartbeat.UnschedulableTaintKey, corev1.TaintEffectNoSchedule) != nil, nil
	}
	setAnnotation := func(value string) {
		t.Helper()
		patch := `{"metadata":{"annotations":{"` + delegatedheartbeat.DelegateHeartbeatAnnotation + `":` + value + `}}}`
		if _, err := kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Patch(ctx, node, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	if ok, err := tainted(); err != nil || ok {
		t.Fatalf("node tainted before any delegation: %v %v", ok, err)
	}
	setAnnotation(`"true"`)
	framework.WaitFor(t, waitTimeout, tainted)
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		return hasEvent(events(t, kube, "default", "Node", node), delegatedheartbeat.ReasonTainted), nil
	})

	setAnnotation(`null`)
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		ok, err := tainted()
		return !ok, err
	})
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		return hasEvent(events(t, kube, "default", "Node", node), delegatedheartbeat.ReasonUntainted), nil
	})
}
