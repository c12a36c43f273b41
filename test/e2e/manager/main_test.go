// Package manager tests yurt-manager's controllers against the real kube-apiserver and
// kube-controller-manager, with kubemark hollow kubelets as nodes (DESIGN.md "Real components
// in tests"). kube-apiserver gives new pods 15 s default not-ready/unreachable tolerations and
// kube-controller-manager marks a silent node after 20 s, so eviction happens within a minute.
package manager

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

const (
	// defaultTolerationSeconds is what kube-apiserver's DefaultTolerationSeconds gives new pods.
	defaultTolerationSeconds = 15
	// nodeMonitorGracePeriod is how long kube-controller-manager waits for a silent node.
	nodeMonitorGracePeriod = 20 * time.Second
	// autonomyZone holds the hollow nodes of the autonomy test and a witness that stays up:
	// a zone whose nodes are all down is "fully disrupted" and kube-controller-manager then
	// evicts nothing, which would hide the difference under test.
	autonomyZone = "yurt-e2e-autonomy"
)

// Hollow nodes started once for the package.
const (
	witnessNode = "e2e-witness"
	autoNode    = "e2e-autonomous"
	plainNode   = "e2e-plain"
	witnessPool = "e2e-witness-pool"
)

func TestMain(m *testing.M) {
	framework.Main(m, func(o *localstack.Options) {
		o.KubeAPIServerArgs = append(o.KubeAPIServerArgs,
			fmt.Sprintf("--default-not-ready-toleration-seconds=%d", defaultTolerationSeconds),
			fmt.Sprintf("--default-unreachable-toleration-seconds=%d", defaultTolerationSeconds),
		)
	})
}

type environment struct {
	stack   *localstack.Stack
	nodes   map[string]*localstack.HollowNode
	manager *localstack.Process
	metrics string // yurt-manager's health/metrics address
}

var (
	envOnce sync.Once
	env     *environment
	envErr  error
)

// setup starts, once per package, kube-controller-manager, three hollow nodes and
// yurt-manager with every controller. The stack's Stop ends them all.
func setup(t *testing.T) *environment {
	t.Helper()
	stack := framework.Stack(t)
	envOnce.Do(func() {
		for _, bin := range []string{framework.RepoPath(t, "bin", "yurt-manager"), framework.RepoPath(t, "bin", "kube", "kubemark"), framework.RepoPath(t, "bin", "kube", "kube-controller-manager")} {
			if _, err := os.Stat(bin); err != nil {
				envErr = fmt.Errorf("%s is missing (build it with make build / make kube-binaries)", bin)
				return
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		e := &environment{stack: stack, nodes: map[string]*localstack.HollowNode{}}
		if _, err := stack.StartKubeControllerManager(ctx, localstack.KubeControllerManagerOptions{
			NodeMonitorGracePeriod: nodeMonitorGracePeriod,
			// Taint silent nodes at once rather than one per 10 s per zone.
			ExtraArgs: []string{"--node-eviction-rate=10", "--secondary-node-eviction-rate=10"},
		}); err != nil {
			envErr = err
			return
		}
		proc, addr, err := stack.StartYurtManager(ctx, localstack.YurtManagerOptions{ExtraArgs: []string{"-v=2", "--leader-elect-identity=e2e-first"}})
		if err != nil {
			envErr = err
			return
		}
		e.manager, e.metrics = proc, addr
		var (
			mu   sync.Mutex
			wg   sync.WaitGroup
			errs []string
		)
		for name, pool := range map[string]string{witnessNode: witnessPool, autoNode: "", plainNode: ""} {
			wg.Go(func() {
				n, err := stack.StartHollowNode(ctx, localstack.HollowNodeOptions{
					Name: name, Pool: pool, WaitReady: true,
					Labels: map[string]string{"topology.kubernetes.io/zone": autonomyZone},
				})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err.Error())
					return
				}
				e.nodes[name] = n
			})
		}
		wg.Wait()
		if len(errs) > 0 {
			envErr = fmt.Errorf("starting hollow nodes: %s", strings.Join(errs, "\n"))
			return
		}
		env = e
	})
	if envErr != nil {
		t.Fatalf("setting up yurt-manager's environment: %v\nlogs in %s", envErr, filepath.Dir(stack.LogFile("x")))
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- last lines of %s ---\n%s", stack.LogFile("yurt-manager"), localstack.TailFile(stack.LogFile("yurt-manager"), 40))
		}
	})
	return env
}
