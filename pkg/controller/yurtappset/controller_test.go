package yurtappset

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	appsv1beta1 "github.com/yurt-edge/yurt/apis/apps/v1beta1"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	yurtfake "github.com/yurt-edge/yurt/generated/clientset/versioned/fake"
	yurtinformers "github.com/yurt-edge/yurt/generated/informers/externalversions"
	"github.com/yurt-edge/yurt/pkg/controller/workload"
)

type fixture struct {
	c    *Controller
	kube *kubefake.Clientset
	yurt *yurtfake.Clientset
	kf   informers.SharedInformerFactory
	yf   yurtinformers.SharedInformerFactory
	rec  *record.FakeRecorder
}

func newFixture(t *testing.T, set *appsv1beta1.YurtAppSet, pools ...*appsv1beta2.NodePool) *fixture {
	t.Helper()
	yurtObjs := []runtime.Object{set}
	for _, p := range pools {
		yurtObjs = append(yurtObjs, p)
	}
	f := &fixture{kube: kubefake.NewClientset(), yurt: yurtfake.NewSimpleClientset(yurtObjs...), rec: record.NewFakeRecorder(100)}
	f.kf = informers.NewSharedInformerFactory(f.kube, 0)
	f.yf = yurtinformers.NewSharedInformerFactory(f.yurt, 0)
	apps := f.kf.Apps().V1()
	f.c = NewController(f.kube, f.yurt, f.yf.Apps().V1beta1().YurtAppSets(), f.yf.Apps().V1beta2().NodePools(),
		apps.Deployments(), apps.StatefulSets(), apps.ControllerRevisions(), f.rec)
	_ = f.yf.Apps().V1beta1().YurtAppSets().Informer().GetIndexer().Add(set)
	for _, p := range pools {
		_ = f.yf.Apps().V1beta2().NodePools().Informer().GetIndexer().Add(p)
	}
	return f
}

// resync copies what the fake server holds into the listers, as the informers would.
func (f *fixture) resync(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	deps, _ := f.kube.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	idx := f.kf.Apps().V1().Deployments().Informer().GetIndexer()
	for _, o := range idx.List() {
		_ = idx.Delete(o)
	}
	for i := range deps.Items {
		_ = idx.Add(&deps.Items[i])
	}
	revs, _ := f.kube.AppsV1().ControllerRevisions("").List(ctx, metav1.ListOptions{})
	ridx := f.kf.Apps().V1().ControllerRevisions().Informer().GetIndexer()
	for i := range revs.Items {
		_ = ridx.Add(&revs.Items[i])
	}
	sets, _ := f.yurt.AppsV1beta1().YurtAppSets("").List(ctx, metav1.ListOptions{})
	for i := range sets.Items {
		_ = f.yf.Apps().V1beta1().YurtAppSets().Informer().GetIndexer().Update(&sets.Items[i])
	}
}

func (f *fixture) deployments(t *testing.T) map[string]appsv1.Deployment {
	list, err := f.kube.AppsV1().Deployments("ns").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]appsv1.Deployment{}
	for _, d := range list.Items {
		out[d.Labels[workload.PoolNameLabel]] = d
	}
	return out
}

func testSet() *appsv1beta1.YurtAppSet {
	lbls := map[string]string{"app": "web"}
	return &appsv1beta1.YurtAppSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "set-uid", Generation: 1},
		Spec: appsv1beta1.YurtAppSetSpec{
			NodePoolSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "edge"}},
			Workload: appsv1beta1.Workload{WorkloadTemplate: appsv1beta1.WorkloadTemplate{DeploymentTemplate: &appsv1beta1.DeploymentTemplate{
				ObjectMeta: metav1.ObjectMeta{Labels: lbls},
				Spec: appsv1.DeploymentSpec{
					Selector: &metav1.LabelSelector{MatchLabels: lbls},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbls},
						Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "img:1"}}}},
				},
			}}},
		},
	}
}

func testPool(name string, lbls map[string]string) *appsv1beta2.NodePool {
	return &appsv1beta2.NodePool{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}}
}

