package iot

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AdminState is LOCKED or UNLOCKED.
type AdminState string

const (
	Locked   AdminState = "LOCKED"
	UnLocked AdminState = "UNLOCKED"
)

// OperatingState is UNKNOWN, UP or DOWN.
type OperatingState string

const (
	Unknown OperatingState = "UNKNOWN"
	Up      OperatingState = "UP"
	Down    OperatingState = "DOWN"
)

// Condition describes one aspect of an iot object's state.
type Condition struct {
	Type               string                 `json:"type"`
	Status             corev1.ConditionStatus `json:"status"`
	LastTransitionTime metav1.Time            `json:"lastTransitionTime,omitempty"`
	Reason             string                 `json:"reason,omitempty"`
	Message            string                 `json:"message,omitempty"`
}

// ProtocolProperties are the settings of one device protocol.
type ProtocolProperties map[string]string

// DesiredPropertyState is a device property value the user asks for.
type DesiredPropertyState struct {
	Name string `json:"name"`
	// +optional
	PutURL string `json:"putURL,omitempty"`
	// +optional
	DesiredValue string `json:"desiredValue,omitempty"`
}

// ActualPropertyState is a device property value as the device reports it.
type ActualPropertyState struct {
	Name string `json:"name"`
	// +optional
	GetURL string `json:"getURL,omitempty"`
	// +optional
	ActualValue string `json:"actualValue,omitempty"`
}

// DeviceSpec is the desired state of a Device.
type DeviceSpec struct {
	// +optional
	Description string `json:"description,omitempty"`
	// AdminState is LOCKED or UNLOCKED.
	// +optional
	AdminState AdminState `json:"adminState,omitempty"`
	// OperatingState is UNKNOWN, UP or DOWN.
	// +optional
	OperatingState OperatingState `json:"operatingState,omitempty"`
	// Protocols maps a protocol name to its settings.
	// +optional
	Protocols map[string]ProtocolProperties `json:"protocols,omitempty"`
	// +optional
	// +listType=atomic
	Labels []string `json:"labels,omitempty"`
	// +optional
	Location string `json:"location,omitempty"`
	// ServiceName is the DeviceService that drives the device.
	ServiceName string `json:"serviceName"`
	// ProfileName is the DeviceProfile describing the device.
	ProfileName string `json:"profileName"`
	// NodePool the device is attached to.
	// +optional
	NodePool string `json:"nodePool,omitempty"`
	// +optional
	Notify bool `json:"notify,omitempty"`
	// Managed means the cloud owns the device's desired state.
	// +optional
	Managed bool `json:"managed,omitempty"`
	// +optional
	DeviceProperties map[string]DesiredPropertyState `json:"deviceProperties,omitempty"`
}

// DeviceStatus is the observed state of a Device.
type DeviceStatus struct {
	// +optional
	LastConnected int64 `json:"lastConnected,omitempty"`
	// +optional
	LastReported int64 `json:"lastReported,omitempty"`
	// Synced says whether the device exists on the edge platform.
	// +optional
	Synced bool `json:"synced,omitempty"`
	// +optional
	DeviceProperties map[string]ActualPropertyState `json:"deviceProperties,omitempty"`
	// EdgeId is the device's id on the edge platform.
	// +optional
	EdgeId string `json:"edgeId,omitempty"`
	// +optional
	AdminState AdminState `json:"adminState,omitempty"`
	// +optional
	OperatingState OperatingState `json:"operatingState,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []Condition `json:"conditions,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Device is an IoT device attached to a node pool.
type Device struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   DeviceSpec   `json:"spec,omitempty"`
	Status DeviceStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// DeviceList is a list of Devices.
type DeviceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []Device `json:"items"`
}

// DeviceServiceSpec is the desired state of a DeviceService.
type DeviceServiceSpec struct {
	// +optional
	Description string `json:"description,omitempty"`
	// +optional
	// +listType=atomic
	Labels []string `json:"labels,omitempty"`
	// AdminState is LOCKED or UNLOCKED.
	// +optional
	AdminState AdminState `json:"adminState,omitempty"`
	// BaseAddress is the service's address, e.g. http://device-virtual:59900.
	BaseAddress string `json:"baseAddress"`
	// NodePool the service runs in.
	// +optional
	NodePool string `json:"nodePool,omitempty"`
	// +optional
	Managed bool `json:"managed,omitempty"`
}

// DeviceServiceStatus is the observed state of a DeviceService.
type DeviceServiceStatus struct {
	// +optional
	Synced bool `json:"synced,omitempty"`
	// +optional
	LastConnected int64 `json:"lastConnected,omitempty"`
	// +optional
	LastReported int64 `json:"lastReported,omitempty"`
	// +optional
	EdgeId string `json:"edgeId,omitempty"`
	// +optional
	AdminState AdminState `json:"adminState,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []Condition `json:"conditions,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// DeviceService is an edge service that drives devices.
type DeviceService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   DeviceServiceSpec   `json:"spec,omitempty"`
	Status DeviceServiceStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// DeviceServiceList is a list of DeviceServices.
type DeviceServiceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []DeviceService `json:"items"`
}

