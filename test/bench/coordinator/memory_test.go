package coordinator_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/yurt-edge/yurt/pkg/coordinator"
	ct "github.com/yurt-edge/yurt/pkg/coordinator/coordinatortest"
	"github.com/yurt-edge/yurt/pkg/coordinator/lease"
	"github.com/yurt-edge/yurt/pkg/coordinator/store"
	"github.com/yurt-edge/yurt/pkg/procstatus"
)

const (
	memServices     = 1000
	memEndpoints    = 50
	memNodes        = 500
	memLeaseEvery   = 10 * time.Second
	memWatchers     = 20 // hubs of the pool watching endpointslices
	memChurnWriters = 4
	// memChurnRate is the default churn: 200 slice rewrites a second, every slice every 5s.
	memChurnRate = 200
	// memRetention is the default auto-compaction retention: 5 minutes of history,
	// time-compressed 10× like the churn.
	memRetention = "30s"
	memWindow    = 30 * time.Second
)

// BenchmarkCoordinatorMemory runs one embedded etcd member as a child process
// (bin/yurt-coordinator when built, else the tiny etcdmember main around pkg/embeddedetcd; fsync
// on, periodic auto-compaction) and measures its
// RSS while it holds 500 node leases renewed every 10s, 1,000 services and 1,000 EndpointSlices
// of 50 endpoints watched by 20 hubs, then while 4 writers rewrite the slices at
// YURT_BENCH_COORDINATOR_CHURN_RATE writes/s (default 200; 0 = as fast as they can) for
// YURT_BENCH_COORDINATOR_CHURN (default 2m), then after an explicit compaction and
// defragmentation. It runs two configurations: 30s of history kept (5 minutes compressed 10×)
// and nothing else; and 10s of history with the benchmark checking every 30s and defragmenting
// when less than half of the database file is in use (standing in for yurt-coordinator's
// periodic defragmentation). YURT_BENCH_COORDINATOR_RETENTION and YURT_BENCH_COORDINATOR_DEFRAG
// (the check interval) run one other configuration instead.
func BenchmarkCoordinatorMemory(b *testing.B) {
	churn, rate := 2*time.Minute, memChurnRate
	if v := os.Getenv("YURT_BENCH_COORDINATOR_CHURN_RATE"); v != "" {
		r, err := strconv.Atoi(v)
		if err != nil || r < 0 {
			b.Fatalf("YURT_BENCH_COORDINATOR_CHURN_RATE=%q: want writes per second, 0 for unlimited", v)
		}
		rate = r
	}
	configs := []memConfig{{retention: memRetention}, {retention: "10s", defrag: 30 * time.Second}}
	if v := os.Getenv("YURT_BENCH_COORDINATOR_CHURN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("YURT_BENCH_COORDINATOR_CHURN=%q: %v", v, err)
		}
		churn = d
	}
	if r, d := os.Getenv("YURT_BENCH_COORDINATOR_RETENTION"), os.Getenv("YURT_BENCH_COORDINATOR_DEFRAG"); r != "" || d != "" {
		cfg := memConfig{retention: memRetention}
		if r != "" {
			cfg.retention = r
		}
		if d != "" {
			parsed, err := time.ParseDuration(d)
			if err != nil {
				b.Fatalf("YURT_BENCH_COORDINATOR_DEFRAG=%q: %v", d, err)
			}
			cfg.defrag = parsed
		}
		configs = []memConfig{cfg}
	}
	for i, cfg := range configs {
		cfg.churn, cfg.rate, cfg.index = churn, rate, i
		b.Run(fmt.Sprintf("retention=%s,defrag=%s", cfg.retention, cfg.defrag), func(b *testing.B) {
			for n := 0; n < b.N; n++ {
				runMemory(b, cfg)
			}
		})
	}
}

type memConfig struct {
	churn, defrag time.Duration
	retention     string
	rate          int // churn writes per second, 0 = unlimited
	index         int // order in the report
}

type sample struct {
	phase                     string
	at                        time.Duration
	rss, hwm, anon, file      int64 // bytes
	dbSize, dbInUse, revision int64
}

