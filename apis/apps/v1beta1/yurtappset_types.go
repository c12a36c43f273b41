package v1beta1

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DeploymentTemplate is the template of the per-pool Deployments.
type DeploymentTemplate struct {
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`
	Spec              appsv1.DeploymentSpec `json:"spec" protobuf:"bytes,2,opt,name=spec"`
}

// StatefulSetTemplate is the template of the per-pool StatefulSets.
type StatefulSetTemplate struct {
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`
	Spec              appsv1.StatefulSetSpec `json:"spec" protobuf:"bytes,2,opt,name=spec"`
}

// WorkloadTemplate holds exactly one of a Deployment or a StatefulSet template.
type WorkloadTemplate struct {
	// +optional
	DeploymentTemplate *DeploymentTemplate `json:"deploymentTemplate,omitempty" protobuf:"bytes,1,opt,name=deploymentTemplate"`
	// +optional
	StatefulSetTemplate *StatefulSetTemplate `json:"statefulSetTemplate,omitempty" protobuf:"bytes,2,opt,name=statefulSetTemplate"`
}

// ImageItem replaces the image of one container.
type ImageItem struct {
	// Name of the container.
	Name string `json:"name" protobuf:"bytes,1,opt,name=name"`
	// TargetImage is the image the container gets.
	TargetImage string `json:"targetImage" protobuf:"bytes,2,opt,name=targetImage"`
}

// PatchOperation is a JSON patch operation.
type PatchOperation string

const (
	ADD     PatchOperation = "add"
	REMOVE  PatchOperation = "remove"
	REPLACE PatchOperation = "replace"
)

// Patch is one JSON patch operation on the workload. The text {{nodepool-name}} in the value
// is replaced by the pool's name.
type Patch struct {
	// Path is a JSON pointer into the workload.
	Path string `json:"path" protobuf:"bytes,1,opt,name=path"`
	// Operation is add, remove or replace.
	Operation PatchOperation `json:"operation" protobuf:"bytes,2,opt,name=operation,casttype=PatchOperation"`
	// Value for add and replace.
	// +optional
	Value apiextensionsv1.JSON `json:"value,omitempty" protobuf:"bytes,3,opt,name=value"`
}

// Tweaks change the workload of the selected pools.
type Tweaks struct {
	// +optional
	Replicas *int32 `json:"replicas,omitempty" protobuf:"varint,1,opt,name=replicas"`
	// +optional
	// +listType=atomic
	ContainerImages []ImageItem `json:"containerImages,omitempty" protobuf:"bytes,2,rep,name=containerImages"`
	// +optional
	// +listType=atomic
	Patches []Patch `json:"patches,omitempty" protobuf:"bytes,3,rep,name=patches"`
}

// WorkloadTweak applies tweaks to the pools it selects.
type WorkloadTweak struct {
	// +optional
	NodePoolSelector *metav1.LabelSelector `json:"nodepoolSelector,omitempty" protobuf:"bytes,1,opt,name=nodepoolSelector"`
	// +optional
	// +listType=atomic
	Pools  []string `json:"pools,omitempty" protobuf:"bytes,2,rep,name=pools"`
	Tweaks Tweaks   `json:"tweaks" protobuf:"bytes,3,opt,name=tweaks"`
}

// Workload is the template and the per-pool tweaks.
type Workload struct {
	WorkloadTemplate WorkloadTemplate `json:"workloadTemplate" protobuf:"bytes,1,opt,name=workloadTemplate"`
	// +optional
	// +listType=atomic
	WorkloadTweaks []WorkloadTweak `json:"workloadTweaks,omitempty" protobuf:"bytes,2,rep,name=workloadTweaks"`
}

// YurtAppSetSpec is the desired state of a YurtAppSet.
type YurtAppSetSpec struct {
	Workload Workload `json:"workload" protobuf:"bytes,1,opt,name=workload"`
	// NodePoolSelector selects pools by their labels.
	// +optional
	NodePoolSelector *metav1.LabelSelector `json:"nodepoolSelector,omitempty" protobuf:"bytes,2,opt,name=nodepoolSelector"`
	// Pools names pools explicitly.
	// +optional
	// +listType=atomic
	Pools []string `json:"pools,omitempty" protobuf:"bytes,3,rep,name=pools"`
	// RevisionHistoryLimit is how many old revisions are kept; defaults to 10.
	// +optional
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty" protobuf:"varint,4,opt,name=revisionHistoryLimit"`
}

// YurtAppSetConditionType names a YurtAppSet condition.
type YurtAppSetConditionType string

const (
	AppSetAppDispatched YurtAppSetConditionType = "AppDispatched"
	AppSetAppDeleted    YurtAppSetConditionType = "AppDeleted"
	AppSetAppUpdated    YurtAppSetConditionType = "AppUpdated"
	AppSetAppReady      YurtAppSetConditionType = "AppReady"
	AppSetPoolFound     YurtAppSetConditionType = "PoolFound"
)

// YurtAppSetCondition describes one aspect of a YurtAppSet's state.
type YurtAppSetCondition struct {
	Type               YurtAppSetConditionType `json:"type" protobuf:"bytes,1,opt,name=type,casttype=YurtAppSetConditionType"`
	Status             corev1.ConditionStatus  `json:"status" protobuf:"bytes,2,opt,name=status,casttype=k8s.io/api/core/v1.ConditionStatus"`
	LastTransitionTime metav1.Time             `json:"lastTransitionTime,omitempty" protobuf:"bytes,3,opt,name=lastTransitionTime"`
	Reason             string                  `json:"reason,omitempty" protobuf:"bytes,4,opt,name=reason"`
	Message            string                  `json:"message,omitempty" protobuf:"bytes,5,opt,name=message"`
}

// YurtAppSetStatus is the observed state of a YurtAppSet.
type YurtAppSetStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty" protobuf:"varint,1,opt,name=observedGeneration"`
	// +optional
	CollisionCount *int32 `json:"collisionCount,omitempty" protobuf:"varint,2,opt,name=collisionCount"`
	// +optional
	CurrentRevision string `json:"currentRevision,omitempty" protobuf:"bytes,3,opt,name=currentRevision"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []YurtAppSetCondition `json:"conditions,omitempty" protobuf:"bytes,4,rep,name=conditions"`
	// +optional
	ReadyWorkloads int32 `json:"readyWorkloads,omitempty" protobuf:"varint,5,opt,name=readyWorkloads"`
	// +optional
	UpdatedWorkloads int32 `json:"updatedWorkloads,omitempty" protobuf:"varint,6,opt,name=updatedWorkloads"`
	// +optional
	TotalWorkloads int32 `json:"totalWorkloads,omitempty" protobuf:"varint,7,opt,name=totalWorkloads"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// YurtAppSet runs one Deployment or StatefulSet per selected node pool, with per-pool tweaks.
type YurtAppSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	Spec   YurtAppSetSpec   `json:"spec,omitempty" protobuf:"bytes,2,opt,name=spec"`
	Status YurtAppSetStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// YurtAppSetList is a list of YurtAppSets.
type YurtAppSetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	Items []YurtAppSet `json:"items" protobuf:"bytes,2,rep,name=items"`
}
