package apps

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodePoolType says where a pool's nodes run.
type NodePoolType string

const (
	// Edge pools run at the edge and may lose their link to the cloud.
	Edge NodePoolType = "Edge"
	// Cloud pools run next to the control plane.
	Cloud NodePoolType = "Cloud"
)

// LeaderElectionStrategy says how the pool's hub leaders are picked.
type LeaderElectionStrategy string

const (
	// ElectionStrategyRandom picks leaders among all Ready nodes of the pool.
	ElectionStrategyRandom LeaderElectionStrategy = "random"
	// ElectionStrategyMark picks leaders among Ready nodes matching leaderNodeLabelSelector.
	ElectionStrategyMark LeaderElectionStrategy = "mark"
)

// NodePoolSpec is the desired state of a NodePool.
type NodePoolSpec struct {
	// Type of the pool: Edge or Cloud. Immutable; defaults to Edge.
	// +optional
	Type NodePoolType `json:"type,omitempty"`

	// HostNetwork makes the pool's pods use the host network. Immutable; not allowed on Cloud pools.
	// +optional
	HostNetwork bool `json:"hostNetwork,omitempty"`

	// Labels are applied to every node of the pool.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// Annotations are applied to every node of the pool.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// Taints are applied to every node of the pool.
	// +optional
	// +listType=atomic
	Taints []corev1.Taint `json:"taints,omitempty"`

	// InterConnectivity says the pool's nodes can reach each other, so they may share
	// pool-scoped data through a leader. Immutable.
	// +optional
	InterConnectivity bool `json:"interConnectivity,omitempty"`

	// LeaderElectionStrategy is random or mark; defaults to random.
	// +optional
	LeaderElectionStrategy LeaderElectionStrategy `json:"leaderElectionStrategy,omitempty"`

	// LeaderNodeLabelSelector restricts leader candidates when the strategy is mark.
	// +optional
	LeaderNodeLabelSelector map[string]string `json:"leaderNodeLabelSelector,omitempty"`

	// EnableLeaderElection turns on hub leader election for the pool.
	// +optional
	EnableLeaderElection bool `json:"enableLeaderElection,omitempty"`

	// LeaderReplicas is how many leaders the pool has; defaults to 1.
	// +optional
	LeaderReplicas int32 `json:"leaderReplicas,omitempty"`

	// PoolScopeMetadata lists the resources shared by the pool's hubs. Services and
	// EndpointSlices are always included.
	// +optional
	// +listType=atomic
	PoolScopeMetadata []metav1.GroupVersionResource `json:"poolScopeMetadata,omitempty"`
}

// Leader is a node elected as a hub leader of its pool.
type Leader struct {
	// NodeName of the leader.
	NodeName string `json:"nodeName"`
	// Address the pool's hubs reach the leader on.
	Address string `json:"address"`
}

// NodePoolConditionType names a NodePool condition.
type NodePoolConditionType string

// LeaderReady says whether the pool has its leaders.
const LeaderReady NodePoolConditionType = "LeaderReady"

// NodePoolCondition describes one aspect of a pool's state.
type NodePoolCondition struct {
	Type               NodePoolConditionType  `json:"type,omitempty"`
	Status             corev1.ConditionStatus `json:"status,omitempty"`
	LastTransitionTime metav1.Time            `json:"lastTransitionTime,omitempty"`
	Reason             string                 `json:"reason,omitempty"`
	Message            string                 `json:"message,omitempty"`
}

// NodePoolStatus is the observed state of a NodePool. yurt-apiserver derives the node
// counts and names from the cluster's Nodes; clients cannot write them.
type NodePoolStatus struct {
	// ReadyNodeNum is the number of Ready nodes in the pool.
	// +optional
	ReadyNodeNum int32 `json:"readyNodeNum"`
	// UnreadyNodeNum is the number of nodes in the pool that are not Ready.
	// +optional
	UnreadyNodeNum int32 `json:"unreadyNodeNum"`
	// Nodes are the names of the pool's nodes, sorted.
	// +optional
	// +listType=atomic
	Nodes []string `json:"nodes,omitempty"`
	// LeaderEndpoints are the pool's elected hub leaders.
	// +optional
	// +listType=atomic
	LeaderEndpoints []Leader `json:"leaderEndpoints,omitempty"`
	// LeaderNum is the number of elected leaders.
	// +optional
	LeaderNum int32 `json:"leaderNum,omitempty"`
	// LeaderLastElectedTime is when the leaders last changed.
	// +optional
	LeaderLastElectedTime metav1.Time `json:"leaderLastElectedTime,omitempty"`
	// Conditions of the pool.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []NodePoolCondition `json:"conditions,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// NodePool is a group of nodes that share attributes and, at the edge, a site and a link to
// the cloud. A node joins a pool with the label apps.openyurt.io/nodepool=<pool name>.
type NodePool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   NodePoolSpec   `json:"spec,omitempty"`
	Status NodePoolStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// NodePoolList is a list of NodePools.
type NodePoolList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []NodePool `json:"items"`
}

