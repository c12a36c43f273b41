// Package appset_test benchmarks the YurtAppSet controller, run as the real bin/yurt-manager
// (only the yurtappset controller) against a local stack (embedded etcd, kube-apiserver,
// yurt-apiserver): a YurtAppSet selecting 50 pools, with a {{nodepool-name}} patch tweak for
// every pool. It measures the time until all 50 Deployments exist (after create) and until
// all 50 carry a template change, as the benchmark's own Deployment informer sees them, and
// until status.totalWorkloads/updatedWorkloads say so, for two client QPS settings. Nothing
// runs in a plain `go test`: the work is in BenchmarkYurtAppSetConvergence (`make bench`).
// The report goes to _output/bench/appset.md.
package appset_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	appsv1beta1 "github.com/yurt-edge/yurt/apis/apps/v1beta1"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	yurtclient "github.com/yurt-edge/yurt/generated/clientset/versioned"
	"github.com/yurt-edge/yurt/pkg/controller/workload"
	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/pkg/procstatus"
)

const (
	numPools  = 50
	namespace = "bench"
)

// settings are the yurt-manager configurations compared (--kube-api-qps; burst is 2×).
var settings = []int{50, 500}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// tracker counts, per YurtAppSet, the Deployments whose first container has the wanted args.
type tracker struct {
	mu      sync.Mutex
	args    map[string]map[string]string // set → deployment → args
	want    map[string]string            // set → wanted args
	waiters map[string]chan struct{}
}

func (t *tracker) observe(obj any) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok || d.Namespace != namespace {
		return
	}
	set := d.Labels[workload.RefYurtAppSetLabel]
	if set == "" || len(d.Spec.Template.Spec.Containers) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.args[set] == nil {
		t.args[set] = map[string]string{}
	}
	t.args[set][d.Name] = strings.Join(d.Spec.Template.Spec.Containers[0].Args, " ")
	t.checkLocked(set)
}

func (t *tracker) checkLocked(set string) {
	ch, ok := t.waiters[set]
	if !ok {
		return
	}
	n := 0
	for _, a := range t.args[set] {
		if a == t.want[set] {
			n++
		}
	}
	if n == numPools {
		close(ch)
		delete(t.waiters, set)
	}
}

// expect returns a channel closed once all pools' Deployments of set have args.
func (t *tracker) expect(set, args string) <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	ch := make(chan struct{})
	t.want[set] = args
	t.waiters[set] = ch
	t.checkLocked(set)
	return ch
}

func BenchmarkYurtAppSetConvergence(b *testing.B) {
	root, err := repoRoot()
	if err != nil {
		b.Fatal(err)
	}
	for _, bin := range []string{"bin/kube/kube-apiserver", "bin/yurt-apiserver", "bin/yurt-manager"} {
		if _, err := os.Stat(filepath.Join(root, bin)); err != nil {
			b.Fatalf("%s is missing (make build kube-binaries)", bin)
		}
	}
	dir, err := os.MkdirTemp("", "yurt-bench-appset-")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	startCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	stack, err := localstack.Start(startCtx, localstack.Options{
		Dir: dir, BinDir: filepath.Join(root, "bin", "kube"), YurtBinDir: filepath.Join(root, "bin"),
		EtcdUnsafeNoFsync: true, RemoveDirOnStop: true, Logger: klog.Background(),
	})
	cancel()
	if err != nil {
		_ = os.RemoveAll(dir)
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := stack.Stop(); err != nil {
			b.Logf("stopping the stack: %v", err)
		}
	})
	cfg := stack.RESTConfig()
	cfg.QPS, cfg.Burst = 2000, 4000
	kube := kubernetes.NewForConfigOrDie(cfg)
	yurt := yurtclient.NewForConfigOrDie(cfg)
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	for p := range numPools {
		pool := &appsv1beta2.NodePool{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-pool-%02d", p), Labels: map[string]string{"tier": "bench"}},
			Spec: appsv1beta2.NodePoolSpec{Type: appsv1beta2.Edge}}
		if _, err := yurt.AppsV1beta2().NodePools().Create(ctx, pool, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}

	tr := &tracker{args: map[string]map[string]string{}, want: map[string]string{}, waiters: map[string]chan struct{}{}}
	factory := informers.NewSharedInformerFactoryWithOptions(kube, 0, informers.WithNamespace(namespace))
	inf := factory.Apps().V1().Deployments().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: tr.observe, UpdateFunc: func(_, cur any) { tr.observe(cur) }})
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	factory.WaitForCacheSync(stop)

	var rows []string
	iteration := 0
	for b.Loop() {
		rows = rows[:0]
		iteration++
		for _, qps := range settings {
			row, err := runSetting(ctx, b, stack, yurt, tr, qps, fmt.Sprintf("web-%d", iteration))
			if err != nil {
				b.Fatal(err)
			}
			rows = append(rows, row)
		}
	}
	writeReport(b, rows)
}

