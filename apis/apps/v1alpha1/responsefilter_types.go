package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FailurePolicyType says what a hub does when a filter fails at run time.
type FailurePolicyType string

const (
	// Ignore passes the object on unchanged when the filter fails.
	Ignore FailurePolicyType = "Ignore"
	// Fail fails the request when the filter fails.
	Fail FailurePolicyType = "Fail"
)

// ResourceRule matches requests for some resources of one API group.
type ResourceRule struct {
	// Group is the API group; "" is the core group.
	// +optional
	Group string `json:"group" protobuf:"bytes,1,opt,name=group"`
	// Resources are resource names, e.g. endpointslices; "*" matches all.
	// +listType=atomic
	Resources []string `json:"resources" protobuf:"bytes,2,rep,name=resources"`
	// Verbs are get, list and watch; "*" matches all three.
	// +listType=atomic
	Verbs []string `json:"verbs" protobuf:"bytes,3,rep,name=verbs"`
}

// MatchResources says which requests a filter applies to.
type MatchResources struct {
	// UserAgents are client names (the User-Agent up to its first "/"); "*" matches all.
	// +listType=atomic
	UserAgents []string `json:"userAgents" protobuf:"bytes,1,rep,name=userAgents"`
	// Resources are the resources and verbs the filter applies to.
	// +listType=atomic
	Resources []ResourceRule `json:"resources" protobuf:"bytes,2,rep,name=resources"`
}

// MatchCondition is a CEL boolean; the filter runs only when all are true.
type MatchCondition struct {
	Name       string `json:"name" protobuf:"bytes,1,opt,name=name"`
	Expression string `json:"expression" protobuf:"bytes,2,opt,name=expression"`
}

// Variable is a named CEL expression, available to later ones as variables.<name>.
type Variable struct {
	Name       string `json:"name" protobuf:"bytes,1,opt,name=name"`
	Expression string `json:"expression" protobuf:"bytes,2,opt,name=expression"`
}

// PatchType is how a mutation changes the object.
type PatchType string

const (
	// PatchTypeApplyConfiguration merges an apply configuration into the object.
	PatchTypeApplyConfiguration PatchType = "ApplyConfiguration"
	// PatchTypeJSONPatch applies a JSON patch to the object.
	PatchTypeJSONPatch PatchType = "JSONPatch"
)

// ApplyConfiguration is a CEL expression producing an apply configuration (an Object{...} literal).
type ApplyConfiguration struct {
	Expression string `json:"expression,omitempty" protobuf:"bytes,1,opt,name=expression"`
}

// JSONPatch is a CEL expression producing a list of JSONPatch{...} operations.
type JSONPatch struct {
	Expression string `json:"expression,omitempty" protobuf:"bytes,1,opt,name=expression"`
}

// Mutation changes a kept object.
type Mutation struct {
	// PatchType is ApplyConfiguration or JSONPatch.
	PatchType PatchType `json:"patchType" protobuf:"bytes,1,opt,name=patchType,casttype=PatchType"`
	// +optional
	ApplyConfiguration *ApplyConfiguration `json:"applyConfiguration,omitempty" protobuf:"bytes,2,opt,name=applyConfiguration"`
	// +optional
	JSONPatch *JSONPatch `json:"jsonPatch,omitempty" protobuf:"bytes,3,opt,name=jsonPatch"`
}

// ResponseFilterSpec is a filter a hub runs on the responses it returns to local components.
type ResponseFilterSpec struct {
	// Priority orders filters; lower runs first.
	// +optional
	Priority int32 `json:"priority,omitempty" protobuf:"varint,1,opt,name=priority"`
	// FailurePolicy is Ignore or Fail; defaults to Fail.
	// +optional
	FailurePolicy *FailurePolicyType `json:"failurePolicy,omitempty" protobuf:"bytes,2,opt,name=failurePolicy,casttype=FailurePolicyType"`
	// Match selects the requests the filter applies to.
	Match MatchResources `json:"match" protobuf:"bytes,3,opt,name=match"`
	// MatchConditions must all be true for the filter to run on an object.
	// +optional
	// +listType=map
	// +listMapKey=name
	MatchConditions []MatchCondition `json:"matchConditions,omitempty" protobuf:"bytes,4,rep,name=matchConditions"`
	// Variables are evaluated in order and visible to later expressions.
	// +optional
	// +listType=map
	// +listMapKey=name
	Variables []Variable `json:"variables,omitempty" protobuf:"bytes,5,rep,name=variables"`
	// Keep is a CEL boolean; false drops the object from the response.
	// +optional
	Keep string `json:"keep,omitempty" protobuf:"bytes,6,opt,name=keep"`
	// Mutations change the kept object, in order.
	// +optional
	// +listType=atomic
	Mutations []Mutation `json:"mutations,omitempty" protobuf:"bytes,7,rep,name=mutations"`
}

// ResponseFilterStatus is the observed state of a ResponseFilter.
type ResponseFilterStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty" protobuf:"varint,1,opt,name=observedGeneration"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" protobuf:"bytes,2,rep,name=conditions"`
}

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ResponseFilter is a CEL-defined filter that every hub applies to matching responses.
type ResponseFilter struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	Spec   ResponseFilterSpec   `json:"spec,omitempty" protobuf:"bytes,2,opt,name=spec"`
	Status ResponseFilterStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ResponseFilterList is a list of ResponseFilters.
type ResponseFilterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	Items []ResponseFilter `json:"items" protobuf:"bytes,2,rep,name=items"`
}
