// Package appset tests the per-pool workload controllers (YurtAppSet, YurtAppDaemon) and the
// DaemonSet upgrade controller (AdvancedRollingUpdate, OTA with the hub's upgrade API) end to
// end: the real kube-apiserver, kube-controller-manager and kube-scheduler, bin/yurt-manager
// with those controllers, and kubemark hollow kubelets as the nodes, so pods really are
// scheduled, run (on a fake runtime) and report Ready.
package appset

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	"github.com/yurt-edge/yurt/pkg/controller/daemonupgrade"
	"github.com/yurt-edge/yurt/pkg/controller/yurtappdaemon"
	"github.com/yurt-edge/yurt/pkg/controller/yurtappset"
	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

const (
	// nodeMonitorGracePeriod is how long kube-controller-manager waits for a silent node.
	nodeMonitorGracePeriod = 20 * time.Second
	waitTimeout            = 90 * time.Second
)

// Hollow nodes, each in its own pool, started once for the package.
var hollowPools = map[string]string{"e2e-hn-a": "e2e-a", "e2e-hn-b": "e2e-b", "e2e-hn-c": "e2e-hc"}

// subnet is this run's /30 for the network namespace TestOTA runs a hub in, chosen from the
// process id (10.232/16, apart from the hub package's 10.231/16) so concurrent runs do not
// collide; hostIP is its host end, which kube-apiserver's serving certificate names.
var subnet, hostIP string

func TestMain(m *testing.M) {
	third := os.Getpid()%200 + 20
	subnet = fmt.Sprintf("10.232.%d.0/30", third)
	hostIP = fmt.Sprintf("10.232.%d.1", third)
	code := framework.Setup(m, func(o *localstack.Options) {
		o.ExtraServingSANs = append(o.ExtraServingSANs, hostIP)
	})
	// TestOTA deletes its namespace in t.Cleanup; this catches one left by a panic.
	ns := &localstack.NetNS{Name: netnsName(), HostIF: netnsName() + "-h"}
	if err := ns.Delete(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: removing network namespace %s: %v\n", ns.Name, err)
	}
	os.Exit(code)
}

func netnsName() string { return fmt.Sprintf("yas%d", os.Getpid()) }

type environment struct {
	stack   *localstack.Stack
	nodes   map[string]*localstack.HollowNode
	metrics string // yurt-manager's health/metrics address
}

var (
	envOnce sync.Once
	env     *environment
	envErr  error
)

// setup starts, once per package, kube-controller-manager, kube-scheduler, yurt-manager with
// the controllers under test and three hollow nodes. The stack's Stop ends them all.
func setup(t *testing.T) *environment {
	t.Helper()
	stack := framework.Stack(t)
	envOnce.Do(func() {
		for _, bin := range []string{
			framework.RepoPath(t, "bin", "yurt-manager"), framework.RepoPath(t, "bin", "kube", "kubemark"),
			framework.RepoPath(t, "bin", "kube", "kube-controller-manager"), framework.RepoPath(t, "bin", "kube", "kube-scheduler"),
		} {
			if _, err := os.Stat(bin); err != nil {
				envErr = fmt.Errorf("%s is missing (build it with make build / make kube-binaries)", bin)
				return
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		e := &environment{stack: stack, nodes: map[string]*localstack.HollowNode{}}
		if _, err := stack.StartKubeControllerManager(ctx, localstack.KubeControllerManagerOptions{NodeMonitorGracePeriod: nodeMonitorGracePeriod}); err != nil {
			envErr = err
			return
		}
		if _, err := stack.StartKubeScheduler(ctx, localstack.KubeSchedulerOptions{}); err != nil {
			envErr = err
			return
		}
		_, addr, err := stack.StartYurtManager(ctx, localstack.YurtManagerOptions{
			Controllers: []string{yurtappset.ControllerName, yurtappdaemon.ControllerName, daemonupgrade.ControllerName},
			ExtraArgs:   []string{"-v=2"},
		})
		if err != nil {
			envErr = err
			return
		}
		e.metrics = addr
		yurt := framework.Clients(t).Yurt
		for _, pool := range hollowPools {
			np := &appsv1beta2.NodePool{ObjectMeta: metav1.ObjectMeta{Name: pool}, Spec: appsv1beta2.NodePoolSpec{Type: appsv1beta2.Edge}}
			if _, err := yurt.AppsV1beta2().NodePools().Create(ctx, np, metav1.CreateOptions{}); err != nil {
				envErr = fmt.Errorf("creating pool %s: %w", pool, err)
				return
			}
		}
		var (
			mu   sync.Mutex
			wg   sync.WaitGroup
			errs []string
		)
		for name, pool := range hollowPools {
			wg.Go(func() {
				n, err := stack.StartHollowNode(ctx, localstack.HollowNodeOptions{Name: name, Pool: pool, WaitReady: true})
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
		t.Fatalf("setting up the environment: %v\nlogs in %s", envErr, filepath.Dir(stack.LogFile("x")))
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- last lines of %s ---\n%s", stack.LogFile("yurt-manager"), localstack.TailFile(stack.LogFile("yurt-manager"), 40))
		}
	})
	return env
}
