package hub_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

const (
	getRounds   = 1000
	listRounds  = 100
	warmupGets  = 50
	warmupLists = 3
	// otherUA is a component the hub does not cache, to tell proxying from caching costs.
	otherUA = "bench-client/v0.0.0"
)

// path is one measured request.
type path struct {
	name   string
	client *http.Client
	base   string
	ua     string
}

// BenchmarkHubLatency measures get (one EndpointSlice) and list (the 1,000 anchor
// EndpointSlices, kube-proxy's label selector) latency directly to kube-apiserver and through
// one hub, with the same node credentials and protobuf. The sides take turns request by
// request (the order rotating), so both see the same machine load. Through the hub there are
// two sides: as kube-proxy (the hub caches the response: decode and write to disk after the
// body has been passed on) and as a component the hub does not cache (proxying alone).
//
// Two environment variables help find and check latency work: BENCH_HUB_ROOT names a directory
// whose bin/yurthub is measured instead of this repository's (a baseline build, so both can be
// compared on the same stack), and BENCH_HUB_PROFILE a directory where the hub's CPU profiles
// during the protobuf gets and the lists are written (hub-get-cpu.pprof, hub-list-cpu.pprof,
// from its /debug/pprof).
func BenchmarkHubLatency(b *testing.B) {
	stack, _ := setup(b)
	root := filepathRoot(b)
	if r := os.Getenv("BENCH_HUB_ROOT"); r != "" {
		root = r
	}
	ctx := context.Background()
	const node = "bench-latency"
	if err := createNode(ctx, node); err != nil {
		b.Fatal(err)
	}
	hub, err := startHub(ctx, stack, root, hubSpec{name: node, pool: benchPool, cloudURL: stack.KubeAPIServerURL})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(hub.stop)

	directCfg := &rest.Config{
		Host: stack.KubeAPIServerURL, UserAgent: kubeProxyUA, QPS: -1,
		TLSClientConfig: rest.TLSClientConfig{
			CAFile: stack.PKI.CA.CertFile, CertFile: filepath.Join(hub.dir, "node.crt"), KeyFile: filepath.Join(hub.dir, "node.key"),
		},
	}
	mk := func(name string, cfg *rest.Config, base string) path {
		c, err := rest.HTTPClientFor(cfg)
		if err != nil {
			b.Fatal(err)
		}
		return path{name: name, client: c, base: base, ua: cfg.UserAgent}
	}
	paths := []path{
		mk("direct to kube-apiserver", directCfg, stack.KubeAPIServerURL),
		mk("through the hub (kube-proxy, cached)", hub.config(kubeProxyUA), hub.proxyURL),
		mk("through the hub (uncached component)", hub.config(otherUA), hub.proxyURL),
	}
	sel := url.QueryEscape("!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name")
	getPath := "/apis/discovery.k8s.io/v1/namespaces/" + benchNS + "/endpointslices/" + sliceName(500)
	listPath := "/apis/discovery.k8s.io/v1/namespaces/" + benchNS + "/endpointslices?labelSelector=" + sel

	// Measure the steady state: a hub that just started is still writing what its own
	// informers (ResponseFilters, Services, NodePools) listed into its cache — a thousand
	// Services, each file synced — which on a small machine takes seconds of CPU and disk.
	// The writes counter alone does not move during a long list replacement: wait for idle.
	if _, err := hub.waitCacheSettled(2*time.Second, 2*time.Minute); err != nil {
		b.Fatal(err)
	}
	if err := hub.waitIdle(2 * time.Minute); err != nil {
		b.Fatal(err)
	}
	var getTimes, jsonGetTimes, listTimes [][]time.Duration
	var listBytes []int
	loadBefore := loadAverage()
	for b.Loop() {
		var err error
		stopProfile := profileHub(b, hub, "hub-get-cpu.pprof", 5)
		if getTimes, _, err = measure(paths, getPath, protobuf, warmupGets, getRounds); err != nil {
			b.Fatal(err)
		}
		stopProfile()
		if jsonGetTimes, _, err = measure(paths, getPath, "application/json", warmupGets, getRounds); err != nil {
			b.Fatal(err)
		}
		stopProfile = profileHub(b, hub, "hub-list-cpu.pprof", 10)
		if listTimes, listBytes, err = measure(paths, listPath, protobuf, warmupLists, listRounds); err != nil {
			b.Fatal(err)
		}
		stopProfile()
	}
	loadAfter := loadAverage()
	if err := hub.exited(); err != nil {
		b.Fatal(err)
	}
	if _, err := hub.waitCacheSettled(2*time.Second, time.Minute); err != nil {
		b.Logf("waiting for the hub's cache writes: %v", err)
	}

	var sb strings.Builder
	fmt.Fprintf(&sb, "## Request latency: through the hub vs. directly to kube-apiserver\n\n")
	fmt.Fprintf(&sb, "One hub on loopback; the same node client certificate (system:node:%s) both ways; protobuf; "+
		"the sides take turns request by request. get: EndpointSlice %s/%s (%d rounds; \"get (JSON)\" asks for JSON only); list: the %d anchor EndpointSlices "+
		"(%d endpoints each, kube-proxy's label selector, %d rounds, %s protobuf as received). "+
		"\"kube-proxy, cached\" is kube-proxy's User-Agent (the hub also writes the response to its disk cache); "+
		"\"uncached component\" is proxying alone. The machine's %d cores are shared with other work (load average %s before, %s after), "+
		"so the p99s mostly measure that; the p50s and ratios are steadier.\n\n",
		node, benchNS, sliceName(500), getRounds, numServices, endpointsPerSlice, listRounds, mib(int64(listBytes[0])), runtime.NumCPU(), loadBefore, loadAfter)
	sb.WriteString("| request | path | p50 | p99 | added p50 | added p99 | p50 ratio | p99 ratio |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range []struct {
		name  string
		times [][]time.Duration
	}{{"get", getTimes}, {"get (JSON)", jsonGetTimes}, {"list", listTimes}} {
		d50, d99 := percentile(r.times[0], 50), percentile(r.times[0], 99)
		for i, p := range paths {
			p50, p99 := percentile(r.times[i], 50), percentile(r.times[i], 99)
			added50, added99, ratio50, ratio99 := "", "", "", ""
			if i > 0 {
				added50, added99 = fmtMS(p50-d50), fmtMS(p99-d99)
				ratio50, ratio99 = fmt.Sprintf("%.2f×", float64(p50)/float64(d50)), fmt.Sprintf("%.2f×", float64(p99)/float64(d99))
			}
			fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.name, p.name, fmtMS(p50), fmtMS(p99), added50, added99, ratio50, ratio99)
			b.ReportMetric(float64(p99)/1e6, strings.NewReplacer(" ", "_", "(", "", ")", "").Replace(r.name+"-"+shortName(i)+"-p99-ms"))
		}
	}
	getAdded := percentile(getTimes[1], 99) - percentile(getTimes[0], 99)
	verdict := "met"
	if getAdded >= time.Millisecond {
		verdict = "missed"
	}
	fmt.Fprintf(&sb, "\nAim: under 1 ms added at p99 for get (kube-proxy, cached): %s added — %s. "+
		"For scale, OpenYurt's yurthub added about 2 ms at p50 to a GET (1.4 → 3.5 ms) on this kind of machine.\n", fmtMS(getAdded), verdict)
	addSection("1-latency", sb.String())
}