func runMemory(b *testing.B, cfg memConfig) {
	churn := cfg.churn
	root, err := repoRoot()
	if err != nil {
		b.Fatal(err)
	}
	tmp := b.TempDir()
	port, err := freePort()
	if err != nil {
		b.Fatal(err)
	}
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	m := startMember(b, root, tmp, endpoint, cfg.retention)
	member := m.cmd

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := coordinator.NewOptions()
	o.Endpoints, o.Pool, o.Identity = []string{endpoint}, "bench-pool", "leader"
	client, err := coordinator.New(o, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()

	// Sampling of the member's memory and database.
	var mu sync.Mutex
	var samples []sample
	phase := "start"
	setPhase := func(p string) { mu.Lock(); phase = p; mu.Unlock() }
	begin := time.Now()
	sampleNow := func() {
		s, err := readStatus(member.Process.Pid)
		if err != nil {
			return
		}
		sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
		if st, err := client.Etcd.Status(sctx, endpoint); err == nil {
			s.dbSize, s.dbInUse, s.revision = st.DbSize, st.DbSizeInUse, st.Header.Revision
		}
		scancel()
		mu.Lock()
		s.phase, s.at = phase, time.Since(begin)
		samples = append(samples, s)
		mu.Unlock()
	}
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				sampleNow()
			}
		}
	}()
	time.Sleep(2 * time.Second)

	// Load: the pool's objects and leases.
	setPhase("load")
	objects := store.New(client, nil)
	services := make([]runtime.Object, 0, memServices)
	slices := make([]*discoveryv1.EndpointSlice, 0, memServices)
	sliceObjs := make([]runtime.Object, 0, memServices)
	for i := 0; i < memServices; i++ {
		ns, name := fmt.Sprintf("ns-%d", i%20), fmt.Sprintf("svc-%04d", i)
		services = append(services, ct.Service(ns, name, strconv.Itoa(i+1)))
		s := ct.EndpointSlice(ns, name+"-abcde", name, strconv.Itoa(memServices+i+1), memEndpoints)
		slices = append(slices, s)
		sliceObjs = append(sliceObjs, s)
	}
	loadStart := time.Now()
	if _, err := objects.Replace(ctx, ct.ServicesGVR, services, "1000"); err != nil {
		b.Fatal(err)
	}
	if _, err := objects.Replace(ctx, ct.EndpointSlicesGVR, sliceObjs, "2000"); err != nil {
		b.Fatal(err)
	}
	leases := lease.New(client, 0)
	for i := 0; i < memNodes; i++ {
		if _, err := leases.Renew(ctx, ct.Lease(fmt.Sprintf("node-%03d", i), "1", time.Now()), i%10 == 0); err != nil {
			b.Fatal(err)
		}
	}
	loadTime := time.Since(loadStart)
	var renewals, renewErrors atomic.Int64
	bg.Add(1)
	go func() { // every lease renewed every 10s, spread evenly
		defer bg.Done()
		t := time.NewTicker(memLeaseEvery / memNodes)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if _, err := leases.Renew(ctx, ct.Lease(fmt.Sprintf("node-%03d", i%memNodes), "1", time.Now()), i%10 == 0); err != nil {
				if ctx.Err() == nil {
					renewErrors.Add(1)
				}
				continue
			}
			renewals.Add(1)
		}
	}()
	list, err := objects.List(ctx, ct.EndpointSlicesGVR, "")
	if err != nil || len(list.Items) != memServices {
		b.Fatalf("listing slices: %v", err)
	}
	var events, watchErrs atomic.Int64
	for w := 0; w < memWatchers; w++ {
		wc, err := coordinator.New(o, nil) // each hub has its own connection
		if err != nil {
			b.Fatal(err)
		}
		defer wc.Close()
		watcher, err := store.New(wc, nil).Watch(ctx, ct.EndpointSlicesGVR, "", list.Revision, store.WatchOptions{})
		if err != nil {
			b.Fatal(err)
		}
		bg.Add(1)
		go func() {
			defer bg.Done()
			for range watcher.ResultChan() {
				events.Add(1)
			}
			if err := watcher.Err(); err != nil {
				watchErrs.Add(1)
			}
		}()
	}

	setPhase("steady")
	time.Sleep(3 * memLeaseEvery)

	// Churn: every slice rewritten again and again, each time with a new resourceVersion and
	// one endpoint flipped, as endpoint churn does.
	setPhase("churn")
	var writes, writeErrs atomic.Int64
	churnStart := time.Now()
	deadline := churnStart.Add(churn)
	var rv atomic.Int64
	rv.Store(10000)
	var cw sync.WaitGroup
	windowDone := make(chan struct{})
	go func() { // phase names per window, so the report shows growth or flatness
		defer close(windowDone)
		for w := 1; time.Now().Before(deadline); w++ {
			setPhase(fmt.Sprintf("churn %02d", w))
			select {
			case <-time.After(time.Until(minTime(deadline, time.Now().Add(memWindow)))):
			case <-ctx.Done():
				return
			}
		}
	}()
	for w := 0; w < memChurnWriters; w++ {
		cw.Add(1)
		go func(w int) {
			defer cw.Done()
			var tick <-chan time.Time
			if cfg.rate > 0 {
				t := time.NewTicker(time.Second * memChurnWriters / time.Duration(cfg.rate))
				defer t.Stop()
				tick = t.C
			}
			for pass := 0; time.Now().Before(deadline); pass++ {
				for i := w; i < len(slices) && time.Now().Before(deadline); i += memChurnWriters {
					if tick != nil {
						<-tick
					}
					s := slices[i]
					s.ResourceVersion = strconv.FormatInt(rv.Add(1), 10)
					ready := pass%2 == 0
					s.Endpoints[pass%memEndpoints].Conditions.Ready = &ready
					if _, err := objects.Put(ctx, ct.EndpointSlicesGVR, s); err != nil {
						writeErrs.Add(1)
						continue
					}
					writes.Add(1)
				}
			}
		}(w)
	}
	var defrags, defragErrs atomic.Int64
	if cfg.defrag > 0 {
		cw.Add(1)
		go func() {
			defer cw.Done()
			for time.Until(deadline) > cfg.defrag {
				time.Sleep(cfg.defrag)
				dctx, dcancel := context.WithTimeout(ctx, time.Minute)
				// Defragmenting copies the database; only worth it when most of the file is free.
				if st, err := client.Etcd.Status(dctx, endpoint); err == nil && st.DbSize > 2*st.DbSizeInUse {
					if _, err := client.Etcd.Defragment(dctx, endpoint); err != nil {
						defragErrs.Add(1)
					} else {
						defrags.Add(1)
					}
				}
				dcancel()
			}
		}()
	}
	cw.Wait()
	<-windowDone
	churnTime := time.Since(churnStart)

	setPhase("after churn")
	time.Sleep(15 * time.Second)
	setPhase("compact+defrag")
	st, err := client.Etcd.Status(ctx, endpoint)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := client.Etcd.Compact(ctx, st.Header.Revision, clientv3.WithCompactPhysical()); err != nil && !strings.Contains(err.Error(), "compacted") {
		b.Fatalf("compacting: %v", err)
	}
	dctx, dcancel := context.WithTimeout(ctx, 2*time.Minute)
	if _, err := client.Etcd.Defragment(dctx, endpoint); err != nil {
		b.Fatalf("defragmenting: %v", err)
	}
	dcancel()
	setPhase("after compaction")
	time.Sleep(15 * time.Second)
	sampleNow()
	cancel()
	bg.Wait()

	// Watchers see every write (or end with a compaction error if they fell behind).
	var md strings.Builder
	fmt.Fprintf(&md, "## Coordinator memory under churn: retention %s, defragmentation %s\n\n", cfg.retention, orNone(cfg.defrag))
	fmt.Fprintf(&md, "One embedded etcd member, a child process (%s; fsync on; "+
		"periodic auto-compaction keeping %s of history (30s stands for 5 minutes, time-compressed 10× like the churn); 2 GiB quota) holding %d node leases "+
		"renewed every %s (TTL 40s, one in ten delegated), %d services and %d EndpointSlices of %d endpoints, watched by %d hub "+
		"connections. Load took %s. Churn: %d writers rewrote slices (target %s) for %s: %d writes (%.0f/s, every slice %.0f times; %d errors), "+
		"%d watch events delivered, %d watches ended with an error, %d lease renewals (%d errors).\n\n",
		m.name, cfg.retention, memNodes, memLeaseEvery, memServices, memServices, memEndpoints, memWatchers, loadTime.Round(time.Millisecond),
		memChurnWriters, rateText(cfg.rate), churnTime.Round(time.Second), writes.Load(), float64(writes.Load())/churnTime.Seconds(),
		float64(writes.Load())/memServices, writeErrs.Load(), events.Load(), watchErrs.Load(), renewals.Load(), renewErrors.Load())
	if cfg.defrag > 0 {
		fmt.Fprintf(&md, "During the churn the benchmark checked every %s and defragmented when less than half the database file was in use (%d times, %d errors), as yurt-coordinator's periodic defragmentation would.\n\n",
			cfg.defrag, defrags.Load(), defragErrs.Load())
	}
	md.WriteString("RSS splits into anonymous memory (Go heap, etcd's in-memory index) and file-backed pages: the bbolt database is mmapped, " +
		"so every page of the database file read since start counts, and they are clean pages the kernel can reclaim under memory pressure.\n\n")
	md.WriteString("| phase | samples | peak RSS MiB | anon MiB at peak | file MiB at peak | RSS at end MiB | db size MiB | db in use MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	mu.Lock()
	var order []string
	byPhase := map[string][]sample{}
	var hwm int64
	for _, s := range samples {
		if _, ok := byPhase[s.phase]; !ok {
			order = append(order, s.phase)
		}
		byPhase[s.phase] = append(byPhase[s.phase], s)
		if s.hwm > hwm {
			hwm = s.hwm
		}
	}
	mu.Unlock()
	var steadyPeak, churnPeak, afterCompaction float64
	for _, p := range order {
		ss := byPhase[p]
		peak := ss[0]
		for _, s := range ss {
			if s.rss > peak.rss {
				peak = s
			}
		}
		last := ss[len(ss)-1]
		fmt.Fprintf(&md, "| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", p, len(ss), mib(peak.rss), mib(peak.anon), mib(peak.file),
			mib(last.rss), mib(last.dbSize), mib(last.dbInUse))
		switch {
		case p == "steady":
			steadyPeak = mib(peak.rss)
		case strings.HasPrefix(p, "churn"):
			churnPeak = max(churnPeak, mib(peak.rss))
		case p == "after compaction":
			afterCompaction = mib(last.rss)
		}
	}
	fmt.Fprintf(&md, "\nPeak RSS over the whole run (VmHWM): %.1f MiB. Anchor: OpenYurt's coordinator, 370 MB idle, 450 MB with 500 nodes + 1000 pods, OOM under churn.\n", mib(hwm))
	section := fmt.Sprintf("2-memory-%d", cfg.index)
	addSection(section, md.String())
	b.ReportMetric(steadyPeak, "steady-peak-MiB")
	b.ReportMetric(churnPeak, "churn-peak-MiB")
	b.ReportMetric(afterCompaction, "after-compaction-MiB")
	b.ReportMetric(mib(hwm), "hwm-MiB")
	b.ReportMetric(float64(writes.Load())/churnTime.Seconds(), "churn-writes/s")
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// member is a running coordinator process.
type member struct {
	cmd  *exec.Cmd
	name string // what runs: bin/yurt-coordinator or etcdmember
}

// startMember starts bin/yurt-coordinator when it exists and takes the flags the benchmark
// needs, the etcdmember main otherwise (or when the coordinator does not come up); stopped when b ends.
func startMember(b *testing.B, root, tmp, endpoint, retention string) *member {
	b.Helper()
	args := func(dataDir string) []string {
		return []string{"--data-dir", dataDir, "--listen-client-urls", endpoint,
			"--auto-compaction-mode", "periodic", "--auto-compaction-retention", retention}
	}
	if coord := filepath.Join(root, "bin", "yurt-coordinator"); usable(coord) {
		a := append(args(filepath.Join(tmp, "coordinator-data")), "--pool", "bench-pool")
		cmd, err := startProcess(b, coord, a, endpoint, filepath.Join(tmp, "coordinator.log"))
		if err == nil {
			return &member{cmd: cmd, name: "bin/yurt-coordinator"}
		}
		b.Logf("bin/yurt-coordinator did not start (%v); using the etcdmember main", err)
	}
	bin := filepath.Join(tmp, "etcdmember")
	build := exec.Command("go", "build", "-o", bin, "./test/bench/coordinator/etcdmember")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building etcdmember: %v\n%s", err, out)
	}
	cmd, err := startProcess(b, bin, append(args(filepath.Join(tmp, "data")), "--log-level", "warn"), endpoint, filepath.Join(tmp, "member.log"))
	if err != nil {
		b.Fatal(err)
	}
	return &member{cmd: cmd, name: "test/bench/coordinator/etcdmember (pkg/embeddedetcd; bin/yurt-coordinator was not available)"}
}

