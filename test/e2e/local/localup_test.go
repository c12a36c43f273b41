// Package local tests `make local-up` the way a new user runs it: bin/yurtctl local up as a
// process from the repository's root, then the README's kubectl steps, a cut and heal of one
// demo node, and `yurtctl local down` leaving nothing running.
package local

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	yurtclient "github.com/yurt-edge/yurt/generated/clientset/versioned"
	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

const (
	pool        = "pool-a"
	unschedKey  = "node.openyurt.io/unschedulable"
	startBudget = 4 * time.Minute
)

var demoNodes = []string{"pool-a-node-1", "pool-a-node-2"}

// hubHealthURLs reads each demo node's hub health URL from local up's instructions
// ("  <node>  kubelet -> yurthub <proxy> (health <url>, cache ...").
func hubHealthURLs(out string) map[string]string {
	urls := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 7 && fields[1] == "kubelet" && fields[5] == "(health" {
			urls[fields[0]] = strings.TrimSuffix(fields[6], ",")
		}
	}
	return urls
}

// poolLeader reports whether the hub at healthURL is its pool's leader (yurthub_pool_leader).
func poolLeader(healthURL string) (bool, error) {
	resp, err := http.Get(healthURL + "/metrics")
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "yurthub_pool_leader "); ok {
			return strings.TrimSpace(v) == "1", nil
		}
	}
	return false, errors.New("no yurthub_pool_leader in " + healthURL + "/metrics")
}