func appSet(name string) *appsv1beta1.YurtAppSet {
	one := int32(1)
	lbls := map[string]string{"app": name}
	env, _ := json.Marshal([]corev1.EnvVar{{Name: "POOL", Value: "{{nodepool-name}}"}})
	return &appsv1beta1.YurtAppSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: appsv1beta1.YurtAppSetSpec{
			NodePoolSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "bench"}},
			Workload: appsv1beta1.Workload{
				WorkloadTemplate: appsv1beta1.WorkloadTemplate{DeploymentTemplate: &appsv1beta1.DeploymentTemplate{
					ObjectMeta: metav1.ObjectMeta{Labels: lbls},
					Spec: appsv1.DeploymentSpec{
						Replicas: &one,
						Selector: &metav1.LabelSelector{MatchLabels: lbls},
						Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbls}, Spec: corev1.PodSpec{
							Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10", Args: []string{"v1"}}},
						}},
					},
				}},
				WorkloadTweaks: []appsv1beta1.WorkloadTweak{{
					NodePoolSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "bench"}},
					Tweaks: appsv1beta1.Tweaks{Patches: []appsv1beta1.Patch{
						{Path: "/spec/template/spec/containers/0/env", Operation: appsv1beta1.ADD, Value: apiextensionsv1.JSON{Raw: env}},
					}},
				}},
			},
		},
	}
}

// rounds is how many YurtAppSets each setting creates and updates, one after the other;
// the report gives the median and the range, as the machine is shared.
const rounds = 5

type timings struct{ create, createStatus, update, updateStatus time.Duration }

// runSetting starts yurt-manager with one QPS and runs the rounds against it.
func runSetting(ctx context.Context, b *testing.B, stack *localstack.Stack, yurt yurtclient.Interface, tr *tracker, qps int, prefix string) (string, error) {
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	proc, addr, err := stack.StartYurtManager(startCtx, localstack.YurtManagerOptions{
		Controllers: []string{"yurtappset"},
		ExtraArgs:   []string{"--kube-api-qps=" + strconv.Itoa(qps), "--kube-api-burst=" + strconv.Itoa(2*qps)},
	})
	if err != nil {
		return "", err
	}
	defer func() { _ = proc.Stop(20 * time.Second) }()
	before, err := scrape(addr, "yurt_manager_reconcile_total", `controller="yurtappset"`)
	if err != nil {
		return "", err
	}
	var all []timings
	for r := range rounds {
		tm, err := runRound(ctx, yurt, tr, fmt.Sprintf("%s-q%d-r%d", prefix, qps, r))
		if err != nil {
			return "", fmt.Errorf("qps %d round %d: %w", qps, r, err)
		}
		all = append(all, tm)
	}
	after, err := scrape(addr, "yurt_manager_reconcile_total", `controller="yurtappset"`)
	if err != nil {
		return "", err
	}
	errCount, _ := scrape(addr, "yurt_manager_reconcile_total", `controller="yurtappset"`, `result="error"`)
	stat := func(f func(timings) time.Duration) (string, time.Duration) {
		var ds []time.Duration
		for _, t := range all {
			ds = append(ds, f(t))
		}
		slices.Sort(ds)
		med := ds[len(ds)/2]
		return fmt.Sprintf("%.2f s (%.2f–%.2f)", med.Seconds(), ds[0].Seconds(), ds[len(ds)-1].Seconds()), med
	}
	c, cMed := stat(func(t timings) time.Duration { return t.create })
	cs, _ := stat(func(t timings) time.Duration { return t.createStatus })
	u, uMed := stat(func(t timings) time.Duration { return t.update })
	us, _ := stat(func(t timings) time.Duration { return t.updateStatus })
	b.ReportMetric(cMed.Seconds(), fmt.Sprintf("s-create-q%d", qps))
	b.ReportMetric(uMed.Seconds(), fmt.Sprintf("s-update-q%d", qps))
	return fmt.Sprintf("| %d | %s | %s | %s | %s | %.1f | %.0f | %s |",
		qps, c, cs, u, us, (after-before)/rounds, errCount, rssMiB(proc.Pid())), nil
}

