package printers

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/yurt-edge/yurt/pkg/apis/iot"
)

// Column sets of the iot.openyurt.io kinds.

func nodePoolColumn(kind string) metav1.TableColumnDefinition {
	return column("NodePool", "string", "The node pool of the "+kind+".")
}

func syncedColumn(kind string) metav1.TableColumnDefinition {
	return column("Synced", "boolean", "Whether the "+kind+" exists on the edge platform.")
}

// observed returns the state the edge platform reports, or the desired one until it reports.
func observed[S ~string](status, spec S) string {
	if status != "" {
		return string(status)
	}
	return orNone(string(spec))
}

var deviceColumns = []metav1.TableColumnDefinition{
	nameColumn(),
	nodePoolColumn("device"),
	syncedColumn("device"),
	ageColumn(),
	wide(column("Service", "string", "The DeviceService that drives the device.")),
	wide(column("Profile", "string", "The DeviceProfile describing the device.")),
	wide(column("AdminState", "string", "LOCKED or UNLOCKED, as reported, else as desired.")),
	wide(column("OperatingState", "string", "UNKNOWN, UP or DOWN, as reported, else as desired.")),
}

func deviceCells(d *iot.Device) []interface{} {
	return []interface{}{
		d.Name,
		orNone(d.Spec.NodePool),
		d.Status.Synced,
		age(d.CreationTimestamp),
		orNone(d.Spec.ServiceName),
		orNone(d.Spec.ProfileName),
		observed(d.Status.AdminState, d.Spec.AdminState),
		observed(d.Status.OperatingState, d.Spec.OperatingState),
	}
}

// NewDeviceTableConvertor returns the Table convertor of Devices.
func NewDeviceTableConvertor() rest.TableConvertor {
	return NewTableConvertor(deviceColumns, deviceCells)
}

var deviceServiceColumns = []metav1.TableColumnDefinition{
	nameColumn(),
	nodePoolColumn("device service"),
	syncedColumn("device service"),
	ageColumn(),
	wide(column("BaseAddress", "string", "The address of the service.")),
	wide(column("AdminState", "string", "LOCKED or UNLOCKED, as reported, else as desired.")),
}

func deviceServiceCells(s *iot.DeviceService) []interface{} {
	return []interface{}{
		s.Name,
		orNone(s.Spec.NodePool),
		s.Status.Synced,
		age(s.CreationTimestamp),
		orNone(s.Spec.BaseAddress),
		observed(s.Status.AdminState, s.Spec.AdminState),
	}
}

// NewDeviceServiceTableConvertor returns the Table convertor of DeviceServices.
func NewDeviceServiceTableConvertor() rest.TableConvertor {
	return NewTableConvertor(deviceServiceColumns, deviceServiceCells)
}

var deviceProfileColumns = []metav1.TableColumnDefinition{
	nameColumn(),
	nodePoolColumn("device profile"),
	syncedColumn("device profile"),
	ageColumn(),
	wide(column("Manufacturer", "string", "The manufacturer of the devices.")),
	wide(column("Model", "string", "The model of the devices.")),
}

func deviceProfileCells(p *iot.DeviceProfile) []interface{} {
	return []interface{}{
		p.Name,
		orNone(p.Spec.NodePool),
		p.Status.Synced,
		age(p.CreationTimestamp),
		orNone(p.Spec.Manufacturer),
		orNone(p.Spec.Model),
	}
}

// NewDeviceProfileTableConvertor returns the Table convertor of DeviceProfiles.
func NewDeviceProfileTableConvertor() rest.TableConvertor {
	return NewTableConvertor(deviceProfileColumns, deviceProfileCells)
}

var platformAdminColumns = []metav1.TableColumnDefinition{
	nameColumn(),
	column("Ready", "boolean", "Whether the platform is ready."),
	column("ReadyComponents", "integer", "The number of ready components."),
	column("NotReadyComponents", "integer", "The number of components that are not ready."),
	ageColumn(),
	wide(column("Pool", "string", "The node pool the platform runs in.")),
	wide(column("Version", "string", "The version of the platform.")),
}

func platformAdminCells(pa *iot.PlatformAdmin) []interface{} {
	return []interface{}{
		pa.Name,
		pa.Status.Ready,
		pa.Status.ReadyComponentNum,
		pa.Status.UnreadyComponentNum,
		age(pa.CreationTimestamp),
		orNone(pa.Spec.PoolName),
		orNone(pa.Spec.Version),
	}
}

// NewPlatformAdminTableConvertor returns the Table convertor of PlatformAdmins.
func NewPlatformAdminTableConvertor() rest.TableConvertor {
	return NewTableConvertor(platformAdminColumns, platformAdminCells)
}
