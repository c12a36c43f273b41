package apiserver_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/yurt-edge/yurt/test/conformance"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

const (
	numPools    = 2000
	numWatchers = 200
	numUpdates  = 1000
	// rounds of each list measurement; the report shows the median.
	rounds = 5
	// fanOutRounds of the watch fan-out; the report shows the median.
	fanOutRounds = 3
	// maxRestarts bounds how often one watcher reopens a stream the server ended early.
	maxRestarts = 20
	// writers send the creates and updates, the same for both sides.
	writers = 16
)

// side is one way of serving NodePools.
type side struct {
	name string
	r    conformance.Resource
}

// result is one measurement on both sides; a zero crd means the CRD cannot do it.
type result struct {
	metric    string
	ours, crd time.Duration
	note      string
}

var (
	setupOnce sync.Once
	setupErr  error
	sides     []side
	results   []result
)

// setup installs the CRD and creates numPools NodePools on each side, once.
func setup(b *testing.B) {
	setupOnce.Do(func() {
		ctx := context.Background()
		c := framework.Clients(b)
		examples := framework.RepoPath(b, "artifacts", "examples")
		ours, err := conformance.YurtResources(examples)
		if err != nil {
			setupErr = err
			return
		}
		crd, err := conformance.CRDNodePool(examples)
		if err != nil {
			setupErr = err
			return
		}
		env, err := conformance.NewEnv(c.Config, "default", "bench")
		if err != nil {
			setupErr = err
			return
		}
		if _, err := conformance.InstallCRD(ctx, c.Dynamic, env.Discovery, framework.RepoPath(b, conformance.CRDManifest)); err != nil {
			setupErr = err
			return
		}
		sides = []side{{"ours", ours[0]}, {"crd", crd}}
		dyn := dynamic.NewForConfigOrDie(fastConfig(b))
		created := result{metric: fmt.Sprintf("create %d NodePools (%d writers)", numPools, writers)}
		for _, s := range sides {
			start := time.Now()
			err := parallel(numPools, func(i int) error {
				_, err := dyn.Resource(s.r.GVR).Create(ctx, s.r.Sample(poolName(i)), metav1.CreateOptions{})
				return err
			})
			if err != nil {
				setupErr = fmt.Errorf("creating %s NodePools: %w", s.name, err)
				return
			}
			took := time.Since(start)
			b.Logf("created %d %s NodePools in %s", numPools, s.r.GVR.Group, took.Round(time.Millisecond))
			if s.name == "ours" {
				created.ours = took
			} else {
				created.crd = took
			}
		}
		results = append(results, created)
	})
	if setupErr != nil {
		b.Fatal(setupErr)
	}
}

func poolName(i int) string { return fmt.Sprintf("bench-%04d", i) }

func fastConfig(b *testing.B) *rest.Config {
	cfg := framework.Stack(b).RESTConfig()
	cfg.QPS, cfg.Burst = 5000, 10000
	return cfg
}

