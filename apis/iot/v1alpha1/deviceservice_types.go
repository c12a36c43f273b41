package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DeviceServiceSpec is the desired state of a DeviceService.
type DeviceServiceSpec struct {
	// +optional
	Description string `json:"description,omitempty" protobuf:"bytes,1,opt,name=description"`
	// +optional
	// +listType=atomic
	Labels []string `json:"labels,omitempty" protobuf:"bytes,2,rep,name=labels"`
	// AdminState is LOCKED or UNLOCKED.
	// +optional
	AdminState AdminState `json:"adminState,omitempty" protobuf:"bytes,3,opt,name=adminState,casttype=AdminState"`
	// BaseAddress is the service's address, e.g. http://device-virtual:59900.
	BaseAddress string `json:"baseAddress" protobuf:"bytes,4,opt,name=baseAddress"`
	// NodePool the service runs in.
	// +optional
	NodePool string `json:"nodePool,omitempty" protobuf:"bytes,5,opt,name=nodePool"`
	// +optional
	Managed bool `json:"managed,omitempty" protobuf:"varint,6,opt,name=managed"`
}

// DeviceServiceStatus is the observed state of a DeviceService.
type DeviceServiceStatus struct {
	// +optional
	Synced bool `json:"synced,omitempty" protobuf:"varint,1,opt,name=synced"`
	// +optional
	LastConnected int64 `json:"lastConnected,omitempty" protobuf:"varint,2,opt,name=lastConnected"`
	// +optional
	LastReported int64 `json:"lastReported,omitempty" protobuf:"varint,3,opt,name=lastReported"`
	// +optional
	EdgeId string `json:"edgeId,omitempty" protobuf:"bytes,4,opt,name=edgeId"`
	// +optional
	AdminState AdminState `json:"adminState,omitempty" protobuf:"bytes,5,opt,name=adminState,casttype=AdminState"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []Condition `json:"conditions,omitempty" protobuf:"bytes,6,rep,name=conditions"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// DeviceService is an edge service that drives devices.
type DeviceService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	Spec   DeviceServiceSpec   `json:"spec,omitempty" protobuf:"bytes,2,opt,name=spec"`
	Status DeviceServiceStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// DeviceServiceList is a list of DeviceServices.
type DeviceServiceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	Items []DeviceService `json:"items" protobuf:"bytes,2,rep,name=items"`
}
