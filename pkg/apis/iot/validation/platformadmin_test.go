package validation

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yurt-edge/yurt/pkg/apis/iot"
)

func validPlatformAdmin() *iot.PlatformAdmin {
	return &iot.PlatformAdmin{
		ObjectMeta: metav1.ObjectMeta{Name: "edgex-hangzhou", Namespace: "default", ResourceVersion: "1"},
		Spec: iot.PlatformAdminSpec{
			Version:    "minnesota",
			PoolName:   "hangzhou",
			Platform:   "edgex",
			Components: []iot.PlatformAdminComponent{{Name: "edgex-device-virtual"}, {Name: "edgex-ui-go"}},
		},
	}
}

func TestValidatePlatformAdmin(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*iot.PlatformAdmin)
		want   []string
	}{
		{name: "valid", mutate: func(*iot.PlatformAdmin) {}},
		{name: "no components", mutate: func(a *iot.PlatformAdmin) { a.Spec.Components = nil }},
		{name: "missing namespace", mutate: func(a *iot.PlatformAdmin) { a.Namespace = "" },
			want: []string{required + " metadata.namespace"}},
		{name: "missing pool", mutate: func(a *iot.PlatformAdmin) { a.Spec.PoolName = "" },
			want: []string{required + " spec.poolName"}},
		{name: "bad pool", mutate: func(a *iot.PlatformAdmin) { a.Spec.PoolName = "Hangzhou" },
			want: []string{invalid + " spec.poolName"}},
		{name: "missing platform", mutate: func(a *iot.PlatformAdmin) { a.Spec.Platform = "" },
			want: []string{required + " spec.platform"}},
		{name: "unknown platform", mutate: func(a *iot.PlatformAdmin) { a.Spec.Platform = "EdgeX" },
			want: []string{notSupported + " spec.platform"}},
		{name: "bad components", mutate: func(a *iot.PlatformAdmin) {
			a.Spec.Components = []iot.PlatformAdminComponent{{}, {Name: "x"}, {Name: "x"}}
		}, want: []string{required + " spec.components[0].name", duplicate + " spec.components[2].name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			admin := validPlatformAdmin()
			tc.mutate(admin)
			expectErrors(t, ValidatePlatformAdmin(admin), tc.want...)
		})
	}
}

func TestValidatePlatformAdminUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*iot.PlatformAdmin)
		want   []string
	}{
		{name: "no change", mutate: func(*iot.PlatformAdmin) {}},
		{name: "components change", mutate: func(a *iot.PlatformAdmin) { a.Spec.Components = nil }},
		{name: "new spec is validated", mutate: func(a *iot.PlatformAdmin) { a.Spec.Platform = "kubeedge" },
			want: []string{notSupported + " spec.platform"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldAdmin := validPlatformAdmin()
			newAdmin := oldAdmin.DeepCopy()
			tc.mutate(newAdmin)
			expectErrors(t, ValidatePlatformAdminUpdate(newAdmin, oldAdmin), tc.want...)
		})
	}
}

func TestValidatePlatformAdminStatusUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*iot.PlatformAdmin)
		want   []string
	}{
		{name: "valid", mutate: func(a *iot.PlatformAdmin) {
			a.Status = iot.PlatformAdminStatus{Ready: true, Initialized: true, ReadyComponentNum: 2,
				Conditions: []iot.Condition{{Type: "ComponentAvailable", Status: "True"}}}
		}},
		{name: "bad status", mutate: func(a *iot.PlatformAdmin) {
			a.Status = iot.PlatformAdminStatus{ReadyComponentNum: -1, UnreadyComponentNum: -1,
				Conditions: []iot.Condition{{Type: "ConfigmapAvailable"}, {Type: "ConfigmapAvailable"}}}
		}, want: []string{
			invalid + " status.readyComponentNum", invalid + " status.unreadyComponentNum", duplicate + " status.conditions[1].type",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldAdmin := validPlatformAdmin()
			newAdmin := oldAdmin.DeepCopy()
			tc.mutate(newAdmin)
			expectErrors(t, ValidatePlatformAdminStatusUpdate(newAdmin, oldAdmin), tc.want...)
		})
	}
}