func (f *fixture) status(t *testing.T) appsv1beta1.YurtAppSetStatus {
	s, err := f.yurt.AppsV1beta1().YurtAppSets("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s.Status
}

func cond(st appsv1beta1.YurtAppSetStatus, ct appsv1beta1.YurtAppSetConditionType) appsv1beta1.YurtAppSetCondition {
	for _, c := range st.Conditions {
		if c.Type == ct {
			return c
		}
	}
	return appsv1beta1.YurtAppSetCondition{}
}

func TestSyncCreatesAndDeletesPerPool(t *testing.T) {
	f := newFixture(t, testSet(), testPool("a", map[string]string{"tier": "edge"}), testPool("b", map[string]string{"tier": "edge"}), testPool("c", nil))
	ctx := context.Background()
	if err := f.c.sync(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	deps := f.deployments(t)
	if len(deps) != 2 || deps["a"].Name == "" || deps["b"].Name == "" {
		t.Fatalf("deployments %v", deps)
	}
	st := f.status(t)
	if st.TotalWorkloads != 2 || st.UpdatedWorkloads != 2 || st.ReadyWorkloads != 0 || st.CurrentRevision == "" || st.ObservedGeneration != 1 {
		t.Fatalf("status %+v", st)
	}
	if c := cond(st, appsv1beta1.AppSetAppDispatched); c.Status != corev1.ConditionTrue {
		t.Fatalf("AppDispatched %+v", c)
	}

	// A second sync with up-to-date caches writes nothing.
	f.resync(t)
	f.kube.ClearActions()
	if err := f.c.sync(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	for _, a := range f.kube.Actions() {
		if a.GetVerb() != "list" && a.GetVerb() != "watch" {
			t.Errorf("steady state wrote: %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}

	// Pool b leaves the selection: its Deployment goes.
	_ = f.yf.Apps().V1beta2().NodePools().Informer().GetIndexer().Update(testPool("b", nil))
	if err := f.c.sync(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	if deps := f.deployments(t); len(deps) != 1 || deps["a"].Name == "" {
		t.Fatalf("after deselecting b: %v", deps)
	}
}

func TestSyncBadTweakReportsAndDoesNotRetry(t *testing.T) {
	set := testSet()
	set.Spec.Workload.WorkloadTweaks = []appsv1beta1.WorkloadTweak{{Pools: []string{"b"}, Tweaks: appsv1beta1.Tweaks{
		Patches: []appsv1beta1.Patch{{Path: "/spec/nope/x", Operation: appsv1beta1.ADD, Value: apiextensionsv1.JSON{Raw: []byte(`1`)}}},
	}}}
	f := newFixture(t, set, testPool("a", map[string]string{"tier": "edge"}), testPool("b", map[string]string{"tier": "edge"}))
	if err := f.c.sync(context.Background(), "ns/web"); err != nil {
		t.Fatalf("a spec error must not be returned (it would be retried): %v", err)
	}
	if deps := f.deployments(t); len(deps) != 1 || deps["a"].Name == "" {
		t.Fatalf("pool a must still get its Deployment: %v", deps)
	}
	c := cond(f.status(t), appsv1beta1.AppSetAppDispatched)
	if c.Status != corev1.ConditionFalse || c.Reason != ReasonTweakFailed || !strings.Contains(c.Message, "pool b: tweak 0: patch 0 (add /spec/nope/x) does not apply") {
		t.Fatalf("condition %+v", c)
	}
	select {
	case e := <-f.rec.Events:
		if !strings.Contains(e, ReasonTweakFailed) && !strings.Contains(e, ReasonWorkloadCreated) {
			t.Fatalf("event %q", e)
		}
	default:
		t.Fatal("no event")
	}
	// The same failure again: no new warning.
	f.resync(t)
	for len(f.rec.Events) > 0 {
		<-f.rec.Events
	}
	if err := f.c.sync(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	if len(f.rec.Events) != 0 {
		t.Fatalf("warning repeated: %q", <-f.rec.Events)
	}
}
