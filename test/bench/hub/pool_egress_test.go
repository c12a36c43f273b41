package hub_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yurt-edge/yurt/pkg/coordinator/certs"
	"github.com/yurt-edge/yurt/pkg/localstack"
)

const (
	poolHubs = 20
	// churnUpdates slices change, at churnRate a second, while every hub's watcher watches.
	churnUpdates = 200
	churnRate    = 50
	// idleWindow measures the background traffic (health probes, leases) before the churn.
	idleWindow = 10 * time.Second
)

// egressResult is one variant of BenchmarkPoolEgress.
type egressResult struct {
	variant string
	// cloudWatches are the EndpointSlice watches open at kube-apiserver just before the churn;
	// coordWatches the watches the hubs served from the coordinator (-1: no such metric).
	cloudWatches, coordWatches float64
	// baseWatches are the EndpointSlice watches open at kube-apiserver before any hub started
	// (kube-apiserver's own, say).
	baseWatches float64
	// switches are the watches hubs ended because their source changed during the idle and
	// churn windows (a health-probe flap makes clients relist, which would skew the bytes).
	switches    float64
	leader      string
	idleDown    int64 // cloud → hubs bytes during idleWindow
	churnDown   int64 // cloud → hubs bytes from the first update until every watcher saw the last
	churnUp     int64 // hubs → cloud bytes in the same window
	churnTook   time.Duration
	lag         time.Duration // from the last change's write until every watcher had seen every change
	syncTook    time.Duration
	startupDown int64 // cloud → hubs bytes from the first hub's start until every watcher synced
	notes       []string
}

