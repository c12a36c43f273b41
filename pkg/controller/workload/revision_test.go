package workload

import (
	"context"
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
)

// newSyncer returns a Syncer on a fake clientset whose revision lister is refreshed from the
// fake server by the returned function (as the informer would be).
func newSyncer(objs ...runtime.Object) (*Syncer, *kubefake.Clientset, func()) {
	client := kubefake.NewClientset(objs...)
	f := informers.NewSharedInformerFactory(client, 0)
	apps := f.Apps().V1()
	s := &Syncer{Client: client, Deployments: apps.Deployments().Lister(), StatefulSets: apps.StatefulSets().Lister(), Revisions: apps.ControllerRevisions().Lister()}
	idx := apps.ControllerRevisions().Informer().GetIndexer()
	refresh := func() {
		list, _ := client.AppsV1().ControllerRevisions("").List(context.Background(), metav1.ListOptions{})
		for _, o := range idx.List() {
			_ = idx.Delete(o)
		}
		for i := range list.Items {
			_ = idx.Add(&list.Items[i])
		}
	}
	refresh()
	return s, client, refresh
}

func TestEnsureRevisionHistoryAndRollback(t *testing.T) {
	s, client, refresh := newSyncer()
	ctx := context.Background()
	var names []string
	for i := range 4 {
		rev, err := s.EnsureRevision(ctx, testOwner, []byte(fmt.Sprintf(`{"v":%d}`, i)), 0, 2)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, rev.Name)
		refresh()
	}
	list, _ := client.AppsV1().ControllerRevisions("ns").List(ctx, metav1.ListOptions{})
	if len(list.Items) != 3 {
		t.Fatalf("want the current revision and 2 old ones, got %d", len(list.Items))
	}
	for _, r := range list.Items {
		if r.Name == names[0] {
			t.Fatalf("the oldest revision %s was kept", r.Name)
		}
		if ref := metav1.GetControllerOf(&r); ref == nil || ref.UID != "uid-1" || r.Labels[RefYurtAppSetLabel] != "web" {
			t.Fatalf("revision %s not owned/labelled: %+v", r.Name, r.ObjectMeta)
		}
	}
	// Rolling back to earlier data finds its revision again instead of making a new one.
	rev, err := s.EnsureRevision(ctx, testOwner, []byte(`{"v":2}`), 0, 2)
	if err != nil || rev.Name != names[2] {
		t.Fatalf("rollback: got %s (%v), want %s", rev.Name, err, names[2])
	}
}

func TestEnsureRevisionCollision(t *testing.T) {
	data := []byte(`{"v":1}`)
	hash := RevisionHash(data, 0)
	// Someone else's revision holds the name this data would get.
	squatter := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{Name: "web-" + hash, Namespace: "ns"},
		Data:       runtime.RawExtension{Raw: []byte(`{"other":true}`)},
	}
	s, _, _ := newSyncer(squatter)
	rev, err := s.EnsureRevision(context.Background(), testOwner, data, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if rev.CollisionCount != 1 || rev.Name != "web-"+RevisionHash(data, 1) {
		t.Fatalf("got %+v, want collision count 1 and the next name", rev)
	}
}
