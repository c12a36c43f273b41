package delegatedheartbeat

import (
	"context"
	"testing"

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
			kube := kubefake.NewClientset(node)
			f := informers.NewSharedInformerFactory(kube, 0)
			c := NewController(kube, f.Core().V1().Nodes(), f.Coordination().V1().Leases(), record.NewFakeRecorder(10))
			_ = f.Core().V1().Nodes().Informer().GetIndexer().Add(node)
			if !tt.noLease {
				_ = f.Coordination().V1().Leases().Informer().GetIndexer().Add(lease)
			}
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