// loadAverage is the 1-minute load average, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}

func shortName(i int) string { return []string{"direct", "hub", "hub-uncached"}[i] }

// profileHub starts fetching the hub's CPU profile for the given seconds (about as long as
// the protobuf gets, or the lists, take on a quiet machine) into $BENCH_HUB_PROFILE/name, if
// set; the returned func waits for it.
func profileHub(b *testing.B, hub *hubProc, name string, seconds int) (wait func()) {
	dir := os.Getenv("BENCH_HUB_PROFILE")
	if dir == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Get(hub.serverURL + "/debug/pprof/profile?seconds=" + strconv.Itoa(seconds))
		if err != nil {
			b.Logf("profiling the hub: %v", err)
			return
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: %s", resp.Status, data)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, name), data, 0o644)
		}
		if err != nil {
			b.Logf("profiling the hub: %v", err)
		}
	}()
	return func() { <-done }
}

// measure requests pathAndQuery with the given Accept on every side warmup times, then rounds
// times, the sides taking turns with the first side rotating each round. It returns the
// durations per side and the body size per side.
func measure(paths []path, pathAndQuery, accept string, warmup, rounds int) ([][]time.Duration, []int, error) {
	times := make([][]time.Duration, len(paths))
	sizes := make([]int, len(paths))
	for r := -warmup; r < rounds; r++ {
		for k := range paths {
			i := (k + r + warmup) % len(paths)
			p := paths[i]
			d, n, err := timeOne(p, pathAndQuery, accept)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", p.name, err)
			}
			if r >= 0 {
				times[i] = append(times[i], d)
				sizes[i] = n
			}
		}
	}
	return times, sizes, nil
}

func timeOne(p path, pathAndQuery, accept string) (time.Duration, int, error) {
	req, err := http.NewRequest(http.MethodGet, p.base+pathAndQuery, nil)
	if err != nil {
		return 0, 0, err
	}
	want := protobuf
	if accept == protobuf {
		req.Header.Set("Accept", protobuf+", application/json")
	} else {
		req.Header.Set("Accept", accept)
		want = accept
	}
	start := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	took := time.Since(start)
	resp.Body.Close()
	if err != nil {
		return 0, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("GET %s: %s", pathAndQuery, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, want) {
		return 0, 0, fmt.Errorf("GET %s: content type %q, want %s", pathAndQuery, ct, want)
	}
	return took, int(n), nil
}

// percentile is the nearest-rank percentile of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (p*len(s) + 99) / 100 // ceil(p/100·n)
	if rank < 1 {
		rank = 1
	}
	return s[rank-1]
}

func fmtMS(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func filepathRoot(b *testing.B) string {
	b.Helper()
	root, err := repoRoot()
	if err != nil {
		b.Fatal(err)
	}
	return root
}
