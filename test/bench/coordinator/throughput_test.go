package coordinator_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/yurt-edge/yurt/pkg/coordinator"
	ct "github.com/yurt-edge/yurt/pkg/coordinator/coordinatortest"
	"github.com/yurt-edge/yurt/pkg/coordinator/store"
)

const (
	benchSlices    = 1000
	benchEndpoints = 50
	// rounds per benchmark iteration; the median is reported, so one -benchtime 1x run is stable enough.
	benchRounds = 7
)

// throughput is objects per second of one operation, for each way of doing it.
type throughput struct {
	op                      string
	library, plain, plainPB float64 // plainPB: plain clientv3 plus protobuf (un)marshalling; 0 = not applicable
}

// BenchmarkPoolObjects compares the library (store.Put/List/Watch) with the same operations on
// a plain clientv3 client against the same in-process embedded etcd (fsync off, so the
// client-side cost is as visible as it can be): 1,000 EndpointSlices of 50 endpoints each.
func BenchmarkPoolObjects(b *testing.B) {
	e := ct.Start(b, nil)
	ctx := context.Background()
	lib := store.New(e.NewClient(b, "bench-lib", "bench", nil), nil)
	plain := e.NewEtcdClient(b)
	gvr := ct.EndpointSlicesGVR
	slices := make([]*discoveryv1.EndpointSlice, benchSlices)
	for i := range slices {
		slices[i] = ct.EndpointSlice(fmt.Sprintf("ns-%d", i%20), fmt.Sprintf("svc-%04d-abcde", i), fmt.Sprintf("svc-%04d", i), "1", benchEndpoints)
	}
	raw, _ := slices[0].Marshal()
	plainKey := func(s *discoveryv1.EndpointSlice) string {
		return coordinator.ObjectKey("bench-plain", gvr, s.Namespace, s.Name)
	}
	setRV := func(round int) {
		for i, s := range slices {
			s.ResourceVersion = fmt.Sprint(round*benchSlices + i + 1)
		}
	}
	results := map[string][]throughput{}
	add := func(t throughput) { results[t.op] = append(results[t.op], t) }

	round := 0
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for r := 0; r < benchRounds; r++ {
			round++
			setRV(round)
			// Writes, one writer and 16 concurrent writers.
			for _, writers := range []int{1, 16} {
				libRate := rate(benchSlices, func() { parallel(writers, slices, func(s *discoveryv1.EndpointSlice) { mustPut(b, lib, s) }) })
				plainRate := rate(benchSlices, func() {
					parallel(writers, slices, func(s *discoveryv1.EndpointSlice) {
						v, err := s.Marshal()
						if err != nil {
							b.Fatal(err)
						}
						if _, err := plain.Put(ctx, plainKey(s), string(v)); err != nil {
							b.Fatal(err)
						}
					})
				})
				add(throughput{op: fmt.Sprintf("put, %d writer(s)", writers), library: libRate, plain: plainRate})
			}
			// Lists of the whole resource.
			var libList *store.ListResult
			libRate := rate(benchSlices, func() {
				var err error
				if libList, err = lib.List(ctx, gvr, ""); err != nil || len(libList.Items) != benchSlices {
					b.Fatalf("library list: %d items, %v", len(libList.Items), err)
				}
			})
			plainRate := rate(benchSlices, func() { plainGet(b, plain, false) })
			plainPBRate := rate(benchSlices, func() { plainGet(b, plain, true) })
			add(throughput{op: "list (1,000 objects)", library: libRate, plain: plainRate, plainPB: plainPBRate})
			// Watch: replay the 1,000 writes of this round from history, as a hub does after a list.
			round++
			setRV(round)
			libStart := writeAll(slices, func(s *discoveryv1.EndpointSlice) int64 { return mustPut(b, lib, s) })
			plainStart := writeAll(slices, func(s *discoveryv1.EndpointSlice) int64 {
				v, _ := s.Marshal()
				resp, err := plain.Put(ctx, plainKey(s), string(v))
				if err != nil {
					b.Fatal(err)
				}
				return resp.Header.Revision
			})
			libRate = rate(benchSlices, func() { libWatch(b, lib, libStart-1) })
			plainRate = rate(benchSlices, func() { plainWatch(b, plain, plainStart, false) })
			plainPBRate = rate(benchSlices, func() { plainWatch(b, plain, plainStart, true) })
			add(throughput{op: "watch replay (1,000 events)", library: libRate, plain: plainRate, plainPB: plainPBRate})
		}
	}
	b.StopTimer()

	var md strings.Builder
	fmt.Fprintf(&md, "## Pool objects: library vs plain clientv3\n\n")
	fmt.Fprintf(&md, "%d EndpointSlices × %d endpoints (%d bytes each as protobuf), in-process embedded etcd (fsync off), "+
		"median of %d rounds. *plain* = clientv3 with raw protobuf bytes (`Marshal` for puts, no decoding for reads); "+
		"*plain+pb* = plain plus `Unmarshal` of every value, the least any user of the objects must do. "+
		"Library watches decode every event and check it against its key; plain watches also ask for the previous value (same etcd request).\n\n",
		benchSlices, benchEndpoints, len(raw), benchRounds)
	md.WriteString("| operation | library obj/s | plain obj/s | plain+pb obj/s | library / plain | library / plain+pb |\n|---|---:|---:|---:|---:|---:|\n")
	ops := make([]string, 0, len(results))
	for op := range results {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		t := median(results[op])
		pb, pbRatio := "–", "–"
		if t.plainPB > 0 {
			pb, pbRatio = fmt.Sprintf("%.0f", t.plainPB), fmt.Sprintf("%.2f", t.library/t.plainPB)
		}
		fmt.Fprintf(&md, "| %s | %.0f | %.0f | %s | %.2f | %s |\n", op, t.library, t.plain, pb, t.library/t.plain, pbRatio)
		key := strings.NewReplacer(" ", "-", ",", "", "(", "", ")", "").Replace(op)
		b.ReportMetric(t.library, "lib-"+key+"-obj/s")
		b.ReportMetric(t.library/t.plain, "lib/plain-"+key)
	}
	addSection("1-throughput", md.String())
}

