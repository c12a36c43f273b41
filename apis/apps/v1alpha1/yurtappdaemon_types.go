package v1alpha1

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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
	StatefulSetTemplate *StatefulSetTemplate `json:"statefulSetTemplate,omitempty" protobuf:"bytes,1,opt,name=statefulSetTemplate"`
	// +optional
	DeploymentTemplate *DeploymentTemplate `json:"deploymentTemplate,omitempty" protobuf:"bytes,2,opt,name=deploymentTemplate"`
}

// YurtAppDaemonSpec is the desired state of a YurtAppDaemon.
type YurtAppDaemonSpec struct {
	// Selector is a label query over the workloads' pods; it must match the template's labels.
	Selector *metav1.LabelSelector `json:"selector" protobuf:"bytes,1,opt,name=selector"`
	// WorkloadTemplate is the workload created in every matching pool.
	WorkloadTemplate WorkloadTemplate `json:"workloadTemplate,omitempty" protobuf:"bytes,2,opt,name=workloadTemplate"`
	// NodePoolSelector selects the pools to run in, by their labels.
	NodePoolSelector *metav1.LabelSelector `json:"nodepoolSelector" protobuf:"bytes,3,opt,name=nodepoolSelector"`
	// RevisionHistoryLimit is how many old revisions are kept; defaults to 10.
	// +optional
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty" protobuf:"varint,4,opt,name=revisionHistoryLimit"`
}

// YurtAppDaemonConditionType names a YurtAppDaemon condition.
type YurtAppDaemonConditionType string

// WorkLoadProvisioned says whether the per-pool workloads were created.
const WorkLoadProvisioned YurtAppDaemonConditionType = "WorkLoadProvisioned"

// YurtAppDaemonCondition describes one aspect of a YurtAppDaemon's state.
type YurtAppDaemonCondition struct {
	Type               YurtAppDaemonConditionType `json:"type,omitempty" protobuf:"bytes,1,opt,name=type,casttype=YurtAppDaemonConditionType"`
	Status             corev1.ConditionStatus     `json:"status,omitempty" protobuf:"bytes,2,opt,name=status,casttype=k8s.io/api/core/v1.ConditionStatus"`
	LastTransitionTime metav1.Time                `json:"lastTransitionTime,omitempty" protobuf:"bytes,3,opt,name=lastTransitionTime"`
	Reason             string                     `json:"reason,omitempty" protobuf:"bytes,4,opt,name=reason"`
	Message            string                     `json:"message,omitempty" protobuf:"bytes,5,opt,name=message"`
}

// YurtAppDaemonStatus is the observed state of a YurtAppDaemon.
type YurtAppDaemonStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty" protobuf:"varint,1,opt,name=observedGeneration"`
	// +optional
	CollisionCount *int32 `json:"collisionCount,omitempty" protobuf:"varint,2,opt,name=collisionCount"`
	// +optional
	CurrentRevision string `json:"currentRevision,omitempty" protobuf:"bytes,3,opt,name=currentRevision"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []YurtAppDaemonCondition `json:"conditions,omitempty" protobuf:"bytes,4,rep,name=conditions"`
	// TemplateType is StatefulSet or Deployment.
	// +optional
	TemplateType string `json:"templateType,omitempty" protobuf:"bytes,5,opt,name=templateType"`
	// NodePools are the pools the workload runs in.
	// +optional
	// +listType=atomic
	NodePools []string `json:"nodepools,omitempty" protobuf:"bytes,6,rep,name=nodepools"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// YurtAppDaemon runs a workload in every node pool that matches its selector, following pools
// as they come and go.
type YurtAppDaemon struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	Spec   YurtAppDaemonSpec   `json:"spec,omitempty" protobuf:"bytes,2,opt,name=spec"`
	Status YurtAppDaemonStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// YurtAppDaemonList is a list of YurtAppDaemons.
type YurtAppDaemonList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	Items []YurtAppDaemon `json:"items" protobuf:"bytes,2,rep,name=items"`
}
