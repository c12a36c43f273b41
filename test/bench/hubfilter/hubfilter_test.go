// Package hubfilter benchmarks what ResponseFilters add to a list through bin/yurthub: the
// 1,000 EndpointSlices of 100 Services annotated `openyurt.io/topologyKeys:
// openyurt.io/nodepool` (20 endpoints each, on 10 nodes in two pools), listed through one hub
// by a component the built-in servicetopology filter applies to (kube-proxy: every slice is
// decoded, run through CEL, cut to the node's pool and re-encoded) and by one no filter
// applies to (passed through untouched), both cached by the hub, side by side in one run and
// in turns, in protobuf and JSON; directly to kube-apiserver for scale. Real kube-apiserver
// (bin/kube) and yurt-apiserver (the filter is a ResponseFilter applied with kubectl).
//
//	go test -run '^$' -bench . -benchtime 1x -timeout 20m ./test/bench/hubfilter/
//
// The report goes to _output/bench/hubfilter.md. TestMain starts the stack only when
// benchmarks were asked for, so `go test ./...` stays fast here.
package hubfilter

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/yurt-edge/yurt/apis/apps"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	yurtclient "github.com/yurt-edge/yurt/generated/clientset/versioned"
	"github.com/yurt-edge/yurt/pkg/hub/codec"
	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

const (
	numServices       = 100
	slicesPerService  = 10
	endpointsPerSlice = 20
	numNodes          = 10
	benchNS           = "bench-hubfilter"
	warmup            = 3
	rounds            = 30
	filteredUA        = "kube-proxy/v1.36.3"
	unfilteredUA      = "bench-unfiltered/v0.0.0"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run())
	}
	framework.Main(m)
}

func nodeName(i int) string { return fmt.Sprintf("bench-filter-%d", i) }

// poolOf puts the first half of the nodes in pool a, the rest in pool b.
func poolOf(i int) string {
	if i < numNodes/2 {
		return "bench-filter-a"
	}
	return "bench-filter-b"
}

func createWorkload(ctx context.Context, stack *localstack.Stack) error {
	cfg := stack.RESTConfig()
	cfg.QPS, cfg.Burst = -1, 0
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	yurt, err := yurtclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, p := range []string{poolOf(0), poolOf(numNodes - 1)} {
		np := &appsv1beta2.NodePool{ObjectMeta: metav1.ObjectMeta{Name: p}, Spec: appsv1beta2.NodePoolSpec{Type: appsv1beta2.Edge}}
		if _, err := yurt.AppsV1beta2().NodePools().Create(ctx, np, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating pool %s: %w", p, err)
		}
	}
	for i := 0; i < numNodes; i++ {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName(i), Labels: map[string]string{
			"kubernetes.io/hostname": nodeName(i), apps.NodePoolLabel: poolOf(i),
		}}}
		if _, err := kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating node %s: %w", node.Name, err)
		}
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNS}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	errs := make(chan error, numServices)
	sem := make(chan struct{}, 16)
	for s := 0; s < numServices; s++ {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			errs <- createService(ctx, kube, s)
		}()
	}
	for s := 0; s < numServices; s++ {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

func createService(ctx context.Context, kube kubernetes.Interface, s int) error {
	name := fmt.Sprintf("svc-%03d", s)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: benchNS, Annotations: map[string]string{"openyurt.io/topologyKeys": "openyurt.io/nodepool"}},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}},
	}
	if _, err := kube.CoreV1().Services(benchNS).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating service %s: %w", name, err)
	}
	for k := 0; k < slicesPerService; k++ {
		es := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%02d", name, k), Namespace: benchNS, Labels: map[string]string{
				discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: "bench.yurt",
			}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}},
		}
		for e := 0; e < endpointsPerSlice; e++ {
			es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{
				Addresses:  []string{fmt.Sprintf("10.%d.%d.%d", 100+s/250, s%250, k*endpointsPerSlice+e+1)},
				NodeName:   ptr.To(nodeName(e % numNodes)),
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			})
		}
		if _, err := kube.DiscoveryV1().EndpointSlices(benchNS).Create(ctx, es, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating endpointslice %s: %w", es.Name, err)
		}
	}
	return nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

