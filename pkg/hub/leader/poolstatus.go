package leader

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	"github.com/yurt-edge/yurt/generated/clientset/versioned"
	"github.com/yurt-edge/yurt/pkg/coordinator/election"
)

// PoolStatus is a leader task: it shows this hub's node as its pool's elected hub leader in the
// NodePool's status (leaderEndpoints, leaderNum, leaderLastElectedTime), so that
// `kubectl get nodepools` shows the leader and how long it has led, as for OpenYurt's hub
// leaders. A new leader overwrites its predecessor's entry when it takes over.
type PoolStatus struct {
	// Yurt writes the NodePool status and Kube reads this node's address, both as the
	// lease-proxy identity (a node may not write a NodePool).
	Yurt versioned.Interface
	Kube kubernetes.Interface
	Pool string
	Node string
	// RetryInterval spaces out retries of a failed update (default 5s).
	RetryInterval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Run records the leadership once, retrying until it is recorded or ctx ends (leadership lost).
func (p *PoolStatus) Run(ctx context.Context, _ *election.Leadership) {
	logger := klog.FromContext(ctx).WithName("pool-status")
	retry := p.RetryInterval
	if retry <= 0 {
		retry = 5 * time.Second
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	elected := metav1.NewTime(now().Truncate(time.Second))
	for failures := 0; ; failures++ {
		err := p.record(ctx, elected)
		if err == nil {
			logger.Info("Recorded this node as the pool's hub leader in its NodePool status", "nodepool", p.Pool, "node", p.Node)
			return
		}
		if failures == 0 || failures%12 == 0 {
			logger.Info("Could not record the pool's leader in its NodePool status; retrying", "nodepool", p.Pool, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
	}
}

// record merge-patches the NodePool's status with this node as its one leader.
func (p *PoolStatus) record(ctx context.Context, elected metav1.Time) error {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	address := ""
	if n, err := p.Kube.CoreV1().Nodes().Get(rctx, p.Node, metav1.GetOptions{}); err == nil {
		address = nodeAddress(n)
	}
	patch, err := json.Marshal(map[string]any{"status": map[string]any{
		"leaderEndpoints":       []appsv1beta2.Leader{{NodeName: p.Node, Address: address}},
		"leaderNum":             1,
		"leaderLastElectedTime": elected,
	}})
	if err != nil {
		return err
	}
	if _, err := p.Yurt.AppsV1beta2().NodePools().Patch(rctx, p.Pool, types.MergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		return fmt.Errorf("patching the status of NodePool %s: %w", p.Pool, err)
	}
	return nil
}

// nodeAddress is the node's InternalIP, else its first address.
func nodeAddress(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	if len(n.Status.Addresses) > 0 {
		return n.Status.Addresses[0].Address
	}
	return ""
}
