// Package apps holds the names shared by every version of the apps.openyurt.io API group:
// the group name and the well-known labels and annotations that bind nodes to pools.
package apps

// GroupName is the API group of NodePool, YurtAppSet, YurtAppDaemon and ResponseFilter.
const GroupName = "apps.openyurt.io"

const (
	// NodePoolLabel on a Node names the pool the node belongs to.
	NodePoolLabel = "apps.openyurt.io/nodepool"
	// DesiredNodePoolLabel is the older way of asking for a pool; copied into NodePoolLabel when that is missing.
	DesiredNodePoolLabel = "apps.openyurt.io/desired-nodepool"
	// NodePoolTypeLabel on a NodePool holds its type in lower case (edge or cloud).
	NodePoolTypeLabel = "nodepool.openyurt.io/type"
	// NodePoolHostNetworkLabel marks nodes of pools with spec.hostNetwork.
	NodePoolHostNetworkLabel = "nodepool.openyurt.io/hostnetwork"
	// PreviousAttributesAnnotation on a Node keeps the pool attributes last applied to it.
	PreviousAttributesAnnotation = "nodepool.openyurt.io/previous-attributes"
	// PoolNameLabel marks the per-pool workloads of YurtAppSets and YurtAppDaemons.
	PoolNameLabel = "apps.openyurt.io/pool-name"
)