type hubProc struct {
	dir, proxyURL, serverURL string
	proc                     *localstack.Process
}

// startHub starts bin/yurthub on loopback as node 0 (pool a). cacheAgents names the cached
// components: both measured ones or neither, so the two sides differ only in filtering.
func startHub(ctx context.Context, stack *localstack.Stack, root, id, cacheAgents string) (*hubProc, error) {
	name := nodeName(0)
	dir := filepath.Join(stack.Dir, "bench-hubfilter-"+id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cert, err := stack.PKI.NewClientCert("system:node:"+name, []string{"system:nodes"})
	if err != nil {
		return nil, err
	}
	certFile, keyFile := filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key")
	if err := cert.Write(certFile, keyFile); err != nil {
		return nil, err
	}
	proxyAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	serverAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{
		"--server-addr=" + stack.KubeAPIServerURL, "--node-name=" + name, "--nodepool=" + poolOf(0),
		"--certificate-authority=" + stack.PKI.CA.CertFile, "--client-certificate=" + certFile, "--client-key=" + keyFile,
		"--cache-dir=" + filepath.Join(dir, "cache"), "--proxy-address=" + proxyAddr, "--server-address=" + serverAddr,
		"--cache-agents=" + cacheAgents, "--heartbeat-timeout=5s", "-v=1",
	}
	proc, err := localstack.StartProcess("yurthub-bench-filter-"+id, filepath.Join(root, "bin", "yurthub"), args, stack.LogFile("yurthub-bench-filter-"+id))
	if err != nil {
		return nil, err
	}
	h := &hubProc{dir: dir, proxyURL: "http://" + proxyAddr, serverURL: "http://" + serverAddr, proc: proc}
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(h.serverURL + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.HasPrefix(string(body), "ok: cloud healthy") {
				return h, nil
			}
		}
		select {
		case <-proc.Done():
			return nil, fmt.Errorf("yurthub exited: %v\n%s", proc.ExitError(), localstack.TailFile(proc.LogFile, 30))
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = proc.Stop(10 * time.Second)
			return nil, fmt.Errorf("yurthub not ready:\n%s", localstack.TailFile(proc.LogFile, 30))
		}
	}
}

type side struct {
	name   string
	client *http.Client
	base   string
	ua     string
}