// syncBuffer collects a process's output for error messages while a scanner reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLocalUp(t *testing.T) {
	root := framework.RepoPath(t)
	bin := filepath.Join(root, "bin")
	var missing []string
	for _, b := range []string{"yurtctl", "yurt-apiserver", "yurt-manager", "yurthub", "yurt-coordinator",
		"kube/kube-apiserver", "kube/kube-controller-manager", "kube/kube-scheduler", "kube/kubemark"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			missing = append(missing, "bin/"+b)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("missing %s: run make build kube-binaries", strings.Join(missing, ", "))
		if os.Getenv("YURT_E2E_ALLOW_SKIP") == "1" {
			t.Skip(msg)
		}
		t.Fatal(msg)
	}
	// Kept when the test fails, for its logs and data.
	dir, err := os.MkdirTemp("", "yurt-local-up-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kept %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	yurtctl := filepath.Join(bin, "yurtctl")

	// yurtctl local up, from the repository's root as make runs it; port 0 so a developer's
	// own make local-up on 8443 does not collide.
	up := exec.Command(yurtctl, "local", "up", "--dir", dir, "--bin-dir", bin, "--yurt-apiserver-port=0")
	up.Dir = root
	var stderr syncBuffer
	up.Stderr = &stderr
	stdoutPipe, err := up.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var stdout syncBuffer
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(io.TeeReader(stdoutPipe, &stdout))
		once := sync.Once{}
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "Started in ") {
				once.Do(func() { close(started) })
			}
		}
		exited <- up.Wait()
	}()
	downDone := false
	t.Cleanup(func() {
		if !downDone {
			_ = exec.Command(yurtctl, "local", "down", "--dir", dir).Run()
		}
		select {
		case <-exited:
		case <-time.After(2 * time.Minute):
			_ = up.Process.Kill()
		}
		if t.Failed() {
			for _, log := range []string{"yurthub-" + demoNodes[0], "yurthub-" + demoNodes[1], "yurt-manager"} {
				t.Logf("--- %s ---\n%s", log, localstack.TailFile(filepath.Join(dir, "logs", log+".log"), 20))
			}
		}
	})
	select {
	case <-started:
		t.Logf("yurtctl local up started in %s", time.Since(start).Round(time.Second))
	case err := <-exited:
		t.Fatalf("yurtctl local up exited: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	case <-time.After(startBudget):
		t.Fatalf("yurtctl local up not started within %s\nstdout:\n%s\nstderr:\n%s", startBudget, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"export KUBECONFIG=" + filepath.Join(dir, "kubeconfig"), "kubectl get nodes", "kubectl get responsefilters",
		demoNodes[0] + "  kubelet -> yurthub http://127.0.0.1:", "yurtctl local cut " + demoNodes[0]} {
		if !strings.Contains(out, want) {
			t.Errorf("the instructions do not say %q:\n%s", want, out)
		}
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	kube := kubernetes.NewForConfigOrDie(cfg)
	yurt := yurtclient.NewForConfigOrDie(cfg)
	ctx := context.Background()

	// Both nodes are Ready and in the pool, and each kubelet's requests went through its hub.
	for _, name := range demoNodes {
		node, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !localstack.NodeReady(node) || node.Labels["apps.openyurt.io/nodepool"] != pool {
			t.Errorf("node %s: Ready %v, pool %q", name, localstack.NodeReady(node), node.Labels["apps.openyurt.io/nodepool"])
		}
		if entries, err := os.ReadDir(filepath.Join(dir, "hubs", name, "cache", "hollow-kubelet")); err != nil || len(entries) == 0 {
			t.Errorf("the hub of %s cached nothing for its kubelet (%v): the kubelet does not go through it", name, err)
		}
	}
	np, err := yurt.AppsV1beta2().NodePools().Get(ctx, pool, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if np.Status.ReadyNodeNum != 2 {
		t.Errorf("NodePool %s status: %+v, want 2 ready nodes", pool, np.Status)
	}
	filters, err := yurt.AppsV1alpha1().ResponseFilters().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(filters.Items) != 6 {
		t.Errorf("%d ResponseFilters installed, want the 6 built-in ones", len(filters.Items))
	}

	// kube-scheduler places a Deployment's pods on the hollow nodes.
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}},
			},
		},
	}
	if _, err := kube.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, time.Minute, func() (bool, error) {
		pods, err := kube.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, err
		}
		running := 0
		for _, p := range pods.Items {
			if p.Spec.NodeName != "" && p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		if running != 2 {
			return false, fmt.Errorf("%d of 2 pods scheduled and Running", running)
		}
		return true, nil
	})

	// Cut a hub that is not the pool leader off the cloud: the node stays Ready (its Lease
	// renewed by the leader's hub) and yurt-manager taints it; healing removes the taint.
	urls := hubHealthURLs(out)
	cutNode := ""
	framework.WaitFor(t, time.Minute, func() (bool, error) {
		leaders := 0
		for _, n := range demoNodes {
			lead, err := poolLeader(urls[n])
			if err != nil {
				return false, err
			}
			if lead {
				leaders++
			} else {
				cutNode = n
			}
		}
		if leaders != 1 {
			return false, fmt.Errorf("%d pool leaders among the hubs %v", leaders, urls)
		}
		return true, nil
	})
	t.Logf("cutting %s (its hub is not the pool leader)", cutNode)
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(yurtctl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("yurtctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("local", "cut", cutNode, "--dir", dir)
	tainted := func(want bool) func() (bool, error) {
		return func() (bool, error) {
			node, err := kube.CoreV1().Nodes().Get(ctx, cutNode, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if !localstack.NodeReady(node) {
				return false, errors.New("the node is not Ready")
			}
			has := false
			for _, taint := range node.Spec.Taints {
				has = has || taint.Key == unschedKey
			}
			if has != want {
				return false, fmt.Errorf("taint %s present %v, want %v", unschedKey, has, want)
			}
			return true, nil
		}
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		// What the cloud holds of the node Leases when the cut went wrong.
		if leases, err := kube.CoordinationV1().Leases("kube-node-lease").List(context.Background(), metav1.ListOptions{}); err == nil {
			for _, l := range leases.Items {
				t.Logf("cloud Lease %s: renewTime %v, annotations %v, created %v", l.Name, l.Spec.RenewTime, l.Annotations, l.CreationTimestamp)
			}
		} else {
			t.Logf("listing node Leases: %v", err)
		}
	})
	framework.WaitFor(t, 2*time.Minute, tainted(true))
	// Still Ready (and tainted) throughout, well past the node-monitor grace period of the
	// stack's kube-controller-manager.
	framework.HoldsFor(t, 20*time.Second, "the cut node Ready and tainted", tainted(true))
	run("local", "heal", cutNode, "--dir", dir)
	framework.WaitFor(t, 2*time.Minute, tainted(false))

	// yurtctl local down stops everything.
	if out := run("local", "down", "--dir", dir); !strings.Contains(out, "Stopped the local control plane") {
		t.Errorf("yurtctl local down: %s", out)
	}
	downDone = true
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("yurtctl local up exited with %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("yurtctl local up still running after yurtctl local down")
	}
	if left := processesUsing(dir); len(left) > 0 {
		t.Errorf("processes left running after yurtctl local down:\n%s", strings.Join(left, "\n"))
	}
}

// processesUsing lists the processes whose command line names dir.
func processesUsing(dir string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(dir)) {
			continue
		}
		out = append(out, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return out
}
