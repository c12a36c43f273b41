package nodepool

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/yurt-edge/yurt/apis/apps"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	yurtfake "github.com/yurt-edge/yurt/generated/clientset/versioned/fake"
	yurtinformers "github.com/yurt-edge/yurt/generated/informers/externalversions"
)

// newTestController builds a controller on fake clients whose listers hold objs.
func newTestController(t *testing.T, nodes []*corev1.Node, pools []*appsv1beta2.NodePool) (*Controller, *kubefake.Clientset, *record.FakeRecorder) {
	t.Helper()
	var kubeObjs, yurtObjs []runtime.Object
	for _, n := range nodes {
		kubeObjs = append(kubeObjs, n)
	}
	for _, p := range pools {
		yurtObjs = append(yurtObjs, p)
	}
	kube := kubefake.NewClientset(kubeObjs...)
	yurt := yurtfake.NewSimpleClientset(yurtObjs...)
	kf := informers.NewSharedInformerFactory(kube, 0)
	yf := yurtinformers.NewSharedInformerFactory(yurt, 0)
	rec := record.NewFakeRecorder(100)
	c := NewController(kube, kf.Core().V1().Nodes(), yf.Apps().V1beta2().NodePools(), rec)
	for _, n := range nodes {
		_ = kf.Core().V1().Nodes().Informer().GetIndexer().Add(n)
	}
	for _, p := range pools {
		_ = yf.Apps().V1beta2().NodePools().Informer().GetIndexer().Add(p)
	}
	return c, kube, rec
}

func TestSync(t *testing.T) {
	pool := &appsv1beta2.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: appsv1beta2.NodePoolSpec{
			HostNetwork: true,
			Labels:      map[string]string{"site": "a"},
			Taints:      []corev1.Taint{{Key: "gpu", Value: "pool", Effect: corev1.TaintEffectNoSchedule}},
		},
	}
	member := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{apps.NodePoolLabel: "p"}}}
	conflicting := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n2", Labels: map[string]string{apps.NodePoolLabel: "p"}},
		Spec:       corev1.NodeSpec{Taints: []corev1.Taint{{Key: "gpu", Value: "admin", Effect: corev1.TaintEffectNoSchedule}}},
	}
	orphan := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n3", Labels: map[string]string{apps.NodePoolLabel: "missing", "site": "a"},
		Annotations: map[string]string{apps.PreviousAttributesAnnotation: `{"labels":{"site":"a"}}`}}}
	untouched := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n4"}}
	c, kube, rec := newTestController(t, []*corev1.Node{member, conflicting, orphan, untouched}, []*appsv1beta2.NodePool{pool})
	ctx := context.Background()

	for _, name := range []string{"n1", "n2", "n3", "n4", "gone"} {
		if err := c.sync(ctx, name); err != nil {
			t.Fatalf("sync(%s): %v", name, err)
		}
	}
	get := func(name string) *corev1.Node {
		n, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	n1 := get("n1")
	if n1.Labels["site"] != "a" || n1.Labels[apps.NodePoolHostNetworkLabel] != "true" || len(n1.Spec.Taints) != 1 {
		t.Errorf("n1 = labels %v taints %v", n1.Labels, n1.Spec.Taints)
	}
	n2 := get("n2")
	if len(n2.Spec.Taints) != 1 || n2.Spec.Taints[0].Value != "admin" || n2.Labels["site"] != "a" {
		t.Errorf("n2 = labels %v taints %v; want the admin taint kept and labels applied", n2.Labels, n2.Spec.Taints)
	}
	n3 := get("n3")
	if _, ok := n3.Labels["site"]; ok {
		t.Errorf("n3 names a missing pool; the earlier pool's label should be gone: %v", n3.Labels)
	}
	var updates int
	for _, a := range kube.Actions() {
		if a.GetVerb() == "update" {
			updates++
		}
	}
	if updates != 3 {
		t.Errorf("%d updates, want 3 (n1, n2, n3; not n4)", updates)
	}
	conflicts := 0
	for len(rec.Events) > 0 {
		if e := <-rec.Events; len(e) > 0 && strings.Contains(e, ReasonTaintConflict) {
			conflicts++
		}
	}
	if conflicts != 2 { // one on the node, one on the pool
		t.Errorf("%d TaintConflict events, want 2", conflicts)
	}
}