// runRound creates a YurtAppSet over the 50 pools and waits for its Deployments and status,
// then changes the template and waits again.
func runRound(ctx context.Context, yurt yurtclient.Interface, tr *tracker, name string) (timings, error) {
	var tm timings
	created := tr.expect(name, "v1")
	start := time.Now()
	if _, err := yurt.AppsV1beta1().YurtAppSets(namespace).Create(ctx, appSet(name), metav1.CreateOptions{}); err != nil {
		return tm, err
	}
	if err := waitClosed(created, 5*time.Minute); err != nil {
		return tm, fmt.Errorf("creating: %w", err)
	}
	tm.create = time.Since(start)
	if err := waitStatus(ctx, yurt, name, func(s appsv1beta1.YurtAppSetStatus) bool { return s.TotalWorkloads == numPools }); err != nil {
		return tm, err
	}
	tm.createStatus = time.Since(start)

	set, err := yurt.AppsV1beta1().YurtAppSets(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return tm, err
	}
	firstRev := set.Status.CurrentRevision
	set.Spec.Workload.WorkloadTemplate.DeploymentTemplate.Spec.Template.Spec.Containers[0].Args = []string{"v2"}
	updated := tr.expect(name, "v2")
	start = time.Now()
	if _, err := yurt.AppsV1beta1().YurtAppSets(namespace).Update(ctx, set, metav1.UpdateOptions{}); err != nil {
		return tm, err
	}
	if err := waitClosed(updated, 5*time.Minute); err != nil {
		return tm, fmt.Errorf("updating: %w", err)
	}
	tm.update = time.Since(start)
	if err := waitStatus(ctx, yurt, name, func(s appsv1beta1.YurtAppSetStatus) bool {
		return s.CurrentRevision != firstRev && s.UpdatedWorkloads == numPools
	}); err != nil {
		return tm, err
	}
	tm.updateStatus = time.Since(start)
	return tm, nil
}

func waitClosed(ch <-chan struct{}, timeout time.Duration) error {
	select {
	case <-ch:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("not converged after %s", timeout)
	}
}

func waitStatus(ctx context.Context, yurt yurtclient.Interface, name string, ok func(appsv1beta1.YurtAppSetStatus) bool) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		set, err := yurt.AppsV1beta1().YurtAppSets(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil && ok(set.Status) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("status of %s did not converge: %v", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scrape sums the samples of a metric with all of labels on yurt-manager's /metrics.
func scrape(addr, name string, labels ...string) (float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var sum float64
lines:
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue lines
			}
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("parsing %q: %w", line, err)
		}
		sum += v
	}
	return sum, nil
}

func rssMiB(pid int) string {
	m, err := procstatus.Read(pid)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%.0f MiB", float64(m.RSS)/(1<<20))
}

func writeReport(b *testing.B, rows []string) {
	root, err := repoRoot()
	if err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(root, "_output", "bench")
	if err := os.MkdirAll(out, 0o755); err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "# YurtAppSet benchmark\n\n%s, %s/%s, %d CPUs, %s. Produced by `go test -run=^$ -bench=. -benchtime=1x ./test/bench/appset` (test/bench/appset).\n\n",
		time.Now().UTC().Format(time.RFC3339), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(&sb, "## One YurtAppSet across %d pools\n\n", numPools)
	sb.WriteString("The real bin/yurt-manager (only the yurtappset controller, default --workers) against kube-apiserver + yurt-apiserver on loopback; " +
		"no kube-controller-manager, so Deployments stay objects (no ReplicaSets, no status churn). The set selects all 50 pools by label and patches " +
		"an env var with {{nodepool-name}} into every pool's Deployment. *Deployments* is until the benchmark's own Deployment informer sees all 50 " +
		"with the expected template; *status* is until the set's status says so (totalWorkloads=50, then updatedWorkloads=50 at the new revision). " +
		fmt.Sprintf("Each row is one yurt-manager running %d rounds, each with a fresh YurtAppSet: median (min–max) of the rounds; reconciles per round.\n\n", rounds))
	sb.WriteString("| --kube-api-qps | create: Deployments | create: status | template change: Deployments | template change: status | reconciles / round | reconcile errors | RSS after |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		sb.WriteString(r + "\n")
	}
	sb.WriteString("\nOne reconcile writes every pool's Deployment (8 writes in flight), so a create or a template change costs a few " +
		"reconciles (the first, then coalesced Deployment watch events and the status echo), not one per pool. The client rate limiter " +
		"is the bound: with the default --kube-api-qps=50 (burst 100) a first round fits in the burst (the minimum), while back-to-back " +
		"rounds have used it up and run at about 50 writes/s, i.e. about 1 s for 50 Deployments; at 500 QPS the controller converges " +
		"in well under a second either way.\n")
	if err := os.WriteFile(filepath.Join(out, "appset.md"), []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Log("\n" + sb.String())
}