// usable reports whether a coordinator binary exists and has every flag the benchmark passes.
func usable(bin string) bool {
	if _, err := os.Stat(bin); err != nil {
		return false
	}
	out, _ := exec.Command(bin, "--help").CombinedOutput()
	for _, f := range []string{"--data-dir", "--listen-client-urls", "--auto-compaction-mode", "--auto-compaction-retention", "--pool"} {
		if !strings.Contains(string(out), f) {
			return false
		}
	}
	return true
}

// startProcess starts bin and waits until endpoint answers a status request. The process is
// killed with the benchmark process (Pdeathsig) and stopped when b ends.
func startProcess(b *testing.B, bin string, args []string, endpoint, logFile string) (*exec.Cmd, error) {
	b.Helper()
	logf, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = logf.Close()
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		stop()
		return nil, err
	}
	defer cli.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case <-exited:
			stop()
			return nil, fmt.Errorf("%s exited before it served; see %s", bin, logFile)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Status(ctx, endpoint)
		cancel()
		if err == nil {
			b.Cleanup(stop)
			return cmd, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("%s not serving %s after a minute: %v; see %s", bin, endpoint, err, logFile)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// readStatus reads a process's memory figures from /proc.
func readStatus(pid int) (sample, error) {
	m, err := procstatus.Read(pid)
	return sample{rss: m.RSS, hwm: m.Peak, anon: m.Anon, file: m.File}, err
}

func orNone(d time.Duration) string {
	if d == 0 {
		return "none during the churn"
	}
	return "when fragmented (checked every " + d.String() + ")"
}

func rateText(r int) string {
	if r == 0 {
		return "as fast as possible"
	}
	return fmt.Sprintf("%d writes/s", r)
}
