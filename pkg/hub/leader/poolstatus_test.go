package leader

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/klog/v2/ktesting"

	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	yurtfake "github.com/yurt-edge/yurt/generated/clientset/versioned/fake"
)

func TestPoolStatusRecordsTheLeader(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	pool := &appsv1beta2.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "pool-a"},
		Status: appsv1beta2.NodePoolStatus{ReadyNodeNum: 2, Nodes: []string{"n1", "n2"},
			LeaderEndpoints: []appsv1beta2.Leader{{NodeName: "n1", Address: "10.0.0.1"}}, LeaderNum: 1}}
	// NewSimpleClientset: the generated NewClientset's field manager has no schema for
	// NodePool and refuses every patch.
	yurt := yurtfake.NewSimpleClientset(pool)            //nolint:staticcheck
	ctx, cancel := context.WithTimeout(ctx, time.Minute) // Run retries until recorded
	defer cancel()
	kube := kubefake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2"},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n2"}, {Type: corev1.NodeInternalIP, Address: "10.0.0.2"}}}})
	p := &PoolStatus{Yurt: yurt, Kube: kube, Pool: "pool-a", Node: "n2", Now: func() time.Time { return now }}
	p.Run(ctx, nil)
	if ctx.Err() != nil {
		t.Fatal("the leader was never recorded")
	}
	got, err := yurt.AppsV1beta2().NodePools().Get(context.Background(), "pool-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := got.Status
	if st.LeaderNum != 1 || len(st.LeaderEndpoints) != 1 || st.LeaderEndpoints[0] != (appsv1beta2.Leader{NodeName: "n2", Address: "10.0.0.2"}) ||
		!st.LeaderLastElectedTime.Time.Equal(now) {
		t.Errorf("leader status %+v, want n2 (10.0.0.2) elected at %s", st, now)
	}
	if st.ReadyNodeNum != 2 || len(st.Nodes) != 2 {
		t.Errorf("the patch changed fields it does not own: %+v", st)
	}
}

func TestPoolStatusGivesUpWithTheLeadership(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	// No NodePool: every attempt fails; Run must return once the leadership (ctx) ends.
	p := &PoolStatus{Yurt: yurtfake.NewClientset(), Kube: kubefake.NewClientset(), Pool: "missing", Node: "n1", RetryInterval: 10 * time.Millisecond}
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx, nil) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
