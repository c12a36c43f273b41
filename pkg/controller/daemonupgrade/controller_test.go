package daemonupgrade

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
)

func fixture(t *testing.T, strategy string, updateType appsv1.DaemonSetUpdateStrategyType, nodeReady []bool, podHash []string) (*Controller, *kubefake.Clientset, *record.FakeRecorder) {
	t.Helper()
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "ds", Namespace: "ns", UID: "ds-uid", Annotations: map[string]string{
			UpdateStrategyAnnotation: strategy, MaxUnavailableAnnotation: "1",
		}},
		Spec: appsv1.DaemonSetSpec{
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "ds"}},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: updateType},
		},
		// kube-controller-manager leaves nodes tainted unreachable:NoSchedule out.
		Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: int32(countTrue(nodeReady))},
	}
	ctrl := true
	owner := []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "ds", UID: "ds-uid", Controller: &ctrl}}
	objs := []runtime.Object{ds}
	for i, h := range []string{"h1", "h2"} {
		objs = append(objs, &appsv1.ControllerRevision{
			ObjectMeta: metav1.ObjectMeta{Name: "ds-" + h, Namespace: "ns", OwnerReferences: owner, Labels: map[string]string{appsv1.DefaultDaemonSetUniqueLabelKey: h}},
			Revision:   int64(i + 1),
		})
	}
	for i, ready := range nodeReady {
		st := corev1.ConditionFalse
		if ready {
			st = corev1.ConditionTrue
		}
		node := fmt.Sprintf("n%d", i)
		objs = append(objs, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}}})
		objs = append(objs, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "pod-" + node, Namespace: "ns", UID: types.UID("uid-" + node), OwnerReferences: owner,
				Labels: map[string]string{"app": "ds", appsv1.DefaultDaemonSetUniqueLabelKey: podHash[i]}},
			Spec:   corev1.PodSpec{NodeName: node},
			Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		})
	}
	client := kubefake.NewClientset(objs...)
	f := informers.NewSharedInformerFactory(client, 0)
	rec := record.NewFakeRecorder(50)
	c := NewController(client, f.Apps().V1().DaemonSets(), f.Core().V1().Pods(), f.Core().V1().Nodes(), f.Apps().V1().ControllerRevisions(), rec)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	f.Start(stop)
	f.WaitForCacheSync(stop)
	return c, client, rec
}

func deletedPods(client *kubefake.Clientset) []string {
	var out []string
	for _, a := range client.Actions() {
		if a.GetVerb() == "delete" && a.GetResource().Resource == "pods" {
			out = append(out, a.(interface{ GetName() string }).GetName())
		}
	}
	return out
}

func drain(rec *record.FakeRecorder) string {
	var out []string
	for len(rec.Events) > 0 {
		out = append(out, <-rec.Events)
	}
	return strings.Join(out, "\n")
}

func TestSyncAdvancedRollingUpdate(t *testing.T) {
	c, client, rec := fixture(t, "advancedrollingupdate", appsv1.OnDeleteDaemonSetStrategyType,
		[]bool{true, true, false}, []string{"h1", "h1", "h1"})
	if err := c.sync(context.Background(), "ns/ds"); err != nil {
		t.Fatal(err)
	}
	if del := deletedPods(client); len(del) != 1 || del[0] == "pod-n2" {
		t.Fatalf("deleted %v, want one pod on a Ready node", del)
	}
	ev := drain(rec)
	if !strings.Contains(ev, ReasonUpgrading) || !strings.Contains(ev, ReasonWaitingForNodes+" old pods on nodes that are not Ready wait for them to return: n2") {
		t.Fatalf("events:\n%s", ev)
	}
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// TestSyncBudgetAcrossSyncs: once a pod is deleted, its node spends the budget until its
// replacement is Ready, also when the pod has vanished from the cache and the DaemonSet's
// desired count leaves out a NotReady node (what once let a second pod go at once).
func TestSyncBudgetAcrossSyncs(t *testing.T) {
	c, client, _ := fixture(t, AdvancedRollingUpdate, appsv1.OnDeleteDaemonSetStrategyType,
		[]bool{true, true, false}, []string{"h1", "h1", "h1"})
	ctx := context.Background()
	if err := c.sync(ctx, "ns/ds"); err != nil {
		t.Fatal(err)
	}
	first := deletedPods(client)
	if len(first) != 1 {
		t.Fatalf("deleted %v", first)
	}
	// Wait for the informer to drop the deleted pod, then sync again.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := c.pods.Pods("ns").Get(first[0]); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the informer never saw the deletion")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.sync(ctx, "ns/ds"); err != nil {
		t.Fatal(err)
	}
	if del := deletedPods(client); len(del) != 1 {
		t.Fatalf("a second pod went before the first was replaced: %v", del)
	}
}

func TestSyncNeedsOnDelete(t *testing.T) {
	c, client, rec := fixture(t, AdvancedRollingUpdate, appsv1.RollingUpdateDaemonSetStrategyType, []bool{true}, []string{"h1"})
	for range 2 {
		if err := c.sync(context.Background(), "ns/ds"); err != nil {
			t.Fatal(err)
		}
	}
	if del := deletedPods(client); len(del) != 0 {
		t.Fatalf("deleted %v", del)
	}
	if ev := drain(rec); strings.Count(ev, ReasonStrategyNeedsOnDelete) != 1 {
		t.Fatalf("want exactly one warning, got:\n%s", ev)
	}
}

func TestSyncOTA(t *testing.T) {
	c, client, _ := fixture(t, "OTA", appsv1.OnDeleteDaemonSetStrategyType, []bool{true, false}, []string{"h1", "h2"})
	if err := c.sync(context.Background(), "ns/ds"); err != nil {
		t.Fatal(err)
	}
	if del := deletedPods(client); len(del) != 0 {
		t.Fatalf("OTA must not delete: %v", del)
	}
	for node, want := range map[string]corev1.ConditionStatus{"n0": corev1.ConditionTrue, "n1": corev1.ConditionFalse} {
		p, err := client.CoreV1().Pods("ns").Get(context.Background(), "pod-"+node, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var got *corev1.PodCondition
		for i := range p.Status.Conditions {
			if p.Status.Conditions[i].Type == PodNeedUpgrade {
				got = &p.Status.Conditions[i]
			}
		}
		if got == nil || got.Status != want || got.Message != "controllerrevision: h2" {
			t.Errorf("pod on %s: %+v, want %s", node, got, want)
		}
	}
}