// ResourceProperties describe the value of a device resource.
type ResourceProperties struct {
	// ValueType is e.g. Bool, Int32, Float64, String.
	ValueType string `json:"valueType"`
	// ReadWrite is R, W or RW.
	ReadWrite string `json:"readWrite"`
	// +optional
	Units string `json:"units,omitempty"`
	// +optional
	Minimum string `json:"minimum,omitempty"`
	// +optional
	Maximum string `json:"maximum,omitempty"`
	// +optional
	DefaultValue string `json:"defaultValue,omitempty"`
	// +optional
	Mask string `json:"mask,omitempty"`
	// +optional
	Shift string `json:"shift,omitempty"`
	// +optional
	Scale string `json:"scale,omitempty"`
	// +optional
	Offset string `json:"offset,omitempty"`
	// +optional
	Base string `json:"base,omitempty"`
	// +optional
	Assertion string `json:"assertion,omitempty"`
	// +optional
	MediaType string `json:"mediaType,omitempty"`
}

// DeviceResource is one value a device exposes.
type DeviceResource struct {
	// +optional
	Description string `json:"description,omitempty"`
	Name        string `json:"name"`
	// +optional
	Tag string `json:"tag,omitempty"`
	// +optional
	IsHidden   bool               `json:"isHidden,omitempty"`
	Properties ResourceProperties `json:"properties"`
	// +optional
	Attributes map[string]string `json:"attributes,omitempty"`
}

// ResourceOperation is one resource read or written by a command.
type ResourceOperation struct {
	DeviceResource string `json:"deviceResource"`
	// +optional
	DefaultValue string `json:"defaultValue,omitempty"`
	// +optional
	Mappings map[string]string `json:"mappings,omitempty"`
}

// DeviceCommand groups resource operations under one name.
type DeviceCommand struct {
	Name string `json:"name"`
	// +optional
	IsHidden bool `json:"isHidden,omitempty"`
	// ReadWrite is R, W or RW.
	ReadWrite string `json:"readWrite"`
	// +listType=atomic
	ResourceOperations []ResourceOperation `json:"resourceOperations"`
}

// DeviceProfileSpec is the desired state of a DeviceProfile.
type DeviceProfileSpec struct {
	// NodePool the profile is used in.
	// +optional
	NodePool string `json:"nodePool,omitempty"`
	// +optional
	Description string `json:"description,omitempty"`
	// +optional
	Manufacturer string `json:"manufacturer,omitempty"`
	// +optional
	Model string `json:"model,omitempty"`
	// +optional
	// +listType=atomic
	Labels []string `json:"labels,omitempty"`
	// +optional
	// +listType=atomic
	DeviceResources []DeviceResource `json:"deviceResources,omitempty"`
	// +optional
	// +listType=atomic
	DeviceCommands []DeviceCommand `json:"deviceCommands,omitempty"`
}

// DeviceProfileStatus is the observed state of a DeviceProfile.
type DeviceProfileStatus struct {
	// +optional
	EdgeId string `json:"id,omitempty"`
	// +optional
	Synced bool `json:"synced,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// DeviceProfile describes a kind of device: its resources and commands.
type DeviceProfile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   DeviceProfileSpec   `json:"spec,omitempty"`
	Status DeviceProfileStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// DeviceProfileList is a list of DeviceProfiles.
type DeviceProfileList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []DeviceProfile `json:"items"`
}

// PlatformAdminComponent is an optional component of the platform.
type PlatformAdminComponent struct {
	Name string `json:"name"`
}

// PlatformAdminSpec is the desired state of a PlatformAdmin.
type PlatformAdminSpec struct {
	// Version of the platform, e.g. minnesota.
	// +optional
	Version string `json:"version,omitempty"`
	// ImageRegistry the platform's images are pulled from.
	// +optional
	ImageRegistry string `json:"imageRegistry,omitempty"`
	// PoolName is the node pool the platform runs in.
	PoolName string `json:"poolName"`
	// Platform is the IoT platform; only edgex is supported.
	// +optional
	Platform string `json:"platform,omitempty"`
	// Components are the optional components to run.
	// +optional
	// +listType=atomic
	Components []PlatformAdminComponent `json:"components,omitempty"`
	// Security runs the platform's secured variant.
	// +optional
	Security bool `json:"security,omitempty"`
}

// PlatformAdminStatus is the observed state of a PlatformAdmin.
type PlatformAdminStatus struct {
	// +optional
	Ready bool `json:"ready,omitempty"`
	// +optional
	Initialized bool `json:"initialized,omitempty"`
	// +optional
	ReadyComponentNum int32 `json:"readyComponentNum,omitempty"`
	// +optional
	UnreadyComponentNum int32 `json:"unreadyComponentNum,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []Condition `json:"conditions,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PlatformAdmin runs an IoT platform (EdgeX) in a node pool.
type PlatformAdmin struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   PlatformAdminSpec   `json:"spec,omitempty"`
	Status PlatformAdminStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PlatformAdminList is a list of PlatformAdmins.
type PlatformAdminList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []PlatformAdmin `json:"items"`
}
