// Package heartbeat tests delegated heartbeats end to end: the real kube-apiserver (with the
// NodeRestriction admission plugin) and kube-controller-manager in the cloud, yurt-manager's
// delegatedheartbeat controller, a yurt-coordinator for the pool, and each edge node a network
// namespace with bin/yurthub and a kubemark hollow kubelet talking through it. Needs root.
package heartbeat

import (
	"os"
	"testing"

	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

func TestMain(m *testing.M) {
	framework.CleanupEdgeNamespaces()
	code := framework.Setup(m, func(o *localstack.Options) {
		// Hubs reach kube-apiserver and the coordinator through forwarders on these addresses.
		o.ExtraServingSANs = append(o.ExtraServingSANs, framework.EdgeServingSANs()...)
		// A node may then write only its own Lease, as in real clusters: the pool leader must
		// renew other nodes' Leases with its own lease-proxy identity.
		o.KubeAPIServerArgs = append(o.KubeAPIServerArgs, "--enable-admission-plugins=NodeRestriction")
		// yurt-apiserver serves the NodePool in whose status a new pool leader records itself.
	})
	framework.CleanupEdgeNamespaces()
	os.Exit(code)
}
