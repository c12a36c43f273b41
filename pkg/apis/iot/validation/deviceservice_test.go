package validation

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yurt-edge/yurt/pkg/apis/iot"
)

func validDeviceService() *iot.DeviceService {
	return &iot.DeviceService{
		ObjectMeta: metav1.ObjectMeta{Name: "device-virtual", Namespace: "default", ResourceVersion: "1"},
		Spec: iot.DeviceServiceSpec{
			AdminState:  iot.UnLocked,
			BaseAddress: "http://edgex-device-virtual:59900",
			NodePool:    "hangzhou",
			Labels:      []string{"virtual"},
		},
	}
}

func TestValidateDeviceService(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*iot.DeviceService)
		want   []string
	}{
		{name: "valid", mutate: func(*iot.DeviceService) {}},
		{name: "https with path", mutate: func(s *iot.DeviceService) { s.Spec.BaseAddress = "https://10.0.0.1:8443/api" }},
		{name: "ipv6 host", mutate: func(s *iot.DeviceService) { s.Spec.BaseAddress = "http://[fd00::1]:59900" }},
		{name: "missing namespace", mutate: func(s *iot.DeviceService) { s.Namespace = "" },
			want: []string{required + " metadata.namespace"}},
		{name: "bad admin state", mutate: func(s *iot.DeviceService) { s.Spec.AdminState = "UP" },
			want: []string{notSupported + " spec.adminState"}},
		{name: "missing base address", mutate: func(s *iot.DeviceService) { s.Spec.BaseAddress = "" },
			want: []string{required + " spec.baseAddress"}},
		{name: "unparseable base address", mutate: func(s *iot.DeviceService) { s.Spec.BaseAddress = "http://a b:1%zz" },
			want: []string{invalid + " spec.baseAddress"}},
		{name: "base address without scheme", mutate: func(s *iot.DeviceService) { s.Spec.BaseAddress = "edgex-device-virtual:59900" },
			want: []string{invalid + " spec.baseAddress"}},
		{name: "base address without host", mutate: func(s *iot.DeviceService) { s.Spec.BaseAddress = "http:///path" },
			want: []string{invalid + " spec.baseAddress"}},
		{name: "bad node pool", mutate: func(s *iot.DeviceService) { s.Spec.NodePool = "-pool" },
			want: []string{invalid + " spec.nodePool"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			service := validDeviceService()
			tc.mutate(service)
			expectErrors(t, ValidateDeviceService(service), tc.want...)
		})
	}
}

func TestValidateDeviceServiceUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*iot.DeviceService)
		want   []string
	}{
		{name: "no change", mutate: func(*iot.DeviceService) {}},
		{name: "address change", mutate: func(s *iot.DeviceService) { s.Spec.BaseAddress = "http://other:1" }},
		{name: "new spec is validated", mutate: func(s *iot.DeviceService) { s.Spec.BaseAddress = "" },
			want: []string{required + " spec.baseAddress"}},
		{name: "namespace is immutable", mutate: func(s *iot.DeviceService) { s.Namespace = "edge" },
			want: []string{invalid + " metadata.namespace"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldService := validDeviceService()
			newService := oldService.DeepCopy()
			tc.mutate(newService)
			expectErrors(t, ValidateDeviceServiceUpdate(newService, oldService), tc.want...)
		})
	}
}

func TestValidateDeviceServiceStatusUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*iot.DeviceService)
		want   []string
	}{
		{name: "valid", mutate: func(s *iot.DeviceService) {
			s.Status = iot.DeviceServiceStatus{Synced: true, LastConnected: 1, LastReported: 2, EdgeId: "x", AdminState: iot.Locked}
		}},
		{name: "bad status", mutate: func(s *iot.DeviceService) {
			s.Status = iot.DeviceServiceStatus{LastConnected: -1, LastReported: -1, AdminState: "x", Conditions: []iot.Condition{{}}}
		}, want: []string{
			invalid + " status.lastConnected", invalid + " status.lastReported",
			notSupported + " status.adminState", required + " status.conditions[0].type",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldService := validDeviceService()
			newService := oldService.DeepCopy()
			tc.mutate(newService)
			expectErrors(t, ValidateDeviceServiceStatusUpdate(newService, oldService), tc.want...)
		})
	}
}
