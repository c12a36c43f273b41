// Package coordinator is the client side of yurt-coordinator, the embedded etcd a node pool
// shares: the hubs of a pool keep the pool's shared cloud objects there, elect one leader and
// vouch for each other's heartbeats. This package dials the coordinator (Options → Client) and
// defines the key layout; the work is done by:
//
//	store     pool-scoped Kubernetes objects (put/delete/get/list/watch/replace) and the
//	          leader's per-resource sync markers
//	election  one leader per pool (go.etcd.io/etcd/client/v3/concurrency), with a write guard
//	lease     the nodes' coordination/v1 Leases, bound to etcd leases with a TTL
//	codec     the value format of objects and leases (Kubernetes protobuf or JSON)
//	coordinatortest  a real embedded etcd on loopback for tests and benchmarks
//
// # Using it from a hub
//
//	o := coordinator.NewOptions()          // o.AddFlags(fs): --coordinator-endpoints, -cert-file, -key-file, -ca-file
//	o.Pool, o.Identity = nodePool, nodeName
//	c, err := coordinator.New(o, coordinator.NewMetrics(registry)) // does not wait for the coordinator; c.Ping(ctx) does
//
//	// Every hub campaigns; the winner syncs the cloud into the coordinator.
//	l, err := election.New(c, ttl).Campaign(ctx)         // blocks until leader
//	w := store.New(c, nil).WithGuard(l.Guard())          // writes fail with store.ErrGuardFailed once deposed
//	w.Replace(ctx, gvr, cloudList.Items, cloudList.ResourceVersion) // relist; writes the sync marker last
//	w.Put / w.Delete on each cloud watch event; w.MarkSynced(ctx, gvr, rv) periodically (and on bookmarks)
//	<-l.Done()                                           // leadership lost: stop writing, campaign again
//
//	// Every hub serves pool-scoped list/watch from the coordinator while the marker is fresh.
//	m, err := s.SyncMarker(ctx, gvr); fresh := err == nil && m.Fresh(maxAge)
//	res, err := s.List(ctx, gvr, namespace)              // res.Items, res.Revision, res.Skipped
//	wt, err := s.Watch(ctx, gvr, namespace, res.Revision, store.WatchOptions{})
//	for ev := range wt.ResultChan() { ... }; errors.Is(wt.Err(), store.ErrCompacted) → relist
//
//	// Heartbeats: each hub writes its node's Lease; the leader renews delegated ones in the cloud.
//	ls := lease.New(c, 40*time.Second)
//	ls.Renew(ctx, nodeLease, !cloudReachable)            // sets/removes openyurt.io/delegate-heartbeat
//	ls.ListDelegated(ctx)                                // leader: nodes to renew in the cloud
//
// # Key layout
//
// Everything of a pool lives under /yurt/pools/<pool>/:
//
//	/yurt/pools/<pool>/objects/<group>/<version>/<resource>/<namespace>/<name>
//	    one pool-scoped object, e.g. objects/core/v1/services/default/kubernetes or
//	    objects/discovery.k8s.io/v1/endpointslices/default/kubernetes-abcde. The core group
//	    is written "core"; a cluster-scoped object has namespace "_" (neither is a valid
//	    namespace or group name, so keys stay unambiguous).
//	/yurt/pools/<pool>/sync/<group>/<version>/<resource>
//	    the leader's sync marker for one resource: JSON {holder, cloudResourceVersion, time}.
//	/yurt/pools/<pool>/leases/<node>
//	    a node's coordination/v1 Lease, attached to an etcd lease that expires unless the
//	    node's hub keeps writing it.
//	/yurt/pools/<pool>/election/<etcd lease id>
//	    candidates of the pool's leader election (concurrency.Election); the value is the
//	    candidate's identity, the oldest key is the leader.
//
// # Values
//
// Objects keep the metadata.resourceVersion they had in the cloud; etcd's own revisions are
// separate and are what List and Watch return as their revision. Kinds client-go's scheme knows
// (Service, EndpointSlice, Lease, …) are stored in Kubernetes' protobuf envelope and read back
// as typed objects; anything else is stored as JSON and read back as *unstructured.Unstructured.
// A value that cannot be decoded (or whose name/namespace do not match its key) is never
// returned as an object: it is logged, counted in yurt_coordinator_client_corrupt_values_total
// and reported to the caller (ListResult.Skipped, WatchOptions.OnSkip).
package coordinator
