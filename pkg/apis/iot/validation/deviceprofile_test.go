package validation

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yurt-edge/yurt/pkg/apis/iot"
)

func validDeviceProfile() *iot.DeviceProfile {
	return &iot.DeviceProfile{
		ObjectMeta: metav1.ObjectMeta{Name: "thermometer", Namespace: "default", ResourceVersion: "1"},
		Spec: iot.DeviceProfileSpec{
			NodePool:     "hangzhou",
			Manufacturer: "ACME",
			Model:        "T-1000",
			DeviceResources: []iot.DeviceResource{
				{Name: "Temperature", Properties: iot.ResourceProperties{ValueType: "Float64", ReadWrite: "R", Units: "C"}},
				{Name: "SetPoint", Properties: iot.ResourceProperties{ValueType: "Float64", ReadWrite: "RW"}},
				{Name: "Reset", Properties: iot.ResourceProperties{ValueType: "Bool", ReadWrite: "W"}},
			},
			DeviceCommands: []iot.DeviceCommand{
				{Name: "Climate", ReadWrite: "RW", ResourceOperations: []iot.ResourceOperation{{DeviceResource: "Temperature"}, {DeviceResource: "SetPoint"}}},
				{Name: "DoReset", ReadWrite: "W", ResourceOperations: []iot.ResourceOperation{{DeviceResource: "Reset", DefaultValue: "true"}}},
			},
		},
	}
}

func TestValidateDeviceProfile(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*iot.DeviceProfile)
		want   []string
	}{
		{name: "valid", mutate: func(*iot.DeviceProfile) {}},
		{name: "empty profile", mutate: func(p *iot.DeviceProfile) { p.Spec = iot.DeviceProfileSpec{} }},
		{name: "missing namespace", mutate: func(p *iot.DeviceProfile) { p.Namespace = "" },
			want: []string{required + " metadata.namespace"}},
		{name: "bad node pool", mutate: func(p *iot.DeviceProfile) { p.Spec.NodePool = "a_b" },
			want: []string{invalid + " spec.nodePool"}},
		{name: "resource without name or readWrite", mutate: func(p *iot.DeviceProfile) {
			p.Spec.DeviceResources = append(p.Spec.DeviceResources, iot.DeviceResource{})
		}, want: []string{required + " spec.deviceResources[3].name", required + " spec.deviceResources[3].properties.readWrite"}},
		{name: "duplicate resource and bad readWrite", mutate: func(p *iot.DeviceProfile) {
			p.Spec.DeviceResources = append(p.Spec.DeviceResources, iot.DeviceResource{Name: "Reset", Properties: iot.ResourceProperties{ReadWrite: "WR"}})
		}, want: []string{duplicate + " spec.deviceResources[3].name", notSupported + " spec.deviceResources[3].properties.readWrite"}},
		{name: "bad commands", mutate: func(p *iot.DeviceProfile) {
			p.Spec.DeviceCommands = append(p.Spec.DeviceCommands,
				iot.DeviceCommand{},
				iot.DeviceCommand{Name: "Climate", ReadWrite: "r", ResourceOperations: []iot.ResourceOperation{{}, {DeviceResource: "Humidity"}}},
			)
		}, want: []string{
			required + " spec.deviceCommands[2].name",
			required + " spec.deviceCommands[2].readWrite",
			required + " spec.deviceCommands[2].resourceOperations",
			duplicate + " spec.deviceCommands[3].name",
			notSupported + " spec.deviceCommands[3].readWrite",
			required + " spec.deviceCommands[3].resourceOperations[0].deviceResource",
			notFound + " spec.deviceCommands[3].resourceOperations[1].deviceResource",
		}},
		{name: "command may share a resource's name", mutate: func(p *iot.DeviceProfile) {
			p.Spec.DeviceCommands[0].Name = "Temperature"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			profile := validDeviceProfile()
			tc.mutate(profile)
			expectErrors(t, ValidateDeviceProfile(profile), tc.want...)
		})
	}
}

func TestValidateDeviceProfileUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*iot.DeviceProfile)
		want   []string
	}{
		{name: "no change", mutate: func(*iot.DeviceProfile) {}},
		{name: "resource removed that a command uses", mutate: func(p *iot.DeviceProfile) {
			p.Spec.DeviceResources = p.Spec.DeviceResources[:2]
		}, want: []string{notFound + " spec.deviceCommands[1].resourceOperations[0].deviceResource"}},
		{name: "missing resource version", mutate: func(p *iot.DeviceProfile) { p.ResourceVersion = "" },
			want: []string{invalid + " metadata.resourceVersion"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldProfile := validDeviceProfile()
			newProfile := oldProfile.DeepCopy()
			tc.mutate(newProfile)
			expectErrors(t, ValidateDeviceProfileUpdate(newProfile, oldProfile), tc.want...)
		})
	}
}

func TestValidateDeviceProfileStatusUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*iot.DeviceProfile)
		want   []string
	}{
		{name: "valid", mutate: func(p *iot.DeviceProfile) { p.Status = iot.DeviceProfileStatus{EdgeId: "x", Synced: true} }},
		{name: "spec is not checked", mutate: func(p *iot.DeviceProfile) { p.Spec.DeviceResources = []iot.DeviceResource{{}} }},
		{name: "uid is immutable", mutate: func(p *iot.DeviceProfile) { p.UID = "changed" },
			want: []string{invalid + " metadata.uid"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldProfile := validDeviceProfile()
			newProfile := oldProfile.DeepCopy()
			tc.mutate(newProfile)
			expectErrors(t, ValidateDeviceProfileStatusUpdate(newProfile, oldProfile), tc.want...)
		})
	}
}
