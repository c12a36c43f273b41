package nodepool

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"

	appsapi "github.com/yurt-edge/yurt/apis/apps"
	"github.com/yurt-edge/yurt/pkg/apis/apps"
)

// derivedStatus is the part of a pool's status that follows from its Nodes.
type derivedStatus struct {
	nodes   []string
	ready   int32
	unready int32
}

// deriveStatus reads the pool's Nodes from the lister.
func deriveStatus(lister corelisters.NodeLister, pool string) (derivedStatus, error) {
	nodes, err := lister.List(labels.SelectorFromSet(labels.Set{appsapi.NodePoolLabel: pool}))
	if err != nil {
		return derivedStatus{}, err
	}
	var out derivedStatus
	for _, node := range nodes {
		out.nodes = append(out.nodes, node.Name)
		if nodeReady(node) {
			out.ready++
		} else {
			out.unready++
		}
	}
	slices.Sort(out.nodes)
	return out, nil
}

func nodeReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// apply writes the derived status into a pool and says whether it changed.
func (d derivedStatus) apply(pool *apps.NodePool) bool {
	if slices.Equal(pool.Status.Nodes, d.nodes) && pool.Status.ReadyNodeNum == d.ready && pool.Status.UnreadyNodeNum == d.unready {
		return false
	}
	pool.Status.Nodes = d.nodes
	pool.Status.ReadyNodeNum = d.ready
	pool.Status.UnreadyNodeNum = d.unready
	return true
}

// equalDerived says whether two statuses agree on the derived fields.
func equalDerived(a, b *apps.NodePoolStatus) bool {
	return slices.Equal(a.Nodes, b.Nodes) && a.ReadyNodeNum == b.ReadyNodeNum && a.UnreadyNodeNum == b.UnreadyNodeNum
}
