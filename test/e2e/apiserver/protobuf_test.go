package apiserver

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"

	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	iotv1alpha1 "github.com/yurt-edge/yurt/apis/iot/v1alpha1"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

// TestServesProtobuf checks that yurt-apiserver, behind kube-apiserver, answers
// application/vnd.kubernetes.protobuf, and that the generated clientset (which prefers
// protobuf for its requests and responses) creates, reads, lists and watches objects with it.
func TestServesProtobuf(t *testing.T) {
	c := framework.Clients(t)
	ctx := context.Background()

	pool := &appsv1beta2.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: "protobuf-pool", Labels: map[string]string{"site": "pb"}},
		Spec: appsv1beta2.NodePoolSpec{
			Type:   appsv1beta2.Edge,
			Labels: map[string]string{"site": "pb"},
			Taints: []corev1.Taint{{Key: "example.com/pb", Value: "yes", Effect: corev1.TaintEffectNoSchedule}},
		},
	}
	w, err := c.Yurt.AppsV1beta2().NodePools().Watch(ctx, metav1.ListOptions{LabelSelector: "site=pb"})
	if err != nil {
		t.Fatalf("watch nodepools: %v", err)
	}
	defer w.Stop()
	created, err := c.Yurt.AppsV1beta2().NodePools().Create(ctx, pool, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create nodepool: %v", err)
	}
	t.Cleanup(func() {
		_ = c.Yurt.AppsV1beta2().NodePools().Delete(context.Background(), pool.Name, metav1.DeleteOptions{})
	})
	if !apiequality.Semantic.DeepEqual(created.Spec.Taints, pool.Spec.Taints) {
		t.Errorf("created taints %+v, want %+v", created.Spec.Taints, pool.Spec.Taints)
	}
	select {
	case ev := <-w.ResultChan():
		got, ok := ev.Object.(*appsv1beta2.NodePool)
		if ev.Type != watch.Added || !ok || got.Name != pool.Name {
			t.Errorf("first watch event %s %T, want ADDED of NodePool %s", ev.Type, ev.Object, pool.Name)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("no watch event for the new NodePool")
	}
	list, err := c.Yurt.AppsV1beta2().NodePools().List(ctx, metav1.ListOptions{LabelSelector: "site=pb"})
	if err != nil || len(list.Items) != 1 {
		t.Errorf("list nodepools: %d items, %v", len(list.Items), err)
	}

	device := &iotv1alpha1.Device{
		ObjectMeta: metav1.ObjectMeta{Name: "protobuf-device", Namespace: "default"},
		Spec: iotv1alpha1.DeviceSpec{
			ServiceName: "device-modbus",
			ProfileName: "thermometer",
			Protocols: map[string]iotv1alpha1.ProtocolProperties{
				"modbus-tcp": {"Address": "10.0.0.7", "Port": "502"},
			},
			DeviceProperties: map[string]iotv1alpha1.DesiredPropertyState{"unit": {Name: "unit", DesiredValue: "C"}},
		},
	}
	if _, err := c.Yurt.IotV1alpha1().Devices("default").Create(ctx, device, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create device: %v", err)
	}
	t.Cleanup(func() {
		_ = c.Yurt.IotV1alpha1().Devices("default").Delete(context.Background(), device.Name, metav1.DeleteOptions{})
	})
	gotDevice, err := c.Yurt.IotV1alpha1().Devices("default").Get(ctx, device.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get device: %v", err)
	}
	if !apiequality.Semantic.DeepEqual(gotDevice.Spec.Protocols, device.Spec.Protocols) {
		t.Errorf("device protocols %v, want %v", gotDevice.Spec.Protocols, device.Spec.Protocols)
	}

	// The clientset falls back to JSON silently, so ask for protobuf alone and check the answer.
	cfg := rest.CopyConfig(c.Config)
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		strings.TrimSuffix(cfg.Host, "/")+"/apis/apps.openyurt.io/v1beta2/nodepools/"+pool.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", runtime.ContentTypeProtobuf)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET nodepool as protobuf: %s: %q", resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != runtime.ContentTypeProtobuf {
		t.Fatalf("GET nodepool as protobuf answered Content-Type %q", ct)
	}
	scheme := runtime.NewScheme()
	if err := appsv1beta2.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	obj, _, err := protobuf.NewSerializer(scheme, scheme).Decode(body, nil, nil)
	if err != nil {
		t.Fatalf("decode protobuf answer: %v", err)
	}
	decoded, ok := obj.(*appsv1beta2.NodePool)
	if !ok || decoded.Name != pool.Name || !apiequality.Semantic.DeepEqual(decoded.Spec.Taints, pool.Spec.Taints) {
		t.Errorf("protobuf answer decoded to %#v", obj)
	}
}
