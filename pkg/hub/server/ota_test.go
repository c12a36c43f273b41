package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/klog/v2"
)

func otaPod(name, node string, need corev1.ConditionStatus, owner string, extra ...corev1.PodCondition) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{NodeName: node},
	}
	if owner != "" {
		t := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: owner, Name: "ds", UID: "ds-uid", Controller: &t}}
	}
	if need != "" {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: podNeedUpgrade, Status: need})
	}
	p.Status.Conditions = append(p.Status.Conditions, extra...)
	return p
}

func TestOTAUpgrade(t *testing.T) {
	now := metav1.Now()
	terminating := otaPod("terminating", "n1", corev1.ConditionTrue, "DaemonSet")
	terminating.DeletionTimestamp = &now
	terminating.Finalizers = []string{"keep"}
	tests := []struct {
		name        string
		pod         *corev1.Pod
		unhealthy   bool
		wantCode    int
		wantDeleted bool
		wantMsg     string
	}{
		{name: "needs upgrade", pod: otaPod("p", "n1", corev1.ConditionTrue, "DaemonSet"), wantCode: 200, wantDeleted: true},
		{name: "cloud unreachable", pod: otaPod("p", "n1", corev1.ConditionTrue, "DaemonSet"), unhealthy: true, wantCode: 503, wantMsg: "unreachable"},
		{name: "other node", pod: otaPod("p", "n2", corev1.ConditionTrue, "DaemonSet"), wantCode: 403, wantMsg: `runs on node "n2"`},
		{name: "up to date", pod: otaPod("p", "n1", corev1.ConditionFalse, "DaemonSet"), wantCode: 403, wantMsg: "PodNeedUpgrade condition is not True"},
		{name: "no condition", pod: otaPod("p", "n1", "", "DaemonSet"), wantCode: 403, wantMsg: "PodNeedUpgrade"},
		{name: "image not ready", pod: otaPod("p", "n1", corev1.ConditionTrue, "DaemonSet", corev1.PodCondition{Type: podImageReady, Status: corev1.ConditionFalse}), wantCode: 403, wantMsg: "PodImageReady"},
		{name: "image ready", pod: otaPod("p", "n1", corev1.ConditionTrue, "DaemonSet", corev1.PodCondition{Type: podImageReady, Status: corev1.ConditionTrue}), wantCode: 200, wantDeleted: true},
		{name: "terminating", pod: terminating, wantCode: 403, wantMsg: "already being deleted"},
		{name: "not a daemonset pod", pod: otaPod("p", "n1", corev1.ConditionTrue, "ReplicaSet"), wantCode: 501, wantMsg: "not a DaemonSet pod"},
		{name: "missing pod", wantCode: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			name := "missing"
			if tc.pod != nil {
				name = tc.pod.Name
				if _, err := client.CoreV1().Pods("ns").Create(context.Background(), tc.pod, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			var healthy atomic.Bool
			healthy.Store(!tc.unhealthy)
			mux := http.NewServeMux()
			(&OTA{NodeName: "n1", Healthy: healthy.Load, Client: client, Logger: klog.Background()}).Register(mux)
			srv := httptest.NewServer(mux)
			defer srv.Close()
			resp, err := http.Post(srv.URL+"/openyurt.io/v1/namespaces/ns/pods/"+name+"/upgrade", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantCode || !strings.Contains(string(body), tc.wantMsg) {
				t.Fatalf("got %d %q, want %d containing %q", resp.StatusCode, body, tc.wantCode, tc.wantMsg)
			}
			if tc.pod == nil {
				return
			}
			_, err = client.CoreV1().Pods("ns").Get(context.Background(), name, metav1.GetOptions{})
			if deleted := apierrors.IsNotFound(err); deleted != tc.wantDeleted {
				t.Fatalf("deleted = %v, want %v (err %v)", deleted, tc.wantDeleted, err)
			}
		})
	}
}

func TestOTAListPods(t *testing.T) {
	client := fake.NewClientset(otaPod("mine", "n1", "", ""), otaPod("theirs", "n2", "", ""))
	var healthy atomic.Bool
	healthy.Store(true)
	mux := http.NewServeMux()
	(&OTA{NodeName: "n1", Healthy: healthy.Load, Client: client, Logger: klog.Background()}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/pods")
	if err != nil {
		t.Fatal(err)
	}
	var list corev1.PodList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(list.Items) != 1 || list.Items[0].Name != "mine" || list.Kind != "PodList" {
		t.Fatalf("got %d %+v, want only pod mine", resp.StatusCode, list.Items)
	}

	healthy.Store(false)
	resp, err = http.Get(srv.URL + "/pods")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("offline: got %d, want 503", resp.StatusCode)
	}
	// Only POST upgrades.
	resp, err = http.Get(srv.URL + "/openyurt.io/v1/namespaces/ns/pods/mine/upgrade")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET upgrade: got %d, want 405", resp.StatusCode)
	}
}
