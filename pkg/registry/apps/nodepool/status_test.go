package nodepool

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	appsapi "github.com/yurt-edge/yurt/apis/apps"
	"github.com/yurt-edge/yurt/pkg/apis/apps"
)

func node(name, pool string, ready corev1.ConditionStatus) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	if pool != "" {
		n.Labels[appsapi.NodePoolLabel] = pool
	}
	if ready != "" {
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse}, {Type: corev1.NodeReady, Status: ready}}
	}
	return n
}

func lister(t *testing.T, nodes ...*corev1.Node) corelisters.NodeLister {
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, n := range nodes {
		if err := indexer.Add(n); err != nil {
			t.Fatal(err)
		}
	}
	return corelisters.NewNodeLister(indexer)
}

func TestDeriveStatus(t *testing.T) {
	l := lister(t,
		node("c", "hangzhou", corev1.ConditionTrue),
		node("a", "hangzhou", corev1.ConditionFalse),
		node("b", "hangzhou", corev1.ConditionUnknown),
		node("d", "hangzhou", ""), // no Ready condition yet: not ready
		node("e", "beijing", corev1.ConditionTrue),
		node("f", "", corev1.ConditionTrue),
	)
	tests := []struct {
		pool string
		want derivedStatus
	}{
		{"hangzhou", derivedStatus{nodes: []string{"a", "b", "c", "d"}, ready: 1, unready: 3}},
		{"beijing", derivedStatus{nodes: []string{"e"}, ready: 1}},
		{"empty", derivedStatus{}},
	}
	for _, tt := range tests {
		t.Run(tt.pool, func(t *testing.T) {
			got, err := deriveStatus(l, tt.pool)
			if err != nil {
				t.Fatal(err)
			}
			pool := &apps.NodePool{}
			tt.want.apply(pool)
			want := pool.Status
			pool = &apps.NodePool{}
			got.apply(pool)
			if !equalDerived(&pool.Status, &want) {
				t.Fatalf("got %+v, want %+v", pool.Status, want)
			}
		})
	}
}

func TestApplyReportsChange(t *testing.T) {
	pool := &apps.NodePool{}
	d := derivedStatus{nodes: []string{"a"}, ready: 1}
	if !d.apply(pool) {
		t.Fatal("first apply should change the pool")
	}
	if d.apply(pool) {
		t.Fatal("second apply should change nothing")
	}
	pool.Status.LeaderNum = 3
	if d.apply(pool) || pool.Status.LeaderNum != 3 {
		t.Fatal("apply must leave the fields it does not derive alone")
	}
}

func TestForbidDerivedStatusChange(t *testing.T) {
	old := &apps.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: apps.NodePoolStatus{Nodes: []string{"a"}, ReadyNodeNum: 1}}
	leaderOnly := old.DeepCopy()
	leaderOnly.Status.LeaderNum = 1
	if errs := forbidDerivedStatusChange(leaderOnly, old); len(errs) != 0 {
		t.Fatalf("leader fields may be written: %v", errs)
	}
	for name, mutate := range map[string]func(*apps.NodePool){
		"nodes":   func(p *apps.NodePool) { p.Status.Nodes = []string{"a", "b"} },
		"ready":   func(p *apps.NodePool) { p.Status.ReadyNodeNum = 5 },
		"unready": func(p *apps.NodePool) { p.Status.UnreadyNodeNum = 5 },
	} {
		t.Run(name, func(t *testing.T) {
			p := old.DeepCopy()
			mutate(p)
			errs := forbidDerivedStatusChange(p, old)
			if len(errs) != 1 || errs[0].Field != "status" {
				t.Fatalf("want one error on status, got %v", errs)
			}
		})
	}
}
