package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	appsapi "github.com/yurt-edge/yurt/apis/apps"
	"github.com/yurt-edge/yurt/pkg/coordinator/election"
	"github.com/yurt-edge/yurt/pkg/coordinator/lease"
	"github.com/yurt-edge/yurt/pkg/coordinator/store"
)

// Renewal outcomes (the result label of DelegatedRenewals).
const (
	resultRenewed   = "renewed"
	resultCreated   = "created"
	resultNotNewer  = "not_newer"
	resultStale     = "stale"
	resultNotFound  = "not_found"
	resultNotInPool = "not_in_pool"
	resultUnproven  = "unproven"
	resultError     = "error"
	defaultDuration = 40 * time.Second
)

// Renewer is the pool leader's task: it follows the coordinator's node Leases and, for every
// node whose hub marked its Lease delegated, renews kube-node-lease/<node> in the cloud with
// the renewTime kubelet wrote and openyurt.io/delegate-heartbeat: "true".
//
// A renewal only ever moves the cloud's renewTime forward, so a direct heartbeat that reached
// the cloud meanwhile always wins, and a Lease whose renewTime is older than its duration is
// not renewed (its kubelet stopped heartbeating; kube-controller-manager must see that).
type Renewer struct {
	// Leases is the pool's Lease store in the coordinator.
	Leases *lease.Store
	// Cloud writes Leases in the cloud as the lease-proxy identity (not a node: the Node
	// authorizer and NodeRestriction refuse a node writing another node's Lease).
	Cloud kubernetes.Interface
	// Self is this hub's node, never renewed here (a leader reaches the cloud itself).
	Self string
	// Pool, when set, limits renewals to nodes labelled apps.openyurt.io/nodepool=<Pool> in the
	// cloud: whatever a pool's coordinator holds, its leader vouches only for its own pool.
	Pool string
	// Verifier, if set, checks the delegation proof of each Lease (lease.ProofVerifier): a Lease
	// another hub marked delegated for this node is not renewed.
	Verifier *lease.ProofVerifier
	Metrics  *Metrics
	// RetryInterval spaces out retries of failed renewals and relists (default 1s).
	RetryInterval time.Duration
	// RequestTimeout bounds one cloud request (default 10s).
	RequestTimeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (r *Renewer) retry() time.Duration {
	if r.RetryInterval > 0 {
		return r.RetryInterval
	}
	return time.Second
}

func (r *Renewer) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Run renews delegated Leases until ctx ends (the leadership ends). It has the leader.Task signature.
func (r *Renewer) Run(ctx context.Context, _ *election.Leadership) {
	logger := klog.FromContext(ctx).WithName("heartbeat-renewer")
	ctx = klog.NewContext(ctx, logger)
	logger.Info("Renewing delegated node heartbeats of the pool in the cloud")
	for {
		err := r.follow(ctx)
		if ctx.Err() != nil {
			logger.Info("Stopped renewing delegated node heartbeats")
			return
		}
		logger.Info("Following the pool's node Leases in the coordinator failed; listing again", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.retry()):
		}
	}
}

// follow lists the pool's Leases, then watches them, renewing delegated ones as they change;
// it returns when the watch fails (the caller lists again).
func (r *Renewer) follow(ctx context.Context) error {
	list, err := r.Leases.List(ctx)
	if err != nil {
		return err
	}
	want := map[string]*coordinationv1.Lease{} // delegated Leases, by node
	done := map[string]time.Time{}             // renewTime already handled, by node
	for _, l := range list.Items {
		r.note(ctx, want, done, l, false)
	}
	w := r.Leases.Watch(ctx, list.Revision, store.WatchOptions{})
	defer w.Stop()
	tick := time.NewTicker(r.retry())
	defer tick.Stop()
	for {
		r.renewAll(ctx, want, done)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case ev, ok := <-w.ResultChan():
			// Take whatever else is queued before renewing, so a burst costs one pass.
			for more := true; more; {
				if !ok {
					if err := w.Err(); err != nil {
						return err
					}
					return errors.New("the coordinator watch of node Leases ended")
				}
				if l, isLease := ev.Object.(*coordinationv1.Lease); isLease {
					r.note(ctx, want, done, l, ev.Type == watch.Deleted)
				}
				select {
				case ev, ok = <-w.ResultChan():
				default:
					more = false
				}
			}
		}
	}
}

// note records the newest coordinator copy of a node's Lease.
func (r *Renewer) note(ctx context.Context, want map[string]*coordinationv1.Lease, done map[string]time.Time, l *coordinationv1.Lease, deleted bool) {
	if deleted || !lease.IsDelegated(l) || l.Name == r.Self {
		if _, was := want[l.Name]; was {
			klog.FromContext(ctx).Info("Delegation ended; no longer renewing the node's Lease", "node", l.Name, "deleted", deleted)
		}
		delete(want, l.Name)
		delete(done, l.Name)
		return
	}
	want[l.Name] = l
}

func (r *Renewer) renewAll(ctx context.Context, want map[string]*coordinationv1.Lease, done map[string]time.Time) {
	logger := klog.FromContext(ctx)
	for node, l := range want {
		if l.Spec.RenewTime == nil {
			continue
		}
		rt := l.Spec.RenewTime.Time
		if last, ok := done[node]; ok && !rt.After(last) {
			continue
		}
		result, err := r.Renew(ctx, l)
		if r.Metrics != nil {
			r.Metrics.DelegatedRenewals.WithLabelValues(result).Inc()
		}
		if err != nil {
			// Retried on the next tick.
			logger.Error(err, "Renewing a delegated node heartbeat in the cloud", "node", node)
			continue
		}
		done[node] = rt
		switch result {
		case resultRenewed:
			logger.V(2).Info("Renewed a delegated node heartbeat in the cloud", "node", node, "renewTime", rt)
		case resultCreated:
			logger.Info("Created a delegated node's Lease in the cloud (its kubelet never reached the cloud with it)", "node", node, "renewTime", rt)
		default:
			logger.Info("Not renewing a delegated node heartbeat", "node", node, "reason", result, "renewTime", rt)
		}
	}
}

