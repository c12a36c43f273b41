package pool

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/yurt-edge/yurt/pkg/coordinator"
	ct "github.com/yurt-edge/yurt/pkg/coordinator/coordinatortest"
	"github.com/yurt-edge/yurt/pkg/coordinator/election"
	"github.com/yurt-edge/yurt/pkg/coordinator/store"
	"github.com/yurt-edge/yurt/pkg/embeddedetcd"
)

// seqAnnotation numbers the benchmark's changes, so the reader can tell which one it sees.
const seqAnnotation = "bench.yurt.io/seq"

// BenchmarkLeaderPropagation measures the pool leader's path alone: a change in the cloud (a
// fake cloud on its own etcd, served through the hub's handler), the leader's reflector and
// its writes to the coordinator (a real embedded etcd with fsync on, as yurt-coordinator runs
// it), and a coordinator watch as every hub's coordinator source opens it. 200 slices of 50
// endpoints are changed once each, at 50 changes a second (the hub benchmark's churn) and
// all at once, with the leader writing one transaction per change and batched; reported: the lag from the last cloud write until the watch saw every change
// (lag-ms), and the per-change delay from its cloud write to the watch (p50-ms, p99-ms).
func BenchmarkLeaderPropagation(b *testing.B) {
	for _, tc := range []struct {
		name     string
		rate     int // changes a second; 0: as fast as the cloud takes them
		maxBatch int // 1: one transaction per change (the leader's writes before batching)
	}{
		{"rate=50/one-txn-per-change", 50, 1}, {"rate=50/batched", 50, 0},
		{"burst/one-txn-per-change", 0, 1}, {"burst/batched", 0, 0},
	} {
		b.Run(tc.name, func(b *testing.B) { benchmarkPropagation(b, tc.rate, tc.maxBatch) })
	}
}

func benchmarkPropagation(b *testing.B, rate, maxBatch int) {
	const slices, endpoints = 200, 50
	klog.SetOutput(discard{}) // reflector chatter
	coord := ct.Start(b, func(o *embeddedetcd.Options) { o.UnsafeNoFsync = false })
	cloud := newFakeCloud(b, ct.Start(b, nil))
	base := make([]*discoveryv1.EndpointSlice, slices)
	for i := range base {
		base[i] = ct.EndpointSlice("default", fmt.Sprintf("svc-%03d", i), fmt.Sprintf("svc-%03d", i), "", endpoints)
		cloud.put(b, ct.EndpointSlicesGVR, base[i])
	}
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), klog.Background()))
	defer cancel()
	leaderClient := coord.NewClient(b, testPool, "hub-1", coordinator.NewMetrics(nil))
	l, err := election.New(leaderClient, 10*time.Second).Campaign(ctx)
	if err != nil {
		b.Fatal(err)
	}
	u, _ := url.Parse(cloud.srv.URL)
	s := &Syncer{Client: leaderClient, Cloud: CloudConfig(func() *url.URL { return u }, http.DefaultTransport, "yurthub/pool-leader"),
		Resources: []schema.GroupVersionResource{ct.EndpointSlicesGVR}, MaxAge: time.Minute, maxBatch: maxBatch}
	done := make(chan struct{})
	go func() { defer close(done); s.Task()(ctx, l) }()
	defer func() { cancel(); <-done }()

	pool := store.New(coord.NewClient(b, testPool, "reader", nil), nil)
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := pool.List(ctx, ct.EndpointSlicesGVR, "")
		if err == nil && len(res.Items) == slices {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the leader's first sync did not finish: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	var lag, p50, p99 time.Duration
	seq := 0
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		w, err := pool.Watch(ctx, ct.EndpointSlicesGVR, "", 0, store.WatchOptions{Buffer: 1000})
		if err != nil {
			b.Fatal(err)
		}
		var mu sync.Mutex
		seen := map[int]time.Time{}
		last := seq + slices
		allSeen := make(chan struct{})
		go func() {
			for ev := range w.ResultChan() {
				if ev.Type != watch.Modified {
					continue
				}
				m, _ := meta.Accessor(ev.Object)
				i, err := strconv.Atoi(m.GetAnnotations()[seqAnnotation])
				if err != nil {
					continue
				}
				mu.Lock()
				seen[i] = time.Now()
				complete := len(seen) == slices
				mu.Unlock()
				if complete {
					close(allSeen)
					return
				}
			}
		}()
		written := make(map[int]time.Time, slices)
		start := time.Now()
		for i := range slices {
			if rate > 0 {
				time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
			}
			seq++
			es := base[i].DeepCopy()
			es.Annotations = map[string]string{seqAnnotation: strconv.Itoa(seq)}
			es.Endpoints[seq%endpoints].Conditions.Ready = ptr.To(seq%2 == 0)
			cloud.put(b, ct.EndpointSlicesGVR, es)
			written[seq] = time.Now()
		}
		lastWrite := time.Now()
		select {
		case <-allSeen:
		case <-time.After(2 * time.Minute):
			b.Fatalf("the coordinator watch did not see every change within 2 minutes")
		}
		w.Stop()
		mu.Lock()
		var delays []time.Duration
		var lastSeen time.Time
		for i := last - slices + 1; i <= last; i++ {
			delays = append(delays, seen[i].Sub(written[i]))
			if seen[i].After(lastSeen) {
				lastSeen = seen[i]
			}
		}
		mu.Unlock()
		sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
		lag += lastSeen.Sub(lastWrite)
		p50 += delays[len(delays)/2]
		p99 += delays[len(delays)*99/100]
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
	b.ReportMetric(ms(lag), "lag-ms")
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
