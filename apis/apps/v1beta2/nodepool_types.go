package v1beta2

import (
	corev1 "k8s.io/api/core/v1"
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
	Type NodePoolType `json:"type,omitempty" protobuf:"bytes,1,opt,name=type,casttype=NodePoolType"`

	// HostNetwork makes the pool's pods use the host network. Immutable; not allowed on Cloud pools.
	// +optional
	HostNetwork bool `json:"hostNetwork,omitempty" protobuf:"varint,2,opt,name=hostNetwork"`

	// Labels are applied to every node of the pool.
	// +optional
	Labels map[string]string `json:"labels,omitempty" protobuf:"bytes,3,rep,name=labels"`

	// Annotations are applied to every node of the pool.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty" protobuf:"bytes,4,rep,name=annotations"`

	// Taints are applied to every node of the pool.
	// +optional
	// +listType=atomic
	Taints []corev1.Taint `json:"taints,omitempty" protobuf:"bytes,5,rep,name=taints"`

	// InterConnectivity says the pool's nodes can reach each other, so they may share
	// pool-scoped data through a leader. Immutable.
	// +optional
	InterConnectivity bool `json:"interConnectivity,omitempty" protobuf:"varint,6,opt,name=interConnectivity"`

	// LeaderElectionStrategy is random or mark; defaults to random.
	// +optional
	LeaderElectionStrategy LeaderElectionStrategy `json:"leaderElectionStrategy,omitempty" protobuf:"bytes,7,opt,name=leaderElectionStrategy,casttype=LeaderElectionStrategy"`

	// LeaderNodeLabelSelector restricts leader candidates when the strategy is mark.
	// +optional
	LeaderNodeLabelSelector map[string]string `json:"leaderNodeLabelSelector,omitempty" protobuf:"bytes,8,rep,name=leaderNodeLabelSelector"`

	// EnableLeaderElection turns on hub leader election for the pool.
	// +optional
	EnableLeaderElection bool `json:"enableLeaderElection,omitempty" protobuf:"varint,9,opt,name=enableLeaderElection"`

	// LeaderReplicas is how many leaders the pool has; defaults to 1.
	// +optional
	LeaderReplicas int32 `json:"leaderReplicas,omitempty" protobuf:"varint,10,opt,name=leaderReplicas"`

	// PoolScopeMetadata lists the resources shared by the pool's hubs. Services and
	// EndpointSlices are always included.
	// +optional
	// +listType=atomic
	PoolScopeMetadata []metav1.GroupVersionResource `json:"poolScopeMetadata,omitempty" protobuf:"bytes,11,rep,name=poolScopeMetadata"`
}

// Leader is a node elected as a hub leader of its pool.
type Leader struct {
	// NodeName of the leader.
	NodeName string `json:"nodeName" protobuf:"bytes,1,opt,name=nodeName"`
	// Address the pool's hubs reach the leader on.
	Address string `json:"address" protobuf:"bytes,2,opt,name=address"`
}

// NodePoolConditionType names a NodePool condition.
type NodePoolConditionType string

// LeaderReady says whether the pool has its leaders.
const LeaderReady NodePoolConditionType = "LeaderReady"

// NodePoolCondition describes one aspect of a pool's state.
type NodePoolCondition struct {
	Type               NodePoolConditionType  `json:"type,omitempty" protobuf:"bytes,1,opt,name=type,casttype=NodePoolConditionType"`
	Status             corev1.ConditionStatus `json:"status,omitempty" protobuf:"bytes,2,opt,name=status,casttype=k8s.io/api/core/v1.ConditionStatus"`
	LastTransitionTime metav1.Time            `json:"lastTransitionTime,omitempty" protobuf:"bytes,3,opt,name=lastTransitionTime"`
	Reason             string                 `json:"reason,omitempty" protobuf:"bytes,4,opt,name=reason"`
	Message            string                 `json:"message,omitempty" protobuf:"bytes,5,opt,name=message"`
}

// NodePoolStatus is the observed state of a NodePool. yurt-apiserver derives the node
// counts and names from the cluster's Nodes; clients cannot write them.
type NodePoolStatus struct {
	// ReadyNodeNum is the number of Ready nodes in the pool.
	// +optional
	ReadyNodeNum int32 `json:"readyNodeNum" protobuf:"varint,1,opt,name=readyNodeNum"`
	// UnreadyNodeNum is the number of nodes in the pool that are not Ready.
	// +optional
	UnreadyNodeNum int32 `json:"unreadyNodeNum" protobuf:"varint,2,opt,name=unreadyNodeNum"`
	// Nodes are the names of the pool's nodes, sorted.
	// +optional
	// +listType=atomic
	Nodes []string `json:"nodes,omitempty" protobuf:"bytes,3,rep,name=nodes"`
	// LeaderEndpoints are the pool's elected hub leaders.
	// +optional
	// +listType=atomic
	LeaderEndpoints []Leader `json:"leaderEndpoints,omitempty" protobuf:"bytes,4,rep,name=leaderEndpoints"`
	// LeaderNum is the number of elected leaders.
	// +optional
	LeaderNum int32 `json:"leaderNum,omitempty" protobuf:"varint,5,opt,name=leaderNum"`
	// LeaderLastElectedTime is when the leaders last changed.
	// +optional
	LeaderLastElectedTime metav1.Time `json:"leaderLastElectedTime,omitempty" protobuf:"bytes,6,opt,name=leaderLastElectedTime"`
	// Conditions of the pool.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []NodePoolCondition `json:"conditions,omitempty" protobuf:"bytes,7,rep,name=conditions"`
}

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// NodePool is a group of nodes that share attributes and, at the edge, a site and a link to
// the cloud. A node joins a pool with the label apps.openyurt.io/nodepool=<pool name>.
type NodePool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	Spec   NodePoolSpec   `json:"spec,omitempty" protobuf:"bytes,2,opt,name=spec"`
	Status NodePoolStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// NodePoolList is a list of NodePools.
type NodePoolList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	Items []NodePool `json:"items" protobuf:"bytes,2,rep,name=items"`
}
