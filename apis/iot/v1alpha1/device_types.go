package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ProtocolProperties are the settings of one device protocol.
// +protobuf.nullable=true
// +protobuf.options.(gogoproto.goproto_stringer)=false
type ProtocolProperties map[string]string

// DesiredPropertyState is a device property value the user asks for.
type DesiredPropertyState struct {
	Name string `json:"name" protobuf:"bytes,1,opt,name=name"`
	// +optional
	PutURL string `json:"putURL,omitempty" protobuf:"bytes,2,opt,name=putURL"`
	// +optional
	DesiredValue string `json:"desiredValue,omitempty" protobuf:"bytes,3,opt,name=desiredValue"`
}

// ActualPropertyState is a device property value as the device reports it.
type ActualPropertyState struct {
	Name string `json:"name" protobuf:"bytes,1,opt,name=name"`
	// +optional
	GetURL string `json:"getURL,omitempty" protobuf:"bytes,2,opt,name=getURL"`
	// +optional
	ActualValue string `json:"actualValue,omitempty" protobuf:"bytes,3,opt,name=actualValue"`
}

// DeviceSpec is the desired state of a Device.
type DeviceSpec struct {
	// +optional
	Description string `json:"description,omitempty" protobuf:"bytes,1,opt,name=description"`
	// AdminState is LOCKED or UNLOCKED.
	// +optional
	AdminState AdminState `json:"adminState,omitempty" protobuf:"bytes,2,opt,name=adminState,casttype=AdminState"`
	// OperatingState is UNKNOWN, UP or DOWN.
	// +optional
	OperatingState OperatingState `json:"operatingState,omitempty" protobuf:"bytes,3,opt,name=operatingState,casttype=OperatingState"`
	// Protocols maps a protocol name to its settings.
	// +optional
	Protocols map[string]ProtocolProperties `json:"protocols,omitempty" protobuf:"bytes,4,rep,name=protocols"`
	// +optional
	// +listType=atomic
	Labels []string `json:"labels,omitempty" protobuf:"bytes,5,rep,name=labels"`
	// +optional
	Location string `json:"location,omitempty" protobuf:"bytes,6,opt,name=location"`
	// ServiceName is the DeviceService that drives the device.
	ServiceName string `json:"serviceName" protobuf:"bytes,7,opt,name=serviceName"`
	// ProfileName is the DeviceProfile describing the device.
	ProfileName string `json:"profileName" protobuf:"bytes,8,opt,name=profileName"`
	// NodePool the device is attached to.
	// +optional
	NodePool string `json:"nodePool,omitempty" protobuf:"bytes,9,opt,name=nodePool"`
	// +optional
	Notify bool `json:"notify,omitempty" protobuf:"varint,10,opt,name=notify"`
	// Managed means the cloud owns the device's desired state.
	// +optional
	Managed bool `json:"managed,omitempty" protobuf:"varint,11,opt,name=managed"`
	// +optional
	DeviceProperties map[string]DesiredPropertyState `json:"deviceProperties,omitempty" protobuf:"bytes,12,rep,name=deviceProperties"`
}

// DeviceStatus is the observed state of a Device.
type DeviceStatus struct {
	// +optional
	LastConnected int64 `json:"lastConnected,omitempty" protobuf:"varint,1,opt,name=lastConnected"`
	// +optional
	LastReported int64 `json:"lastReported,omitempty" protobuf:"varint,2,opt,name=lastReported"`
	// Synced says whether the device exists on the edge platform.
	// +optional
	Synced bool `json:"synced,omitempty" protobuf:"varint,3,opt,name=synced"`
	// +optional
	DeviceProperties map[string]ActualPropertyState `json:"deviceProperties,omitempty" protobuf:"bytes,4,rep,name=deviceProperties"`
	// EdgeId is the device's id on the edge platform.
	// +optional
	EdgeId string `json:"edgeId,omitempty" protobuf:"bytes,5,opt,name=edgeId"`
	// +optional
	AdminState AdminState `json:"adminState,omitempty" protobuf:"bytes,6,opt,name=adminState,casttype=AdminState"`
	// +optional
	OperatingState OperatingState `json:"operatingState,omitempty" protobuf:"bytes,7,opt,name=operatingState,casttype=OperatingState"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []Condition `json:"conditions,omitempty" protobuf:"bytes,8,rep,name=conditions"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Device is an IoT device attached to a node pool.
type Device struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	Spec   DeviceSpec   `json:"spec,omitempty" protobuf:"bytes,2,opt,name=spec"`
	Status DeviceStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// DeviceList is a list of Devices.
type DeviceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	Items []Device `json:"items" protobuf:"bytes,2,rep,name=items"`
}
