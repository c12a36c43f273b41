package validation

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yurt-edge/yurt/pkg/apis/iot"
)

func validDevice() *iot.Device {
	return &iot.Device{
		ObjectMeta: metav1.ObjectMeta{Name: "thermometer-1", Namespace: "default", ResourceVersion: "1"},
		Spec: iot.DeviceSpec{
			AdminState:       iot.UnLocked,
			OperatingState:   iot.Up,
			Protocols:        map[string]iot.ProtocolProperties{"modbus-tcp": {"Address": "10.0.0.7", "Port": "502"}},
			ServiceName:      "device-modbus",
			ProfileName:      "thermometer",
			NodePool:         "hangzhou",
			Managed:          true,
			DeviceProperties: map[string]iot.DesiredPropertyState{"Temperature": {Name: "Temperature", DesiredValue: "21"}},
		},
	}
}

func TestValidateDevice(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*iot.Device)
		want   []string
	}{
		{name: "valid", mutate: func(*iot.Device) {}},
		{name: "empty states allowed", mutate: func(d *iot.Device) { d.Spec.AdminState, d.Spec.OperatingState = "", "" }},
		{name: "every state", mutate: func(d *iot.Device) { d.Spec.AdminState, d.Spec.OperatingState = iot.Locked, iot.Unknown }},
		{name: "missing namespace", mutate: func(d *iot.Device) { d.Namespace = "" },
			want: []string{required + " metadata.namespace"}},
		{name: "bad name", mutate: func(d *iot.Device) { d.Name = "Thermometer_1" },
			want: []string{invalid + " metadata.name"}},
		{name: "bad states", mutate: func(d *iot.Device) { d.Spec.AdminState, d.Spec.OperatingState = "locked", "ENABLED" },
			want: []string{notSupported + " spec.adminState", notSupported + " spec.operatingState"}},
		{name: "missing service and profile", mutate: func(d *iot.Device) { d.Spec.ServiceName, d.Spec.ProfileName = "", "" },
			want: []string{required + " spec.serviceName", required + " spec.profileName"}},
		{name: "bad node pool", mutate: func(d *iot.Device) { d.Spec.NodePool = "Hang Zhou" },
			want: []string{invalid + " spec.nodePool"}},
		{name: "empty protocol name", mutate: func(d *iot.Device) { d.Spec.Protocols[""] = nil },
			want: []string{invalid + " spec.protocols"}},
		{name: "bad device properties", mutate: func(d *iot.Device) {
			d.Spec.DeviceProperties = map[string]iot.DesiredPropertyState{"": {Name: "x"}, "Humidity": {DesiredValue: "1"}}
		}, want: []string{invalid + " spec.deviceProperties", required + " spec.deviceProperties[Humidity].name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			device := validDevice()
			tc.mutate(device)
			expectErrors(t, ValidateDevice(device), tc.want...)
		})
	}
}

func TestValidateDeviceUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*iot.Device)
		want   []string
	}{
		{name: "no change", mutate: func(*iot.Device) {}},
		{name: "state change", mutate: func(d *iot.Device) { d.Spec.AdminState = iot.Locked }},
		{name: "new spec is validated", mutate: func(d *iot.Device) { d.Spec.ServiceName = "" },
			want: []string{required + " spec.serviceName"}},
		{name: "name is immutable", mutate: func(d *iot.Device) { d.Name = "other" },
			want: []string{invalid + " metadata.name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldDevice := validDevice()
			newDevice := oldDevice.DeepCopy()
			tc.mutate(newDevice)
			expectErrors(t, ValidateDeviceUpdate(newDevice, oldDevice), tc.want...)
		})
	}
}

func TestValidateDeviceStatusUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*iot.Device)
		want   []string
	}{
		{name: "valid", mutate: func(d *iot.Device) {
			d.Status = iot.DeviceStatus{
				LastConnected: 1700000000, LastReported: 1700000001, Synced: true, EdgeId: "abc",
				AdminState: iot.UnLocked, OperatingState: iot.Down,
				DeviceProperties: map[string]iot.ActualPropertyState{"Temperature": {Name: "Temperature", ActualValue: "20"}},
				Conditions:       []iot.Condition{{Type: "Synced", Status: "True"}},
			}
		}},
		{name: "bad status", mutate: func(d *iot.Device) {
			d.Status = iot.DeviceStatus{
				LastConnected: -1, LastReported: -1, AdminState: "OPEN", OperatingState: "up",
				DeviceProperties: map[string]iot.ActualPropertyState{"": {}},
				Conditions:       []iot.Condition{{}, {Type: "A"}, {Type: "A"}},
			}
		}, want: []string{
			invalid + " status.lastConnected", invalid + " status.lastReported",
			notSupported + " status.adminState", notSupported + " status.operatingState",
			invalid + " status.deviceProperties",
			required + " status.conditions[0].type", duplicate + " status.conditions[2].type",
		}},
		{name: "spec is not checked", mutate: func(d *iot.Device) { d.Spec.ProfileName = "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldDevice := validDevice()
			newDevice := oldDevice.DeepCopy()
			tc.mutate(newDevice)
			expectErrors(t, ValidateDeviceStatusUpdate(newDevice, oldDevice), tc.want...)
		})
	}
}
