package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PlatformAdminComponent is an optional component of the platform.
type PlatformAdminComponent struct {
	Name string `json:"name" protobuf:"bytes,1,opt,name=name"`
}

// PlatformAdminSpec is the desired state of a PlatformAdmin.
type PlatformAdminSpec struct {
	// Version of the platform, e.g. minnesota.
	// +optional
	Version string `json:"version,omitempty" protobuf:"bytes,1,opt,name=version"`
	// ImageRegistry the platform's images are pulled from.
	// +optional
	ImageRegistry string `json:"imageRegistry,omitempty" protobuf:"bytes,2,opt,name=imageRegistry"`
	// PoolName is the node pool the platform runs in.
	PoolName string `json:"poolName" protobuf:"bytes,3,opt,name=poolName"`
	// Platform is the IoT platform; only edgex is supported.
	// +optional
	Platform string `json:"platform,omitempty" protobuf:"bytes,4,opt,name=platform"`
	// Components are the optional components to run.
	// +optional
	// +listType=atomic
	Components []PlatformAdminComponent `json:"components,omitempty" protobuf:"bytes,5,rep,name=components"`
	// Security runs the platform's secured variant.
	// +optional
	Security bool `json:"security,omitempty" protobuf:"varint,6,opt,name=security"`
}

// PlatformAdminStatus is the observed state of a PlatformAdmin.
type PlatformAdminStatus struct {
	// +optional
	Ready bool `json:"ready,omitempty" protobuf:"varint,1,opt,name=ready"`
	// +optional
	Initialized bool `json:"initialized,omitempty" protobuf:"varint,2,opt,name=initialized"`
	// +optional
	ReadyComponentNum int32 `json:"readyComponentNum,omitempty" protobuf:"varint,3,opt,name=readyComponentNum"`
	// +optional
	UnreadyComponentNum int32 `json:"unreadyComponentNum,omitempty" protobuf:"varint,4,opt,name=unreadyComponentNum"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []Condition `json:"conditions,omitempty" protobuf:"bytes,5,rep,name=conditions"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PlatformAdmin runs an IoT platform (EdgeX) in a node pool.
type PlatformAdmin struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	Spec   PlatformAdminSpec   `json:"spec,omitempty" protobuf:"bytes,2,opt,name=spec"`
	Status PlatformAdminStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PlatformAdminList is a list of PlatformAdmins.
type PlatformAdminList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	Items []PlatformAdmin `json:"items" protobuf:"bytes,2,rep,name=items"`
}
