package autonomy

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

func TestSync(t *testing.T) {
	ctrl := true
	tests := []struct {
		name       string
		nodeAnnots map[string]string
		pod        *corev1.Pod
		wantUpdate bool
		wantSecs   *int64 // unreachable tolerationSeconds after sync
		wantEvent  string
	}{
		{
			name:       "autonomous node",
			nodeAnnots: map[string]string{AutonomyDurationAnnotation: "10m"},
			pod:        &corev1.Pod{Spec: corev1.PodSpec{Tolerations: defaultTolerations(300)}},
			wantUpdate: true, wantSecs: ptr.To[int64](600), wantEvent: ReasonTolerationsSet,
		},
		{
			name:       "daemonset pod left alone",
			nodeAnnots: map[string]string{AutonomyDurationAnnotation: "10m"},
			pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{{Kind: "DaemonSet", Name: "ds", Controller: &ctrl}}},
				Spec: corev1.PodSpec{Tolerations: defaultTolerations(300)}},
			wantSecs: ptr.To[int64](300),
		},
		{
			name:       "invalid annotation: event, no change",
			nodeAnnots: map[string]string{AutonomyDurationAnnotation: "forever"},
			pod:        &corev1.Pod{Spec: corev1.PodSpec{Tolerations: defaultTolerations(300)}},
			wantSecs:   ptr.To[int64](300), wantEvent: ReasonInvalidAutonomy,
		},
		{
			name: "annotation gone: restored",
			pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{OriginalNotReadyAnnotation: "300", OriginalUnreachableAnnotation: "300"}},
				Spec: corev1.PodSpec{Tolerations: defaultTolerations(600)}},
			wantUpdate: true, wantSecs: ptr.To[int64](300), wantEvent: ReasonTolerationsRestored,
		},
		{
			name:     "plain node, plain pod",
			pod:      &corev1.Pod{Spec: corev1.PodSpec{Tolerations: defaultTolerations(300)}},
			wantSecs: ptr.To[int64](300),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Annotations: tt.nodeAnnots}}
			pod := tt.pod.DeepCopy()
			pod.Name, pod.Namespace, pod.Spec.NodeName = "p", "ns", "n1"
			kube := kubefake.NewClientset(node, pod)
			f := informers.NewSharedInformerFactory(kube, 0)
			rec := record.NewFakeRecorder(10)
			c := NewController(kube, f.Core().V1().Nodes(), f.Core().V1().Pods(), rec)
			_ = f.Core().V1().Nodes().Informer().GetIndexer().Add(node)
			_ = f.Core().V1().Pods().Informer().GetIndexer().Add(pod)
			if err := c.sync(context.Background(), "ns/p"); err != nil {
				t.Fatal(err)
			}
			got, err := kube.CoreV1().Pods("ns").Get(context.Background(), "p", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if s, _ := effectiveSeconds(got.Spec.Tolerations, corev1.TaintNodeUnreachable); !equalSeconds(s, tt.wantSecs) {
				t.Errorf("unreachable tolerationSeconds = %v, want %v", ptr.Deref(s, -1), ptr.Deref(tt.wantSecs, -1))
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
			var events []string
			for len(rec.Events) > 0 {
				events = append(events, <-rec.Events)
			}
			if tt.wantEvent != "" && (len(events) == 0 || !strings.Contains(strings.Join(events, "\n"), tt.wantEvent)) {
				t.Errorf("events %q, want one with %s", events, tt.wantEvent)
			}
			if tt.wantEvent == "" && len(events) > 0 {
				t.Errorf("unexpected events %q", events)
			}
		})
	}
}