// fetch lists the slices and returns the time to the last byte, the body, and its type.
func fetch(s side, pathAndQuery string, protobuf bool) (time.Duration, []byte, string, error) {
	req, err := http.NewRequest(http.MethodGet, s.base+pathAndQuery, nil)
	if err != nil {
		return 0, nil, "", err
	}
	req.Header.Set("User-Agent", s.ua)
	if protobuf {
		req.Header.Set("Accept", codec.MediaTypeProtobuf+", application/json")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	resp.Body.Close()
	if err != nil {
		return 0, nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, nil, "", fmt.Errorf("%s: GET %s: %s: %s", s.name, pathAndQuery, resp.Status, body)
	}
	return took, body, resp.Header.Get("Content-Type"), nil
}

// endpoints counts the items and endpoints of a list body.
func endpoints(body []byte, ct string) (items, eps int, err error) {
	list, err := codec.DecodeList(body, ct)
	if err != nil {
		return 0, 0, err
	}
	for _, it := range list.Items {
		e, _ := it.Object["endpoints"].([]any)
		eps += len(e)
	}
	return len(list.Items), eps, nil
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (p*len(s) + 99) / 100
	if rank < 1 {
		rank = 1
	}
	return s[rank-1]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

type result struct {
	times [][]time.Duration
	sizes []int
	// cpu is the hub's CPU time (user+system) spent during each side's requests, in total.
	cpu []time.Duration
}

// cpuTime is a process's user+system CPU time so far (/proc/<pid>/stat, clock ticks of 10ms).
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command (which may hold spaces) start after the last ')'.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	var utime, stime int64
	if _, err := fmt.Sscan(fields[11], &utime); err != nil {
		return 0, err
	}
	if _, err := fmt.Sscan(fields[12], &stime); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

func sidesFor(direct *http.Client, apiURL string, hub *hubProc) []side {
	hubClient := &http.Client{Timeout: 2 * time.Minute}
	return []side{
		{"direct to kube-apiserver", direct, apiURL, filteredUA},
		{"hub, unfiltered (no filter matches)", hubClient, hub.proxyURL, unfilteredUA},
		{"hub, filtered (servicetopology)", hubClient, hub.proxyURL, filteredUA},
	}
}

// waitFiltered waits until the hub has loaded the filter and the Services through its own
// informers: the filtered side really is filtered (half the endpoints are in the other pool).
func waitFiltered(b *testing.B, s side, listPath string) {
	b.Helper()
	total := numServices * slicesPerService * endpointsPerSlice
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, body, ct, err := fetch(s, listPath, true)
		if err != nil {
			b.Fatal(err)
		}
		items, eps, err := endpoints(body, ct)
		if err != nil {
			b.Fatal(err)
		}
		if items == numServices*slicesPerService && eps == total/2 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the filtered list has %d slices and %d endpoints, want %d and %d", items, eps, numServices*slicesPerService, total/2)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// measure lists on every side, warmup then rounds times, the sides taking turns with the
// first side rotating each round.
func measure(b *testing.B, sides []side, listPath string, pb bool, hubPid int) *result {
	b.Helper()
	r := &result{times: make([][]time.Duration, len(sides)), sizes: make([]int, len(sides)), cpu: make([]time.Duration, len(sides))}
	for round := -warmup; round < rounds; round++ {
		for k := range sides {
			i := (k + round + warmup) % len(sides)
			cpu0, err := cpuTime(hubPid)
			if err != nil {
				b.Fatal(err)
			}
			d, body, ct, err := fetch(sides[i], listPath, pb)
			if err != nil {
				b.Fatal(err)
			}
			cpu1, err := cpuTime(hubPid)
			if err != nil {
				b.Fatal(err)
			}
			if round >= 0 {
				r.cpu[i] += cpu1 - cpu0
			}
			if codec.IsProtobuf(ct) != pb {
				b.Fatalf("%s: content type %s", sides[i].name, ct)
			}
			if round >= 0 {
				r.times[i] = append(r.times[i], d)
				r.sizes[i] = len(body)
			}
		}
	}
	return r
}

// BenchmarkHubFilteredList: see the package comment.
func BenchmarkHubFilteredList(b *testing.B) {
	stack := framework.Stack(b)
	ctx := context.Background()
	root := framework.RepoPath(b)
	for _, f := range []string{filepath.Join(root, "artifacts", "deploy", "21-yurthub-rbac.yaml"), filepath.Join(root, "artifacts", "filters", "servicetopology.yaml")} {
		if out, err := framework.Kubectl(b, "apply", "-f", f); err != nil {
			b.Fatalf("kubectl apply -f %s: %v\n%s", f, err, out)
		}
	}
	start := time.Now()
	if err := createWorkload(ctx, stack); err != nil {
		b.Fatal(err)
	}
	b.Logf("created %d services, %d endpointslices of %d endpoints in %s", numServices, numServices*slicesPerService, endpointsPerSlice, time.Since(start).Round(time.Millisecond))
	type config struct {
		name, id, cacheAgents string
		hub                   *hubProc
		results               map[bool]*result
	}
	configs := []*config{
		{name: "neither side cached (the filter's cost alone)", id: "uncached", cacheAgents: "kubelet"},
		{name: "both sides cached (the hub also writes each response to its disk cache)", id: "cached", cacheAgents: "kube-proxy,bench-unfiltered"},
	}
	for _, c := range configs {
		hub, err := startHub(ctx, stack, root, c.id, c.cacheAgents)
		if err != nil {
			b.Fatal(err)
		}
		c.hub = hub
		b.Cleanup(func() { _ = hub.proc.Stop(10 * time.Second) })
	}
	directCfg := &rest.Config{Host: stack.KubeAPIServerURL, QPS: -1, TLSClientConfig: rest.TLSClientConfig{
		CAFile: stack.PKI.CA.CertFile, CertFile: filepath.Join(configs[0].hub.dir, "node.crt"), KeyFile: filepath.Join(configs[0].hub.dir, "node.key"),
	}}
	directClient, err := rest.HTTPClientFor(directCfg)
	if err != nil {
		b.Fatal(err)
	}
	listPath := "/apis/discovery.k8s.io/v1/namespaces/" + benchNS + "/endpointslices"
	for b.Loop() {
		for _, c := range configs {
			sides := sidesFor(directClient, stack.KubeAPIServerURL, c.hub)
			waitFiltered(b, sides[2], listPath)
			c.results = map[bool]*result{}
			for _, pb := range []bool{true, false} {
				c.results[pb] = measure(b, sides, listPath, pb, c.hub.proc.Pid())
			}
			select {
			case <-c.hub.proc.Done():
				b.Fatalf("yurthub exited: %v", c.hub.proc.ExitError())
			default:
			}
			// Let the cached hub's writes finish before the next configuration runs.
			time.Sleep(3 * time.Second)
		}
	}

	var sb strings.Builder
	fmt.Fprintf(&sb, "# Hub ResponseFilter benchmark\n\n%s, %s/%s, %d CPUs, %s.\n", time.Now().UTC().Format(time.RFC3339),
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	sb.WriteString("`go test -run '^$' -bench . -benchtime 1x -timeout 20m ./test/bench/hubfilter/` (test/bench/hubfilter).\n\n")
	fmt.Fprintf(&sb, "A list of %d EndpointSlices (%d Services annotated `openyurt.io/topologyKeys: openyurt.io/nodepool`, %d endpoints per slice on %d nodes in two pools) "+
		"through bin/yurthub (node %s, pool %s) with the built-in servicetopology ResponseFilter applied with kubectl. "+
		"\"filtered\" is kube-proxy's User-Agent: every slice is decoded, run through the CEL filter (half its endpoints are in the other pool and go) and re-encoded. "+
		"\"unfiltered\" is a component no filter matches: the same path, passed through untouched. Two hubs: one caches neither component, one caches both (--cache-agents), so in each the sides differ only in filtering. "+
		"Time to the last byte; %d rounds after %d warm-up rounds, the sides taking turns (first side rotating). The machine's 2 cores are shared with other work: the ratios are the point.\n\n",
		numServices*slicesPerService, numServices, endpointsPerSlice, numNodes, nodeName(0), poolOf(0), rounds, warmup)
	for _, c := range configs {
		fmt.Fprintf(&sb, "### %s\n\n", c.name)
		sb.WriteString("| encoding | path | body | p50 | p99 | added p50 vs unfiltered | filtered/unfiltered p50 | p99 ratio | hub CPU per list |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, pb := range []bool{true, false} {
			r := c.results[pb]
			enc := map[bool]string{true: "protobuf", false: "JSON"}[pb]
			u50, u99 := percentile(r.times[1], 50), percentile(r.times[1], 99)
			for i, s := range sidesFor(nil, "", c.hub) {
				p50, p99 := percentile(r.times[i], 50), percentile(r.times[i], 99)
				added, ratio, ratio99 := "", "", ""
				if i == 2 {
					added = ms(p50 - u50)
					ratio = fmt.Sprintf("%.2f×", float64(p50)/float64(u50))
					ratio99 = fmt.Sprintf("%.2f×", float64(p99)/float64(u99))
					b.ReportMetric(float64(p50)/float64(u50), c.id+"-"+enc+"-filtered/unfiltered-p50")
					b.ReportMetric(float64(p50-u50)/1e6, c.id+"-"+enc+"-added-p50-ms")
				}
				cpu := ""
				if i > 0 {
					cpu = ms(r.cpu[i] / rounds)
				}
				fmt.Fprintf(&sb, "| %s | %s | %.1f KiB | %s | %s | %s | %s | %s | %s |\n", enc, s.name, float64(r.sizes[i])/1024, ms(p50), ms(p99), added, ratio, ratio99, cpu)
			}
		}
		sb.WriteString("\n")
	}
	sb.WriteString("\"hub CPU per list\" is the hub process's user+system CPU time during the requests of that side (from /proc, 10 ms ticks, averaged over the rounds); " +
		"it does not depend on how busy the machine is, unlike the latencies (load average was far above the 2 cores while this ran). " +
		"With caching, the disk cache's writes of one response run in the background and may be counted against the next request, whichever side it is. " +
		"The filtered body is smaller (half the endpoints are gone), which the client gains back when decoding.\n")
	dir := filepath.Join(root, "_output", "bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hubfilter.md"), []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Log("\n" + sb.String())
}