func rate(n int, f func()) float64 {
	start := time.Now()
	f()
	return float64(n) / time.Since(start).Seconds()
}

func median(ts []throughput) throughput {
	pick := func(get func(throughput) float64) float64 {
		v := make([]float64, len(ts))
		for i, t := range ts {
			v[i] = get(t)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	return throughput{op: ts[0].op,
		library: pick(func(t throughput) float64 { return t.library }),
		plain:   pick(func(t throughput) float64 { return t.plain }),
		plainPB: pick(func(t throughput) float64 { return t.plainPB })}
}

func parallel(workers int, slices []*discoveryv1.EndpointSlice, f func(*discoveryv1.EndpointSlice)) {
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(slices); i += workers {
				f(slices[i])
			}
		}(w)
	}
	wg.Wait()
}

// writeAll writes every slice and returns the revision of the first write.
func writeAll(slices []*discoveryv1.EndpointSlice, put func(*discoveryv1.EndpointSlice) int64) (first int64) {
	for i, s := range slices {
		if rev := put(s); i == 0 {
			first = rev
		}
	}
	return first
}

func mustPut(b *testing.B, s *store.Store, obj runtime.Object) int64 {
	rev, err := s.Put(context.Background(), ct.EndpointSlicesGVR, obj)
	if err != nil {
		b.Fatal(err)
	}
	return rev
}

func plainGet(b *testing.B, cli *clientv3.Client, decode bool) {
	resp, err := cli.Get(context.Background(), coordinator.ObjectsPrefix("bench-plain", ct.EndpointSlicesGVR, ""), clientv3.WithPrefix())
	if err != nil || len(resp.Kvs) != benchSlices {
		b.Fatalf("plain get: %v", err)
	}
	if decode {
		for _, kv := range resp.Kvs {
			var s discoveryv1.EndpointSlice
			if err := s.Unmarshal(kv.Value); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func libWatch(b *testing.B, s *store.Store, from int64) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := s.Watch(ctx, ct.EndpointSlicesGVR, "", from, store.WatchOptions{Buffer: 1000})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	for n := 0; n < benchSlices; n++ {
		if _, ok := <-w.ResultChan(); !ok {
			b.Fatalf("library watch ended after %d events: %v", n, w.Err())
		}
	}
}

func plainWatch(b *testing.B, cli *clientv3.Client, from int64, decode bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wch := cli.Watch(ctx, coordinator.ObjectsPrefix("bench-plain", ct.EndpointSlicesGVR, ""), clientv3.WithPrefix(), clientv3.WithRev(from), clientv3.WithPrevKV())
	n := 0
	for resp := range wch {
		for _, ev := range resp.Events {
			if decode {
				var s discoveryv1.EndpointSlice
				if err := s.Unmarshal(ev.Kv.Value); err != nil {
					b.Fatal(err)
				}
			}
			n++
		}
		if n >= benchSlices {
			return
		}
	}
	b.Fatalf("plain watch ended after %d events", n)
}