// parallel runs f(0..n-1) on writers goroutines and returns the first error.
func parallel(n int, f func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func path(r conformance.Resource) string {
	return "/apis/" + r.GVR.Group + "/" + r.GVR.Version + "/" + r.GVR.Resource
}

// BenchmarkNodePools measures every operation on both sides and writes the report.
func BenchmarkNodePools(b *testing.B) {
	setup(b)
	httpClient, err := rest.HTTPClientFor(fastConfig(b))
	if err != nil {
		b.Fatal(err)
	}
	host := fastConfig(b).Host

	list := func(metric, accept string, oursOnly bool) {
		res := result{metric: metric}
		for _, s := range sides {
			if oursOnly && s.name == "crd" {
				code, err := status(httpClient, host+path(s.r), accept)
				if err != nil {
					b.Fatal(err)
				}
				res.note += fmt.Sprintf("; CRDs serve only JSON and YAML: the CRD answered %d to a protobuf-only Accept", code)
				continue
			}
			b.Run(metric+"/"+s.name, func(b *testing.B) {
				var times []time.Duration
				var size int
				for i := 0; i < b.N*rounds; i++ {
					start := time.Now()
					n, err := get(httpClient, host+path(s.r), accept)
					if err != nil {
						b.Fatal(err)
					}
					times = append(times, time.Since(start))
					size = n
				}
				m := median(times)
				b.ReportMetric(float64(m.Microseconds())/1000, "ms/list")
				b.ReportMetric(float64(size)/1024, "KiB")
				if s.name == "ours" {
					res.ours = m
				} else {
					res.crd = m
				}
				if res.note != "" {
					res.note += ", "
				}
				res.note += fmt.Sprintf("%s: %d KiB", s.name, size/1024)
			})
		}
		results = append(results, res)
	}
	list(fmt.Sprintf("list %d as JSON", numPools), "application/json", false)
	list(fmt.Sprintf("list %d as protobuf", numPools), "application/vnd.kubernetes.protobuf", true)
	list(fmt.Sprintf("list %d as Table", numPools), "application/json;as=Table;v=v1;g=meta.k8s.io", false)

	// kubectl get: the machine's kubectl, discovery cached by a first run.
	res := result{metric: fmt.Sprintf("`kubectl get` %d NodePools (wall time)", numPools)}
	for _, s := range sides {
		b.Run("kubectl-get/"+s.name, func(b *testing.B) {
			resource := s.r.GVR.Resource + "." + s.r.GVR.Version + "." + s.r.GVR.Group
			if _, err := kubectl(b, "get", resource, "--chunk-size=0", "-o", "name"); err != nil {
				b.Fatal(err)
			}
			var times []time.Duration
			for i := 0; i < b.N*rounds; i++ {
				start := time.Now()
				out, err := kubectl(b, "get", resource)
				if err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(start))
				if lines := bytes.Count(out, []byte("\n")); lines != numPools+1 {
					b.Fatalf("kubectl get %s printed %d lines, want %d", resource, lines, numPools+1)
				}
			}
			m := median(times)
			b.ReportMetric(float64(m.Microseconds())/1000, "ms/get")
			if s.name == "ours" {
				res.ours = m
			} else {
				res.crd = m
			}
		})
	}
	res.note = "default chunking (500 per page), server-side Table"
	results = append(results, res)

	res = result{metric: fmt.Sprintf("watch fan-out: %d watchers, %d updates, until all saw all", numWatchers, numUpdates)}
	writes := result{metric: fmt.Sprintf("… of which sending the %d updates (%d writers)", numUpdates, writers)}
	round := 0
	restarts := map[string]int64{}
	for _, s := range sides {
		b.Run("watch-fanout/"+s.name, func(b *testing.B) {
			var total, sent []time.Duration
			var restarted int64
			for i := 0; i < b.N*fanOutRounds; i++ {
				round++
				d, w, n, err := fanOut(b, httpClient, host, s.r, round)
				if err != nil {
					b.Fatal(err)
				}
				total, sent = append(total, d), append(sent, w)
				restarted += n
			}
			b.ReportMetric(float64(restarted), "restarts")
			restarts[s.name] = restarted
			b.ReportMetric(float64(median(total).Microseconds())/1000, "ms/fanout")
			b.ReportMetric(float64(median(sent).Microseconds())/1000, "ms/updates")
			if s.name == "ours" {
				res.ours, writes.ours = median(total), median(sent)
			} else {
				res.crd, writes.crd = median(total), median(sent)
			}
		})
	}
	res.note = fmt.Sprintf("median of %d; %d events delivered per round; raw JSON stream, one event per line; "+
		"watch streams the server ended early and the watcher reopened from its last resourceVersion, over all rounds: ours %d, CRD %d",
		fanOutRounds, numWatchers*numUpdates, restarts["ours"], restarts["crd"])
	writes.note = "merge patches of one label; the watchers read meanwhile"
	results = append(results, res, writes)

	if err := writeReport(framework.RepoPath(b, "_output", "bench", "apiserver.md")); err != nil {
		b.Fatal(err)
	}
}

// get lists url with accept and returns the body's size; the body is read in full, as a
// client must before it can use the list.
func get(c *http.Client, url, accept string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", accept)
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s as %s: %s", url, accept, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, strings.Split(accept, ";")[0]) {
		return 0, fmt.Errorf("GET %s as %s: content type %s", url, accept, ct)
	}
	return int(n), nil
}