// BenchmarkPoolEgress counts what kube-apiserver sends to a pool of 20 hubs while EndpointSlices
// churn: each hub (host loopback, own ports, certificate and cache) reaches kube-apiserver
// through a byte-counting TCP forwarder and has a kube-proxy-like watcher (see proxyWatcher).
// After every watcher has synced and an idle window, 200 slices change at 50/s; the window
// ends when every watcher has seen every change. The variants: no coordinator (each hub
// watches the cloud itself), and the pool's yurt-coordinator (Stack.StartCoordinator) with
// every hub given --coordinator-endpoints, where the pool leader alone should watch the cloud.
func BenchmarkPoolEgress(b *testing.B) {
	stack, w := setup(b)
	root := filepathRoot(b)
	ctx := context.Background()
	names := make([]string, poolHubs)
	for i := range names {
		names[i] = fmt.Sprintf("bench-pool-node-%02d", i)
		if err := createNode(ctx, names[i]); err != nil {
			b.Fatal(err)
		}
	}
	var results []egressResult
	for b.Loop() {
		results = results[:0]
		r, err := runEgress(ctx, b, stack, root, w, names, nil)
		if err != nil {
			b.Fatal(err)
		}
		results = append(results, r)
		coord, err := stack.StartCoordinator(ctx, benchPool)
		if err != nil {
			b.Fatal(err)
		}
		r, err = runEgress(ctx, b, stack, root, w, names, coord)
		_ = coord.Process.Stop(10 * time.Second)
		if err != nil {
			b.Fatal(err)
		}
		results = append(results, r)
	}
	without, with := results[0], results[1]
	ratio := float64(with.churnDown) / float64(without.churnDown)
	b.ReportMetric(float64(without.churnDown), "egress-bytes-without")
	b.ReportMetric(float64(with.churnDown), "egress-bytes-with-coordinator")
	b.ReportMetric(ratio, "with/without")

	var sb strings.Builder
	sb.WriteString("## Cloud egress during EndpointSlice churn: a pool of 20 hubs, with and without the coordinator\n\n")
	fmt.Fprintf(&sb, "%d hubs on loopback, each reaching kube-apiserver through one byte-counting TCP forwarder (the cloud's side of the WAN), "+
		"each with a kube-proxy-like watcher (Services, EndpointSlices, its Node; protobuf; kube-proxy's User-Agent). Once every "+
		"watcher has synced the %d Services and %d slices, an idle window of %s measures background traffic (health probes), "+
		"then %d slices change (one endpoint's readiness each) at %d/s; the churn window ends when every watcher has seen every "+
		"change. *cloud→hubs* is what kube-apiserver sent (TLS bytes on the wire).\n\n",
		poolHubs, numServices, numServices, idleWindow, churnUpdates, churnRate)
	sb.WriteString("| variant | EndpointSlice watches open at kube-apiserver (before the hubs started) | watches served from the coordinator | cloud→hubs during churn | minus idle rate | per change per hub | hubs→cloud during churn | churn window (last write → seen by all) | cloud→hubs idle | source switches (idle + churn) | cloud→hubs start-up (hubs start → all synced) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range []egressResult{without, with} {
		netBytes := r.churnDown - int64(float64(r.idleDown)*r.churnTook.Seconds()/idleWindow.Seconds())
		coordWatches := "–"
		if r.coordWatches >= 0 {
			coordWatches = fmt.Sprintf("%.0f", r.coordWatches)
		}
		fmt.Fprintf(&sb, "| %s | %.0f (%.0f) | %s | %s | %s | %.0f B | %s | %s (%s) | %s/s | %.0f | %s |\n", r.variant, r.cloudWatches, r.baseWatches, coordWatches,
			mib(r.churnDown), mib(netBytes), float64(r.churnDown)/float64(churnUpdates*poolHubs), mib(r.churnUp),
			r.churnTook.Round(time.Millisecond), r.lag.Round(time.Millisecond), kib(float64(r.idleDown)/idleWindow.Seconds()), r.switches, mib(r.startupDown))
	}
	fmt.Fprintf(&sb, "\n**with/without = %.3f** (aim: about 1/%d = %.3f; OpenYurt claims \"up to 90%%\" less, i.e. 0.1).\n", ratio, poolHubs, 1.0/poolHubs)
	if with.coordWatches <= 0 {
		sb.WriteString("\n**No hub served from the coordinator** in the with-coordinator variant (yurthub_pool_coordinator_watches was 0 or absent), " +
			"so its bytes are not the pool-scoped path.\n")
	}
	if without.switches > 0 || with.switches > 0 {
		sb.WriteString("\nSource switches above 0 mean a hub's health probe flapped during the measurement and its clients relisted; those bytes are in the figures.\n")
	}
	for _, r := range results {
		for _, n := range r.notes {
			fmt.Fprintf(&sb, "\n%s: %s\n", r.variant, n)
		}
	}
	addSection("3-egress", sb.String())
}

func kib(v float64) string { return fmt.Sprintf("%.1f KiB", v/1024) }

