// Package hub tests yurthub end to end: the real kube-apiserver in the cloud (the shared local
// stack), and each edge node a network namespace with a veth pair to the host, bin/yurthub
// inside it, and the real kube-proxy (bin/kube/kube-proxy) pointed at the hub
// (framework.EdgeNode). These tests need root (network namespaces, iptables).
package hub

import (
	"os"
	"testing"

	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

func TestMain(m *testing.M) {
	framework.CleanupEdgeNamespaces()
	code := framework.Setup(m, func(o *localstack.Options) {
		o.ExtraServingSANs = append(o.ExtraServingSANs, framework.EdgeServingSANs()...)
		// For TestBootstrapToken (kubelet-style TLS bootstrap of the hub).
		o.KubeAPIServerArgs = append(o.KubeAPIServerArgs, "--enable-bootstrap-token-auth=true")
	})
	framework.CleanupEdgeNamespaces()
	os.Exit(code)
}
