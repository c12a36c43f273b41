// Package filter tests the ResponseFilter API against the real kube-apiserver and
// yurt-apiserver: the built-in filters in artifacts/filters pass a server-side dry run and can
// be created, yurt-apiserver compiles every expression and rejects bad ones with 422 Invalid
// naming the field and the CEL error, and the status it sets follows the spec's generation.
// The hub tests (hub_test.go) run the filters where they act: edge nodes (network namespaces
// with bin/yurthub and the real kube-proxy, framework.EdgeNode) whose iptables rules follow
// what the hub's filters let through. Those need root.
package filter

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
	})
	framework.CleanupEdgeNamespaces()
	os.Exit(code)
}