// Renew copies the coordinator's Lease l (a delegated one) to the cloud: renewTime, holder
// and duration, with the delegate annotation. It returns what it did (renewed, not_newer,
// stale, not_found, not_in_pool, unproven) or an error.
//
// A Lease missing in the cloud is created from l (a node cut before its first heartbeat got
// there: kubelet created its Lease through its hub, which took it locally), owned by the Node
// as kubelet's own would be, so that it goes with the Node.
func (r *Renewer) Renew(ctx context.Context, l *coordinationv1.Lease) (string, error) {
	if l.Spec.RenewTime == nil {
		return resultNotNewer, nil
	}
	if r.Verifier != nil {
		if err := r.Verifier.Verify(l); err != nil {
			klog.FromContext(ctx).Info("Not renewing a delegated Lease whose delegation proof does not verify", "node", l.Name, "err", err)
			return resultUnproven, nil
		}
	}
	duration := defaultDuration
	if l.Spec.LeaseDurationSeconds != nil && *l.Spec.LeaseDurationSeconds > 0 {
		duration = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	if r.now().Sub(l.Spec.RenewTime.Time) > duration {
		return resultStale, nil
	}
	timeout := r.RequestTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	var node *corev1.Node
	getNode := func() (string, error) {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		n, err := r.Cloud.CoreV1().Nodes().Get(rctx, l.Name, metav1.GetOptions{})
		cancel()
		if apierrors.IsNotFound(err) {
			return resultNotFound, nil
		}
		if err != nil {
			return resultError, fmt.Errorf("reading node %s in the cloud: %w", l.Name, err)
		}
		node = n
		return "", nil
	}
	if r.Pool != "" {
		if res, err := getNode(); res != "" {
			return res, err
		}
		if node.Labels[appsapi.NodePoolLabel] != r.Pool {
			return resultNotInPool, nil
		}
	}
	leases := r.Cloud.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	for attempt := 0; attempt < 3; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		cur, err := leases.Get(rctx, l.Name, metav1.GetOptions{})
		cancel()
		if apierrors.IsNotFound(err) {
			if node == nil {
				if res, err := getNode(); res != "" {
					return res, err
				}
			}
			res, err := r.create(ctx, timeout, l, node)
			if apierrors.IsAlreadyExists(err) {
				continue // kubelet got there first; compare with its Lease
			}
			return res, err
		}
		if err != nil {
			return resultError, fmt.Errorf("reading Lease %s/%s in the cloud: %w", corev1.NamespaceNodeLease, l.Name, err)
		}
		if cur.Spec.RenewTime != nil && !l.Spec.RenewTime.Time.After(cur.Spec.RenewTime.Time) {
			return resultNotNewer, nil
		}
		upd := cur.DeepCopy()
		upd.Spec.RenewTime = l.Spec.RenewTime.DeepCopy()
		if l.Spec.HolderIdentity != nil {
			upd.Spec.HolderIdentity = l.Spec.HolderIdentity
		}
		if l.Spec.LeaseDurationSeconds != nil {
			upd.Spec.LeaseDurationSeconds = l.Spec.LeaseDurationSeconds
		}
		if upd.Annotations == nil {
			upd.Annotations = map[string]string{}
		}
		upd.Annotations[lease.DelegateHeartbeatAnnotation] = "true"
		rctx, cancel = context.WithTimeout(ctx, timeout)
		_, err = leases.Update(rctx, upd, metav1.UpdateOptions{})
		cancel()
		if apierrors.IsConflict(err) {
			continue // kubelet or another writer got there first; compare with the new one
		}
		if err != nil {
			return resultError, fmt.Errorf("renewing Lease %s/%s in the cloud: %w", corev1.NamespaceNodeLease, l.Name, err)
		}
		return resultRenewed, nil
	}
	return resultError, fmt.Errorf("renewing Lease %s/%s in the cloud: conflicts on every attempt", corev1.NamespaceNodeLease, l.Name)
}

// create creates the cloud Lease of node from the coordinator's copy l, marked delegated.
func (r *Renewer) create(ctx context.Context, timeout time.Duration, l *coordinationv1.Lease, node *corev1.Node) (string, error) {
	c := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name:        l.Name,
			Namespace:   corev1.NamespaceNodeLease,
			Annotations: map[string]string{lease.DelegateHeartbeatAnnotation: "true"},
			// As kubelet sets it: the Lease is garbage-collected with its Node.
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: corev1.SchemeGroupVersion.String(), Kind: "Node", Name: node.Name, UID: node.UID,
			}},
		},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       l.Spec.HolderIdentity,
			LeaseDurationSeconds: l.Spec.LeaseDurationSeconds,
			RenewTime:            l.Spec.RenewTime.DeepCopy(),
		},
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := r.Cloud.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(rctx, c, metav1.CreateOptions{})
	if err != nil {
		return resultError, fmt.Errorf("creating Lease %s/%s in the cloud: %w", corev1.NamespaceNodeLease, l.Name, err)
	}
	return resultCreated, nil
}