// runEgress runs one variant: coord nil means no coordinator.
func runEgress(ctx context.Context, b *testing.B, stack *localstack.Stack, root string, w *workload, names []string, coord *localstack.Coordinator) (egressResult, error) {
	res := egressResult{variant: "without coordinator", coordWatches: -1}
	if coord != nil {
		res.variant = "with coordinator"
	}
	api, err := url.Parse(stack.KubeAPIServerURL)
	if err != nil {
		return res, err
	}
	fwd, err := localstack.Forward("127.0.0.1:0", api.Host)
	if err != nil {
		return res, err
	}
	defer fwd.Close()

	var extra func(name string) ([]string, error)
	if coord != nil {
		files := certs.Files{Dir: coord.CertDir}
		ca, err := certs.LoadCA(files.CA())
		if err != nil {
			return res, fmt.Errorf("loading the pool CA: %w", err)
		}
		extra = func(name string) ([]string, error) {
			pair, err := ca.SignHub(benchPool, name, 0)
			if err != nil {
				return nil, err
			}
			c, k := files.Hub(name)
			if err := pair.Write(c, k); err != nil {
				return nil, err
			}
			return []string{"--coordinator-endpoints=" + strings.Join(coord.Endpoints, ","),
				"--coordinator-ca-file=" + coord.CAFile, "--coordinator-cert-file=" + c, "--coordinator-key-file=" + k}, nil
		}
	}

	if res.baseWatches, err = cloudEndpointSliceWatches(ctx); err != nil {
		return res, err
	}
	// Start the hubs, a few at a time.
	startDown := fwd.BytesFromTarget()
	start := time.Now()
	hubs := make([]*hubProc, len(names))
	defer func() {
		var wg sync.WaitGroup
		for _, h := range hubs {
			wg.Go(h.stop)
		}
		wg.Wait()
	}()
	err = limited(len(names), 5, func(i int) error {
		spec := hubSpec{name: names[i], pool: benchPool, cloudURL: "https://" + fwd.Addr()}
		if extra != nil {
			flags, err := extra(names[i])
			if err != nil {
				return err
			}
			spec.extra = flags
		}
		h, err := startHub(ctx, stack, root, spec)
		hubs[i] = h
		return err
	})
	if err != nil {
		return res, err
	}
	if coord != nil {
		leader, err := waitLeader(hubs, 90*time.Second)
		if err != nil {
			return res, err
		}
		res.leader = leader
		// Only a note: what counts is which source answered kube-proxy, read from every hub below.
		_, note := waitPoolServing(hubs[len(hubs)-1], 45*time.Second)
		res.notes = append(res.notes, note)
	}

	// A kube-proxy-like watcher on every hub.
	watchers := make([]*proxyWatcher, len(hubs))
	defer func() {
		for _, pw := range watchers {
			pw.close()
		}
	}()
	// Five at a time: all twenty relisting at once on two shared cores only measures the machine.
	syncCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var watchersMu sync.Mutex
	err = limited(len(hubs), 5, func(i int) error {
		pw, err := startProxyWatcher(hubs[i].config(kubeProxyUA), hubs[i].name)
		if err != nil {
			return err
		}
		watchersMu.Lock()
		watchers[i] = pw
		watchersMu.Unlock()
		if err := pw.waitSynced(syncCtx); err != nil {
			return fmt.Errorf("watcher of %s: %w; hub: %v", hubs[i].name, err, hubs[i].exited())
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	res.syncTook = time.Since(start)
	res.startupDown = fwd.BytesFromTarget() - startDown
	for _, h := range hubs {
		if _, err := h.waitCacheSettled(2*time.Second, 3*time.Minute); err != nil {
			return res, err
		}
	}
	b.Logf("%s: %d hubs started and %d watchers synced in %s", res.variant, len(hubs), len(watchers), res.syncTook.Round(time.Millisecond))

	switches0, err := sumHubMetric(hubs, "yurthub_watches_ended_on_source_switch_total")
	if err != nil {
		return res, err
	}
	// Background traffic.
	d0 := fwd.BytesFromTarget()
	time.Sleep(idleWindow)
	res.idleDown = fwd.BytesFromTarget() - d0
	if res.cloudWatches, err = cloudEndpointSliceWatches(ctx); err != nil {
		return res, err
	}
	if coord != nil {
		if res.coordWatches, err = sumHubMetric(hubs, "yurthub_pool_coordinator_watches"); err != nil {
			return res, err
		}
	}

	// Churn, until every watcher has seen every change.
	d0, u0 := fwd.BytesFromTarget(), fwd.BytesToTarget()
	churnStart := time.Now()
	want, err := w.churn(ctx, adminKube, churnUpdates, churnRate)
	if err != nil {
		return res, err
	}
	written := time.Now()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		missing := 0
		for _, pw := range watchers {
			missing += pw.missing(want)
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("%s: %d (watcher, slice) changes still unseen 2 minutes after the churn", res.variant, missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
	res.churnTook, res.lag = time.Since(churnStart), time.Since(written)
	res.churnDown, res.churnUp = fwd.BytesFromTarget()-d0, fwd.BytesToTarget()-u0
	switches1, err := sumHubMetric(hubs, "yurthub_watches_ended_on_source_switch_total")
	if err != nil {
		return res, err
	}
	res.switches = switches1 - switches0
	if res.leader != "" {
		res.notes = append(res.notes, "pool leader: "+res.leader)
	}
	b.Logf("%s: churn %s, cloud→hubs %d bytes, endpointslice watches at the cloud %.0f, served from the coordinator %.0f, source switches %.0f",
		res.variant, res.churnTook.Round(time.Millisecond), res.churnDown, res.cloudWatches, res.coordWatches, res.switches)
	return res, nil
}

// sumHubMetric adds a metric up over every hub (0 where a hub does not have it); a hub that
// exited is an error.
func sumHubMetric(hubs []*hubProc, name string) (float64, error) {
	total := 0.0
	for _, h := range hubs {
		if err := h.exited(); err != nil {
			return 0, err
		}
		m, err := h.metrics()
		if err != nil {
			return 0, err
		}
		total += sumMetric(m, name)
	}
	return total, nil
}

// cloudEndpointSliceWatches is the number of EndpointSlice watches open at kube-apiserver
// (apiserver_longrunning_requests), counted at the cloud side.
func cloudEndpointSliceWatches(ctx context.Context) (float64, error) {
	raw, err := adminKube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading kube-apiserver's metrics: %w", err)
	}
	m, err := parseMetrics(strings.NewReader(string(raw)))
	if err != nil {
		return 0, err
	}
	return sumMetric(m, "apiserver_longrunning_requests", `resource="endpointslices"`, `verb="WATCH"`), nil
}

// waitLeader waits until exactly one hub reports yurthub_pool_leader 1.
func waitLeader(hubs []*hubProc, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		var leaders []string
		for _, h := range hubs {
			if err := h.exited(); err != nil {
				return "", err
			}
			m, err := h.metrics()
			if err != nil {
				return "", err
			}
			if sumMetric(m, "yurthub_pool_leader") == 1 {
				leaders = append(leaders, h.name)
			}
		}
		if len(leaders) == 1 {
			return leaders[0], nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no single pool leader after %s: %v", timeout, leaders)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitPoolServing lists EndpointSlices through a hub as an uncached component until a source
// other than the cloud and the cache answers (the coordinator), or timeout. It reports whether
// that happened and a note saying what was seen.
func waitPoolServing(h *hubProc, timeout time.Duration) (bool, string) {
	client := &http.Client{Timeout: 30 * time.Second}
	deadline := time.Now().Add(timeout)
	start := time.Now()
	for {
		req, _ := http.NewRequest(http.MethodGet, h.proxyURL+"/apis/discovery.k8s.io/v1/namespaces/"+benchNS+"/endpointslices?limit=1", nil)
		req.Header.Set("User-Agent", "bench-probe/v0")
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		m, err := h.metrics()
		if err == nil {
			for series, v := range m {
				if v > 0 && strings.HasPrefix(series, "yurthub_proxy_requests_total{") && strings.Contains(series, `component="bench-probe"`) {
					if src := labelValue(series, "source"); src != "cloud" && src != "cache" {
						return true, fmt.Sprintf("hubs served endpointslices from source %q %s after the leader was elected", src, time.Since(start).Round(time.Second))
					}
				}
			}
		}
		if time.Now().After(deadline) {
			return false, fmt.Sprintf("no hub source other than cloud/cache answered an endpointslice list within %s of the leader's election", timeout)
		}
		time.Sleep(time.Second)
	}
}

// limited runs f(0..n-1) with at most k at a time and returns the first error.
func limited(n, k int, f func(i int) error) error {
	sem := make(chan struct{}, k)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = f(i)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