// DeploymentTemplate is the template of the per-pool Deployments.
type DeploymentTemplate struct {
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              appsv1.DeploymentSpec `json:"spec"`
}

// StatefulSetTemplate is the template of the per-pool StatefulSets.
type StatefulSetTemplate struct {
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              appsv1.StatefulSetSpec `json:"spec"`
}

// WorkloadTemplate holds exactly one of a Deployment or a StatefulSet template.
type WorkloadTemplate struct {
	// +optional
	DeploymentTemplate *DeploymentTemplate `json:"deploymentTemplate,omitempty"`
	// +optional
	StatefulSetTemplate *StatefulSetTemplate `json:"statefulSetTemplate,omitempty"`
}

// ImageItem replaces the image of one container.
type ImageItem struct {
	// Name of the container.
	Name string `json:"name"`
	// TargetImage is the image the container gets.
	TargetImage string `json:"targetImage"`
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
	Path string `json:"path"`
	// Operation is add, remove or replace.
	Operation PatchOperation `json:"operation"`
	// Value for add and replace.
	// +optional
	Value apiextensionsv1.JSON `json:"value,omitempty"`
}

// Tweaks change the workload of the selected pools.
type Tweaks struct {
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`
	// +optional
	// +listType=atomic
	ContainerImages []ImageItem `json:"containerImages,omitempty"`
	// +optional
	// +listType=atomic
	Patches []Patch `json:"patches,omitempty"`
}

// WorkloadTweak applies tweaks to the pools it selects.
type WorkloadTweak struct {
	// +optional
	NodePoolSelector *metav1.LabelSelector `json:"nodepoolSelector,omitempty"`
	// +optional
	// +listType=atomic
	Pools  []string `json:"pools,omitempty"`
	Tweaks Tweaks   `json:"tweaks"`
}

// Workload is the template and the per-pool tweaks.
type Workload struct {
	WorkloadTemplate WorkloadTemplate `json:"workloadTemplate"`
	// +optional
	// +listType=atomic
	WorkloadTweaks []WorkloadTweak `json:"workloadTweaks,omitempty"`
}

// YurtAppSetSpec is the desired state of a YurtAppSet.
type YurtAppSetSpec struct {
	Workload Workload `json:"workload"`
	// NodePoolSelector selects pools by their labels.
	// +optional
	NodePoolSelector *metav1.LabelSelector `json:"nodepoolSelector,omitempty"`
	// Pools names pools explicitly.
	// +optional
	// +listType=atomic
	Pools []string `json:"pools,omitempty"`
	// RevisionHistoryLimit is how many old revisions are kept; defaults to 10.
	// +optional
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
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
	Type               YurtAppSetConditionType `json:"type"`
	Status             corev1.ConditionStatus  `json:"status"`
	LastTransitionTime metav1.Time             `json:"lastTransitionTime,omitempty"`
	Reason             string                  `json:"reason,omitempty"`
	Message            string                  `json:"message,omitempty"`
}

// YurtAppSetStatus is the observed state of a YurtAppSet.
type YurtAppSetStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +optional
	CollisionCount *int32 `json:"collisionCount,omitempty"`
	// +optional
	CurrentRevision string `json:"currentRevision,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []YurtAppSetCondition `json:"conditions,omitempty"`
	// +optional
	ReadyWorkloads int32 `json:"readyWorkloads,omitempty"`
	// +optional
	UpdatedWorkloads int32 `json:"updatedWorkloads,omitempty"`
	// +optional
	TotalWorkloads int32 `json:"totalWorkloads,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// YurtAppSet runs one Deployment or StatefulSet per selected node pool, with per-pool tweaks.
type YurtAppSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   YurtAppSetSpec   `json:"spec,omitempty"`
	Status YurtAppSetStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// YurtAppSetList is a list of YurtAppSets.
type YurtAppSetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []YurtAppSet `json:"items"`
}

// YurtAppDaemonSpec is the desired state of a YurtAppDaemon.
type YurtAppDaemonSpec struct {
	// Selector is a label query over the workloads' pods; it must match the template's labels.
	Selector *metav1.LabelSelector `json:"selector"`
	// WorkloadTemplate is the workload created in every matching pool.
	WorkloadTemplate WorkloadTemplate `json:"workloadTemplate,omitempty"`
	// NodePoolSelector selects the pools to run in, by their labels.
	NodePoolSelector *metav1.LabelSelector `json:"nodepoolSelector"`
	// RevisionHistoryLimit is how many old revisions are kept; defaults to 10.
	// +optional
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
}

// YurtAppDaemonConditionType names a YurtAppDaemon condition.
type YurtAppDaemonConditionType string

// WorkLoadProvisioned says whether the per-pool workloads were created.
const WorkLoadProvisioned YurtAppDaemonConditionType = "WorkLoadProvisioned"

// YurtAppDaemonCondition describes one aspect of a YurtAppDaemon's state.
type YurtAppDaemonCondition struct {
	Type               YurtAppDaemonConditionType `json:"type,omitempty"`
	Status             corev1.ConditionStatus     `json:"status,omitempty"`
	LastTransitionTime metav1.Time                `json:"lastTransitionTime,omitempty"`
	Reason             string                     `json:"reason,omitempty"`
	Message            string                     `json:"message,omitempty"`
}

// YurtAppDaemonStatus is the observed state of a YurtAppDaemon.
type YurtAppDaemonStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +optional
	CollisionCount *int32 `json:"collisionCount,omitempty"`
	// +optional
	CurrentRevision string `json:"currentRevision,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []YurtAppDaemonCondition `json:"conditions,omitempty"`
	// TemplateType is StatefulSet or Deployment.
	// +optional
	TemplateType string `json:"templateType,omitempty"`
	// NodePools are the pools the workload runs in.
	// +optional
	// +listType=atomic
	NodePools []string `json:"nodepools,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// YurtAppDaemon runs a workload in every node pool that matches its selector, following pools
// as they come and go.
type YurtAppDaemon struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   YurtAppDaemonSpec   `json:"spec,omitempty"`
	Status YurtAppDaemonStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// YurtAppDaemonList is a list of YurtAppDaemons.
type YurtAppDaemonList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []YurtAppDaemon `json:"items"`
}

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
	Group string `json:"group"`
	// Resources are resource names, e.g. endpointslices; "*" matches all.
	// +listType=atomic
	Resources []string `json:"resources"`
	// Verbs are get, list and watch; "*" matches all three.
	// +listType=atomic
	Verbs []string `json:"verbs"`
}

// MatchResources says which requests a filter applies to.
type MatchResources struct {
	// UserAgents are client names (the User-Agent up to its first "/"); "*" matches all.
	// +listType=atomic
	UserAgents []string `json:"userAgents"`
	// Resources are the resources and verbs the filter applies to.
	// +listType=atomic
	Resources []ResourceRule `json:"resources"`
}

// MatchCondition is a CEL boolean; the filter runs only when all are true.
type MatchCondition struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
}

// Variable is a named CEL expression, available to later ones as variables.<name>.
type Variable struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
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
	Expression string `json:"expression,omitempty"`
}

// JSONPatch is a CEL expression producing a list of JSONPatch{...} operations.
type JSONPatch struct {
	Expression string `json:"expression,omitempty"`
}

// Mutation changes a kept object.
type Mutation struct {
	// PatchType is ApplyConfiguration or JSONPatch.
	PatchType PatchType `json:"patchType"`
	// +optional
	ApplyConfiguration *ApplyConfiguration `json:"applyConfiguration,omitempty"`
	// +optional
	JSONPatch *JSONPatch `json:"jsonPatch,omitempty"`
}

// ResponseFilterSpec is a filter a hub runs on the responses it returns to local components.
type ResponseFilterSpec struct {
	// Priority orders filters; lower runs first.
	// +optional
	Priority int32 `json:"priority,omitempty"`
	// FailurePolicy is Ignore or Fail; defaults to Fail.
	// +optional
	FailurePolicy *FailurePolicyType `json:"failurePolicy,omitempty"`
	// Match selects the requests the filter applies to.
	Match MatchResources `json:"match"`
	// MatchConditions must all be true for the filter to run on an object.
	// +optional
	// +listType=map
	// +listMapKey=name
	MatchConditions []MatchCondition `json:"matchConditions,omitempty"`
	// Variables are evaluated in order and visible to later expressions.
	// +optional
	// +listType=map
	// +listMapKey=name
	Variables []Variable `json:"variables,omitempty"`
	// Keep is a CEL boolean; false drops the object from the response.
	// +optional
	Keep string `json:"keep,omitempty"`
	// Mutations change the kept object, in order.
	// +optional
	// +listType=atomic
	Mutations []Mutation `json:"mutations,omitempty"`
}

// ResponseFilterStatus is the observed state of a ResponseFilter.
type ResponseFilterStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ResponseFilter is a CEL-defined filter that every hub applies to matching responses.
type ResponseFilter struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ResponseFilterSpec   `json:"spec,omitempty"`
	Status ResponseFilterStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ResponseFilterList is a list of ResponseFilters.
type ResponseFilterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []ResponseFilter `json:"items"`
}
