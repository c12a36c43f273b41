package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ResourceProperties describe the value of a device resource.
type ResourceProperties struct {
	// ValueType is e.g. Bool, Int32, Float64, String.
	ValueType string `json:"valueType" protobuf:"bytes,1,opt,name=valueType"`
	// ReadWrite is R, W or RW.
	ReadWrite string `json:"readWrite" protobuf:"bytes,2,opt,name=readWrite"`
	// +optional
	Units string `json:"units,omitempty" protobuf:"bytes,3,opt,name=units"`
	// +optional
	Minimum string `json:"minimum,omitempty" protobuf:"bytes,4,opt,name=minimum"`
	// +optional
	Maximum string `json:"maximum,omitempty" protobuf:"bytes,5,opt,name=maximum"`
	// +optional
	DefaultValue string `json:"defaultValue,omitempty" protobuf:"bytes,6,opt,name=defaultValue"`
	// +optional
	Mask string `json:"mask,omitempty" protobuf:"bytes,7,opt,name=mask"`
	// +optional
	Shift string `json:"shift,omitempty" protobuf:"bytes,8,opt,name=shift"`
	// +optional
	Scale string `json:"scale,omitempty" protobuf:"bytes,9,opt,name=scale"`
	// +optional
	Offset string `json:"offset,omitempty" protobuf:"bytes,10,opt,name=offset"`
	// +optional
	Base string `json:"base,omitempty" protobuf:"bytes,11,opt,name=base"`
	// +optional
	Assertion string `json:"assertion,omitempty" protobuf:"bytes,12,opt,name=assertion"`
	// +optional
	MediaType string `json:"mediaType,omitempty" protobuf:"bytes,13,opt,name=mediaType"`
}

// DeviceResource is one value a device exposes.
type DeviceResource struct {
	// +optional
	Description string `json:"description,omitempty" protobuf:"bytes,1,opt,name=description"`
	Name        string `json:"name" protobuf:"bytes,2,opt,name=name"`
	// +optional
	Tag string `json:"tag,omitempty" protobuf:"bytes,3,opt,name=tag"`
	// +optional
	IsHidden   bool               `json:"isHidden,omitempty" protobuf:"varint,4,opt,name=isHidden"`
	Properties ResourceProperties `json:"properties" protobuf:"bytes,5,opt,name=properties"`
	// +optional
	Attributes map[string]string `json:"attributes,omitempty" protobuf:"bytes,6,rep,name=attributes"`
}

// ResourceOperation is one resource read or written by a command.
type ResourceOperation struct {
	DeviceResource string `json:"deviceResource" protobuf:"bytes,1,opt,name=deviceResource"`
	// +optional
	DefaultValue string `json:"defaultValue,omitempty" protobuf:"bytes,2,opt,name=defaultValue"`
	// +optional
	Mappings map[string]string `json:"mappings,omitempty" protobuf:"bytes,3,rep,name=mappings"`
}

// DeviceCommand groups resource operations under one name.
type DeviceCommand struct {
	Name string `json:"name" protobuf:"bytes,1,opt,name=name"`
	// +optional
	IsHidden bool `json:"isHidden,omitempty" protobuf:"varint,2,opt,name=isHidden"`
	// ReadWrite is R, W or RW.
	ReadWrite string `json:"readWrite" protobuf:"bytes,3,opt,name=readWrite"`
	// +listType=atomic
	ResourceOperations []ResourceOperation `json:"resourceOperations" protobuf:"bytes,4,rep,name=resourceOperations"`
}

// DeviceProfileSpec is the desired state of a DeviceProfile.
type DeviceProfileSpec struct {
	// NodePool the profile is used in.
	// +optional
	NodePool string `json:"nodePool,omitempty" protobuf:"bytes,1,opt,name=nodePool"`
	// +optional
	Description string `json:"description,omitempty" protobuf:"bytes,2,opt,name=description"`
	// +optional
	Manufacturer string `json:"manufacturer,omitempty" protobuf:"bytes,3,opt,name=manufacturer"`
	// +optional
	Model string `json:"model,omitempty" protobuf:"bytes,4,opt,name=model"`
	// +optional
	// +listType=atomic
	Labels []string `json:"labels,omitempty" protobuf:"bytes,5,rep,name=labels"`
	// +optional
	// +listType=atomic
	DeviceResources []DeviceResource `json:"deviceResources,omitempty" protobuf:"bytes,6,rep,name=deviceResources"`
	// +optional
	// +listType=atomic
	DeviceCommands []DeviceCommand `json:"deviceCommands,omitempty" protobuf:"bytes,7,rep,name=deviceCommands"`
}

// DeviceProfileStatus is the observed state of a DeviceProfile.
type DeviceProfileStatus struct {
	// +optional
	EdgeId string `json:"id,omitempty" protobuf:"bytes,1,opt,name=id"`
	// +optional
	Synced bool `json:"synced,omitempty" protobuf:"varint,2,opt,name=synced"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// DeviceProfile describes a kind of device: its resources and commands.
type DeviceProfile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	Spec   DeviceProfileSpec   `json:"spec,omitempty" protobuf:"bytes,2,opt,name=spec"`
	Status DeviceProfileStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// DeviceProfileList is a list of DeviceProfiles.
type DeviceProfileList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	Items []DeviceProfile `json:"items" protobuf:"bytes,2,rep,name=items"`
}
