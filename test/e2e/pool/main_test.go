// Package pool tests a node pool's shared data end to end: three edge nodes
// (framework.EdgeNode: a network namespace, bin/yurthub and the real kube-proxy) in one pool
// with the pool's bin/yurt-coordinator (mutual TLS, reached through a forwarder per namespace).
// The hubs elect a leader; the leader list/watches services and endpointslices from the real
// kube-apiserver once and writes them to the coordinator; every hub serves kube-proxy from
// there. The cloud side is measured at kube-apiserver's own /metrics. These tests need root.
package pool

import (
	"os"
	"testing"

	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

func TestMain(m *testing.M) {
	framework.CleanupEdgeNamespaces()
	code := framework.Setup(m, func(o *localstack.Options) {
		// Also the coordinator member's SANs, so hubs in namespaces verify it.
		o.ExtraServingSANs = append(o.ExtraServingSANs, framework.EdgeServingSANs()...)
	})
	framework.CleanupEdgeNamespaces()
	os.Exit(code)
}
