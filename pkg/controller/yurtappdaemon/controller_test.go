package yurtappdaemon

import (
	"context"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/yurt-edge/yurt/apis/apps"
	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	yurtfake "github.com/yurt-edge/yurt/generated/clientset/versioned/fake"
	yurtinformers "github.com/yurt-edge/yurt/generated/informers/externalversions"
	"github.com/yurt-edge/yurt/pkg/controller/workload"
)

func TestSyncFollowsPools(t *testing.T) {
	lbls := map[string]string{"app": "agent"}
	d := &appsv1alpha1.YurtAppDaemon{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "ns", UID: "d-uid", Generation: 2},
		Spec: appsv1alpha1.YurtAppDaemonSpec{
			Selector:         &metav1.LabelSelector{MatchLabels: lbls},
			NodePoolSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"daemon": "yes"}},
			WorkloadTemplate: appsv1alpha1.WorkloadTemplate{StatefulSetTemplate: &appsv1alpha1.StatefulSetTemplate{
				ObjectMeta: metav1.ObjectMeta{Labels: lbls},
				Spec: appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: lbls}, Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: lbls}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "i"}}},
				}},
			}},
		},
	}
	pool := func(name string, l map[string]string) *appsv1beta2.NodePool {
		return &appsv1beta2.NodePool{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}
	}
	kube := kubefake.NewClientset()
	yurt := yurtfake.NewSimpleClientset(d)
	kf := informers.NewSharedInformerFactory(kube, 0)
	yf := yurtinformers.NewSharedInformerFactory(yurt, 0)
	a := kf.Apps().V1()
	c := NewController(kube, yurt, yf.Apps().V1alpha1().YurtAppDaemons(), yf.Apps().V1beta2().NodePools(),
		a.Deployments(), a.StatefulSets(), a.ControllerRevisions(), record.NewFakeRecorder(10))
	_ = yf.Apps().V1alpha1().YurtAppDaemons().Informer().GetIndexer().Add(d)
	poolIdx := yf.Apps().V1beta2().NodePools().Informer().GetIndexer()
	for _, p := range []*appsv1beta2.NodePool{pool("x", map[string]string{"daemon": "yes"}), pool("y", map[string]string{"daemon": "yes"}), pool("z", nil)} {
		_ = poolIdx.Add(p)
	}
	ctx := context.Background()
	resync := func() {
		list, _ := kube.AppsV1().StatefulSets("ns").List(ctx, metav1.ListOptions{})
		idx := a.StatefulSets().Informer().GetIndexer()
		for _, o := range idx.List() {
			_ = idx.Delete(o)
		}
		for i := range list.Items {
			_ = idx.Add(&list.Items[i])
		}
		revs, _ := kube.AppsV1().ControllerRevisions("ns").List(ctx, metav1.ListOptions{})
		for i := range revs.Items {
			_ = a.ControllerRevisions().Informer().GetIndexer().Add(&revs.Items[i])
		}
		cur, _ := yurt.AppsV1alpha1().YurtAppDaemons("ns").Get(ctx, "agent", metav1.GetOptions{})
		_ = yf.Apps().V1alpha1().YurtAppDaemons().Informer().GetIndexer().Update(cur)
	}
	pools := func() []string {
		list, _ := kube.AppsV1().StatefulSets("ns").List(ctx, metav1.ListOptions{})
		var out []string
		for _, s := range list.Items {
			if s.Spec.Template.Spec.NodeSelector[apps.NodePoolLabel] != s.Labels[workload.PoolNameLabel] || s.Labels[workload.RefYurtAppDaemonLabel] != "agent" {
				t.Fatalf("StatefulSet %s not pinned/labelled: %v %v", s.Name, s.Labels, s.Spec.Template.Spec.NodeSelector)
			}
			out = append(out, s.Labels[workload.PoolNameLabel])
		}
		slices.Sort(out)
		return out
	}

	if err := c.sync(ctx, "ns/agent"); err != nil {
		t.Fatal(err)
	}
	if got := pools(); !slices.Equal(got, []string{"x", "y"}) {
		t.Fatalf("pools %v", got)
	}
	cur, _ := yurt.AppsV1alpha1().YurtAppDaemons("ns").Get(ctx, "agent", metav1.GetOptions{})
	if st := cur.Status; !slices.Equal(st.NodePools, []string{"x", "y"}) || st.TemplateType != "StatefulSet" || st.ObservedGeneration != 2 ||
		st.CurrentRevision == "" || len(st.Conditions) != 1 || st.Conditions[0].Status != corev1.ConditionTrue {
		t.Fatalf("status %+v", st)
	}

	// x loses the label, z gains it.
	resync()
	_ = poolIdx.Update(pool("x", nil))
	_ = poolIdx.Update(pool("z", map[string]string{"daemon": "yes"}))
	if err := c.sync(ctx, "ns/agent"); err != nil {
		t.Fatal(err)
	}
	if got := pools(); !slices.Equal(got, []string{"y", "z"}) {
		t.Fatalf("after relabelling: pools %v", got)
	}
}
