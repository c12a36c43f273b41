// Package nodepool is the storage of NodePools. Unlike the other resources, a pool's status
// is not written by clients: yurt-apiserver derives the pool's nodes and their readiness from
// the Nodes labelled apps.openyurt.io/nodepool=<pool> in the cluster's kube-apiserver, and
// writes every change through its own storage, so each change has a new resourceVersion and
// reaches watchers as a MODIFIED event.
package nodepool
