package printers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yurt-edge/yurt/pkg/apis/iot"
)

func TestDeviceTable(t *testing.T) {
	items := []iot.Device{
		{
			ObjectMeta: metav1.ObjectMeta{Name: "thermometer", Namespace: "default", CreationTimestamp: ago(5 * time.Minute)},
			Spec: iot.DeviceSpec{
				NodePool: "hangzhou", ServiceName: "device-virtual", ProfileName: "random-thermometer",
				AdminState: iot.UnLocked, OperatingState: iot.Up,
			},
			Status: iot.DeviceStatus{Synced: true, AdminState: iot.Locked, OperatingState: iot.Down},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "unsynced", Namespace: "default", CreationTimestamp: ago(5 * time.Minute)},
			Spec:       iot.DeviceSpec{NodePool: "hangzhou", AdminState: iot.UnLocked, OperatingState: iot.Up},
		},
		{ObjectMeta: metav1.ObjectMeta{Name: "empty"}},
	}
	c := NewDeviceTableConvertor()
	testColumns(t, c, &items[0], []string{"Name", "NodePool", "Synced", "Age"},
		[]string{"Service", "Profile", "AdminState", "OperatingState"})
	testCells(t, c, &iot.DeviceList{Items: items}, []kindCase{
		{"synced", &items[0], []interface{}{"thermometer", "hangzhou", true, "5m", "device-virtual", "random-thermometer", "LOCKED", "DOWN"}},
		{"desired states until reported", &items[1], []interface{}{"unsynced", "hangzhou", false, "5m", "<none>", "<none>", "UNLOCKED", "UP"}},
		{"empty", &items[2], []interface{}{"empty", "<none>", false, "<unknown>", "<none>", "<none>", "<none>", "<none>"}},
	})
}

func TestDeviceServiceTable(t *testing.T) {
	items := []iot.DeviceService{
		{
			ObjectMeta: metav1.ObjectMeta{Name: "device-virtual", Namespace: "default", CreationTimestamp: ago(time.Hour)},
			Spec:       iot.DeviceServiceSpec{NodePool: "hangzhou", BaseAddress: "http://device-virtual:59900", AdminState: iot.UnLocked},
			Status:     iot.DeviceServiceStatus{Synced: true},
		},
		{ObjectMeta: metav1.ObjectMeta{Name: "empty"}},
	}
	c := NewDeviceServiceTableConvertor()
	testColumns(t, c, &items[0], []string{"Name", "NodePool", "Synced", "Age"}, []string{"BaseAddress", "AdminState"})
	testCells(t, c, &iot.DeviceServiceList{Items: items}, []kindCase{
		{"synced", &items[0], []interface{}{"device-virtual", "hangzhou", true, "60m", "http://device-virtual:59900", "UNLOCKED"}},
		{"empty", &items[1], []interface{}{"empty", "<none>", false, "<unknown>", "<none>", "<none>"}},
	})
}

func TestDeviceProfileTable(t *testing.T) {
	items := []iot.DeviceProfile{
		{
			ObjectMeta: metav1.ObjectMeta{Name: "random-thermometer", Namespace: "default", CreationTimestamp: ago(400 * 24 * time.Hour)},
			Spec:       iot.DeviceProfileSpec{NodePool: "hangzhou", Manufacturer: "IOTech", Model: "TH-1"},
			Status:     iot.DeviceProfileStatus{Synced: true},
		},
		{ObjectMeta: metav1.ObjectMeta{Name: "empty"}},
	}
	c := NewDeviceProfileTableConvertor()
	testColumns(t, c, &items[0], []string{"Name", "NodePool", "Synced", "Age"}, []string{"Manufacturer", "Model"})
	testCells(t, c, &iot.DeviceProfileList{Items: items}, []kindCase{
		{"synced", &items[0], []interface{}{"random-thermometer", "hangzhou", true, "400d", "IOTech", "TH-1"}},
		{"empty", &items[1], []interface{}{"empty", "<none>", false, "<unknown>", "<none>", "<none>"}},
	})
}

func TestPlatformAdminTable(t *testing.T) {
	items := []iot.PlatformAdmin{
		{
			ObjectMeta: metav1.ObjectMeta{Name: "edgex", Namespace: "default", CreationTimestamp: ago(20 * time.Minute)},
			Spec:       iot.PlatformAdminSpec{PoolName: "hangzhou", Version: "minnesota"},
			Status:     iot.PlatformAdminStatus{Ready: true, ReadyComponentNum: 9, UnreadyComponentNum: 1},
		},
		{ObjectMeta: metav1.ObjectMeta{Name: "empty"}},
	}
	c := NewPlatformAdminTableConvertor()
	testColumns(t, c, &items[0], []string{"Name", "Ready", "ReadyComponents", "NotReadyComponents", "Age"}, []string{"Pool", "Version"})
	testCells(t, c, &iot.PlatformAdminList{Items: items}, []kindCase{
		{"ready", &items[0], []interface{}{"edgex", true, int64(9), int64(1), "20m", "hangzhou", "minnesota"}},
		{"empty", &items[1], []interface{}{"empty", false, int64(0), int64(0), "<unknown>", "<none>", "<none>"}},
	})
}
