package delegatedheartbeat

import (
	"context"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
)

func TestSync(t *testing.T) {
	tests := []struct {
		name        string
		annotations map[string]string
		noLease     bool
		taints      []corev1.Taint
		wantTaint   bool
		wantUpdate  bool
	}{
		{name: "delegated: tainted", annotations: map[string]string{DelegateHeartbeatAnnotation: "true"}, wantTaint: true, wantUpdate: true},
		{name: "delegated and tainted: nothing to do", annotations: map[string]string{DelegateHeartbeatAnnotation: "true"},
			taints: []corev1.Taint{{Key: UnschedulableTaintKey, Value: "true", Effect: corev1.TaintEffectNoSchedule}}, wantTaint: true},
		{name: "direct again: untainted, other taints kept", taints: []corev1.Taint{
			{Key: "other", Effect: corev1.TaintEffectNoExecute},
			{Key: UnschedulableTaintKey, Value: "true", Effect: corev1.TaintEffectNoSchedule},
		}, wantUpdate: true},
		{name: "annotation false", annotations: map[string]string{DelegateHeartbeatAnnotation: "false"}},
		{name: "no lease: untainted", noLease: true, taints: []corev1.Taint{{Key: UnschedulableTaintKey, Effect: corev1.TaintEffectNoSchedule}}, wantUpdate: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{Taints: tt.taints}}
			lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n1", Namespace: NodeLeaseNamespace, Annotations: tt.annotations}}
			if tt.noLease {
				lease = nil
			}
			kube, c := newTestController(node, lease)
			if err := c.sync(context.Background(), "n1"); err != nil {
				t.Fatal(err)
			}
			got, err := kube.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if hasTaint(got) != tt.wantTaint {
				t.Errorf("tainted = %v, want %v (taints %v)", hasTaint(got), tt.wantTaint, got.Spec.Taints)
			}
			if tt.name == "direct again: untainted, other taints kept" && len(got.Spec.Taints) != 1 {
				t.Errorf("other taints lost: %v", got.Spec.Taints)
			}
			updated := false
			for _, a := range kube.Actions() {
				if a.GetVerb() == "update" {
					updated = true
				}
			}
			if updated != tt.wantUpdate {
				t.Errorf("updated = %v, want %v", updated, tt.wantUpdate)
			}
		})
	}
}

func TestSyncSetsReadyOnFreshDelegatedLease(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	delegatedAnn := map[string]string{DelegateHeartbeatAnnotation: "true"}
	tests := []struct {
		name        string
		annotations map[string]string
		renewAgo    time.Duration // 0: no renewTime
		duration    int32         // 0: unset (40s)
		ready       corev1.ConditionStatus
		wantReady   corev1.ConditionStatus
		wantReason  string
	}{
		{name: "delegated, fresh, Unknown: set Ready", annotations: delegatedAnn, renewAgo: 5 * time.Second, duration: 40, ready: corev1.ConditionUnknown,
			wantReady: corev1.ConditionTrue, wantReason: ReasonDelegateLease},
		{name: "delegated, fresh without a duration (40s assumed)", annotations: delegatedAnn, renewAgo: 30 * time.Second, ready: corev1.ConditionUnknown,
			wantReady: corev1.ConditionTrue, wantReason: ReasonDelegateLease},
		{name: "delegated but stale: the node is gone, KCM is right", annotations: delegatedAnn, renewAgo: 41 * time.Second, duration: 40, ready: corev1.ConditionUnknown,
			wantReady: corev1.ConditionUnknown, wantReason: "NodeStatusUnknown"},
		{name: "delegated, no renewTime", annotations: delegatedAnn, ready: corev1.ConditionUnknown,
			wantReady: corev1.ConditionUnknown, wantReason: "NodeStatusUnknown"},
		{name: "not delegated: KCM's Unknown stands", renewAgo: 5 * time.Second, duration: 40, ready: corev1.ConditionUnknown,
			wantReady: corev1.ConditionUnknown, wantReason: "NodeStatusUnknown"},
		{name: "delegated, False (kubelet said so): left alone", annotations: delegatedAnn, renewAgo: 5 * time.Second, duration: 40, ready: corev1.ConditionFalse,
			wantReady: corev1.ConditionFalse, wantReason: "NodeStatusUnknown"},
		{name: "delegated, already True: left alone", annotations: delegatedAnn, renewAgo: 5 * time.Second, duration: 40, ready: corev1.ConditionTrue,
			wantReady: corev1.ConditionTrue, wantReason: "NodeStatusUnknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := metav1.NewTime(now.Add(-time.Hour))
			node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown"},
				{Type: corev1.NodeReady, Status: tt.ready, Reason: "NodeStatusUnknown", LastHeartbeatTime: old, LastTransitionTime: old},
			}}}
			lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n1", Namespace: NodeLeaseNamespace, Annotations: tt.annotations}}
			if tt.renewAgo > 0 {
				lease.Spec.RenewTime = &metav1.MicroTime{Time: now.Add(-tt.renewAgo)}
			}
			if tt.duration > 0 {
				lease.Spec.LeaseDurationSeconds = &tt.duration
			}
			kube, c := newTestController(node, lease)
			c.now = func() time.Time { return now }
			if err := c.sync(context.Background(), "n1"); err != nil {
				t.Fatal(err)
			}
			got, err := kube.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			statusUpdates := 0
			for _, a := range kube.Actions() {
				if a.GetVerb() == "update" && a.GetSubresource() == "status" {
					statusUpdates++
				}
			}
			for _, cond := range got.Status.Conditions {
				switch cond.Type {
				case corev1.NodeReady:
					if cond.Status != tt.wantReady || cond.Reason != tt.wantReason {
						t.Errorf("Ready = %s/%s, want %s/%s", cond.Status, cond.Reason, tt.wantReady, tt.wantReason)
					}
					if tt.wantReason == ReasonDelegateLease {
						if !cond.LastHeartbeatTime.Time.Equal(lease.Spec.RenewTime.Time) || !cond.LastTransitionTime.Time.Equal(now) {
							t.Errorf("heartbeat %s transition %s, want the Lease's renewTime and now", cond.LastHeartbeatTime, cond.LastTransitionTime)
						}
					}
				case corev1.NodeMemoryPressure:
					if cond.Status != corev1.ConditionUnknown {
						t.Errorf("MemoryPressure changed to %s: only Ready is vouched for", cond.Status)
					}
				}
			}
			if want := tt.wantReason == ReasonDelegateLease; (statusUpdates == 1) != want {
				t.Errorf("%d status updates, want Ready set: %v", statusUpdates, want)
			}
		})
	}
}

// newTestController is a controller over a fake clientset holding node, with node and lease
// (if not nil) in its informers' caches.
func newTestController(node *corev1.Node, lease *coordinationv1.Lease) (*kubefake.Clientset, *Controller) {
	kube := kubefake.NewClientset(node)
	f := informers.NewSharedInformerFactory(kube, 0)
	c := NewController(kube, f.Core().V1().Nodes(), f.Coordination().V1().Leases(), record.NewFakeRecorder(10))
	_ = f.Core().V1().Nodes().Informer().GetIndexer().Add(node)
	if lease != nil {
		_ = f.Coordination().V1().Leases().Informer().GetIndexer().Add(lease)
	}
	return kube, c
}