func status(c *http.Client, url, accept string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", accept)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func kubectl(b *testing.B, args ...string) ([]byte, error) {
	stack := framework.Stack(b)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	full := append([]string{"--kubeconfig=" + stack.AdminKubeconfig, "--cache-dir=" + filepath.Join(stack.Dir, "kubectl-cache")}, args...)
	cmd := exec.CommandContext(ctx, "kubectl", full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// fanOut opens numWatchers watches from the current resourceVersion, sends numUpdates label
// patches spread over the pools, and returns the time from the first patch until every
// watcher has seen a MODIFIED event for every patch, and the time the patches took. round
// makes every patch a change. Events are counted on the raw JSON
// stream (one event per line) so that decoding in this process does not dominate.
func fanOut(b *testing.B, c *http.Client, host string, r conformance.Resource, round int) (time.Duration, time.Duration, int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dyn := dynamic.NewForConfigOrDie(fastConfig(b))
	list, err := dyn.Resource(r.GVR).List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return 0, 0, 0, err
	}
	rv := list.GetResourceVersion()
	var done sync.WaitGroup
	var ready sync.WaitGroup
	errs := make(chan error, numWatchers)
	modified := []byte(`{"type":"MODIFIED"`)
	rvKey := []byte(`"resourceVersion":"`)
	var restarts atomic.Int64
	for w := 0; w < numWatchers; w++ {
		done.Add(1)
		ready.Add(1)
		go func() {
			defer done.Done()
			// A stream the server ends early is reopened from the last resourceVersion seen,
			// as an informer's reflector does; each reopening is counted.
			from, seen, opened := rv, 0, false
			for attempt := 0; seen < numUpdates; attempt++ {
				if attempt > maxRestarts {
					errs <- fmt.Errorf("a watcher saw %d of %d updates after %d restarts", seen, numUpdates, maxRestarts)
					return
				}
				if attempt > 0 {
					restarts.Add(1)
				}
				body, err := openWatch(ctx, c, fmt.Sprintf("%s%s?watch=true&resourceVersion=%s&allowWatchBookmarks=false&timeoutSeconds=600", host, path(r), from))
				if !opened {
					opened = true
					ready.Done()
				}
				if err != nil {
					errs <- err
					return
				}
				sc := bufio.NewScanner(body)
				sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
				for seen < numUpdates && sc.Scan() {
					line := sc.Bytes()
					if !bytes.HasPrefix(line, modified) {
						continue
					}
					seen++
					// The first resourceVersion in the event is the object's.
					if i := bytes.Index(line, rvKey); i >= 0 {
						rest := line[i+len(rvKey):]
						if j := bytes.IndexByte(rest, '"'); j >= 0 {
							from = string(rest[:j])
						}
					}
				}
				body.Close()
				if ctx.Err() != nil {
					errs <- fmt.Errorf("a watcher saw %d of %d updates: %w", seen, numUpdates, ctx.Err())
					return
				}
			}
		}()
	}
	ready.Wait()
	start := time.Now()
	err = parallel(numUpdates, func(i int) error {
		patch := fmt.Sprintf(`{"metadata":{"labels":{"bench.yurt.io/update":"r%d-u%d"}}}`, round, i)
		_, err := dyn.Resource(r.GVR).Patch(ctx, poolName(i%numPools), types.MergePatchType, []byte(patch), metav1.PatchOptions{})
		return err
	})
	sent := time.Since(start)
	if err != nil {
		cancel()
		done.Wait()
		return 0, 0, 0, fmt.Errorf("updating: %w", err)
	}
	done.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, 0, 0, err
	}
	if n := restarts.Load(); n > 0 {
		b.Logf("%s: the server ended %d watch streams early; they were reopened from the last resourceVersion seen", r.GVR.Group, n)
	}
	return elapsed, sent, restarts.Load(), nil
}

// openWatch starts a JSON watch and returns its body.
func openWatch(ctx context.Context, c *http.Client, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("watch %s: %s", url, resp.Status)
	}
	return resp.Body, nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string {
	if d == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

func writeReport(file string) error {
	var sb strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&sb, "# yurt-apiserver vs. a CRD: NodePool\n\n%s, %s/%s, %d CPUs, %s. Produced by `make bench` (test/bench/apiserver).\n\n",
		time.Now().UTC().Format(time.RFC3339), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), host)
	fmt.Fprintf(&sb, "The same %d NodePool v1beta2 objects (artifacts/examples/nodepool-v1beta2.yaml) served by "+
		"yurt-apiserver through its APIService (apps.openyurt.io, aggregated: every request is proxied by kube-apiserver) "+
		"and by a CustomResourceDefinition (crd.openyurt.io, test/conformance/testdata/nodepool-crd.yaml) on the same "+
		"kube-apiserver and etcd. Lists: median of %d, as admin, full body read. Ratio < 1 means ours is faster.\n\n",
		numPools, rounds)
	sb.WriteString("| measurement | ours (apps.openyurt.io) | CRD (crd.openyurt.io) | ours/CRD | notes |\n|---|---|---|---|---|\n")
	for _, r := range results {
		ratio := "n/a"
		if r.ours > 0 && r.crd > 0 {
			ratio = fmt.Sprintf("%.2f", float64(r.ours)/float64(r.crd))
		}
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s |\n", r.metric, ms(r.ours), ms(r.crd), ratio, r.note)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return os.WriteFile(file, []byte(sb.String()), 0o644)
}
