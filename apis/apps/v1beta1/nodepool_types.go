package v1beta1

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
}

// NodePoolStatus is the observed state of a NodePool, derived by yurt-apiserver from the
// cluster's Nodes.
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
