package framework

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// CreateNamespace creates a namespace, deleted when the test ends.
func CreateNamespace(t testing.TB, name string) {
	t.Helper()
	client := Clients(t).Kube
	if _, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}) })
}

// EndpointSlice is service's slice "<service>-1" with one ready endpoint at ip:80.
func EndpointSlice(service, ip string) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: service + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](80), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
}

// CreateService makes a selector-less ClusterIP Service with one ready endpoint at ip:80 in
// an EndpointSlice, which kube-proxy turns into KUBE-SVC/KUBE-SEP rules.
func CreateService(t testing.TB, ns, name, ip string) {
	t.Helper()
	ctx := context.Background()
	client := Clients(t).Kube
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}},
	}
	if _, err := client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DiscoveryV1().EndpointSlices(ns).Create(ctx, EndpointSlice(name, ip), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// DeleteService deletes what CreateService made.
func DeleteService(t testing.TB, ns, name string) {
	t.Helper()
	ctx := context.Background()
	client := Clients(t).Kube
	if err := client.CoreV1().Services(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.DiscoveryV1().EndpointSlices(ns).Delete(ctx, name+"-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// DNAT is how kube-proxy's iptables-save shows an endpoint it programmed.
func DNAT(ip string) string { return "--to-destination " + ip + ":80" }
