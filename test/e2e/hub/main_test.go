// Package hub tests yurthub end to end: the real kube-apiserver in the cloud (the shared local
// stack), and each edge node a network namespace with a veth pair to the host, bin/yurthub
// inside it, and the real kube-proxy (bin/kube/kube-proxy) pointed at the hub.
// These tests need root (network namespaces, iptables).
package hub

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

// subnet is this run's /30 for the node namespace, chosen from the process id so that
// concurrent runs on one machine do not collide; hostIP is its host end, which
// kube-apiserver's serving certificate names.
var subnet, hostIP string

func TestMain(m *testing.M) {
	third := os.Getpid()%200 + 20
	subnet = fmt.Sprintf("10.231.%d.0/30", third)
	hostIP = fmt.Sprintf("10.231.%d.1", third)
	code := framework.Setup(m, func(o *localstack.Options) {
		o.ExtraServingSANs = append(o.ExtraServingSANs, hostIP)
		// For TestBootstrapToken (kubelet-style TLS bootstrap of the hub).
		o.KubeAPIServerArgs = append(o.KubeAPIServerArgs, "--enable-bootstrap-token-auth=true")
	})
	// Tests delete their namespace in t.Cleanup; this catches one left by a test that panicked.
	ns := &localstack.NetNS{Name: netnsName(), HostIF: netnsName() + "-h"}
	if err := ns.Delete(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: removing network namespace %s: %v\n", ns.Name, err)
	}
	os.Exit(code)
}

// netnsName is this run's node namespace (one node at a time; tests do not run in parallel).
func netnsName() string { return fmt.Sprintf("yh%d", os.Getpid()) }
