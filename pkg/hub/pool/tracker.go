// Package pool is the hub's share of its node pool's data: the leader's sync of pool-scoped
// resources from the cloud into the coordinator (Syncer), every hub's view of whether that
// copy can be trusted (Tracker), and the routing of list/watch requests to it (Router).
//
// The leader list/watches each pool-scoped resource from the cloud once (a client-go Reflector
// over the hub's own cloud transport, never through the proxy) and writes it to the coordinator
// with guarded writes, then refreshes the resource's sync marker every max-age/3 while its
// writes succeed. Every hub polls the markers (one etcd range per second): a resource whose
// marker is younger than --pool-sync-max-age is served from the coordinator, otherwise from the
// cloud (and, without the cloud, from the cache). A marker that turns stale, or a coordinator that
// stops answering, ends the watches the coordinator serves (their clients relist from the
// cloud); a marker that turns fresh ends the cloud/cache watches of that resource (their clients
// relist from the coordinator). resourceVersions never cross: see proxy.CoordinatorResourceVersion.
//
// A marker's age is measured on the hub's own monotonic clock, from when the hub saw it change
// (its etcd revision), not by comparing the time the leader wrote in it with the hub's wall
// clock: edge machines often boot with a wrong clock. The written time is used once, when a hub
// first sees a marker, and then only to shorten the trust (a marker the hub sees for the first
// time is trusted for at most max-age, however its writer's clock is set).
package pool

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/coordinator"
	"github.com/yurt-edge/yurt/pkg/coordinator/store"
)

// Tracker follows the leader's sync markers and the coordinator's availability.
type Tracker struct {
	Client *coordinator.Client
	// MaxAge is how old a marker may be and still be trusted (--pool-sync-max-age).
	MaxAge time.Duration
	// Interval between polls (default 1s); Timeout of one poll (default 2s).
	Interval, Timeout time.Duration
	// OnStale is called (outside any lock) when a resource that was served from the
	// coordinator must not be any more: its marker aged, the coordinator stopped answering, or
	// the coordinator was replaced (new epoch).
	OnStale func(reason string)
	// OnFresh, if set, is called when a resource turns fresh (for metrics and logs).
	OnFresh func(gvr schema.GroupVersionResource)

	mu      sync.Mutex
	fresh   map[schema.GroupVersionResource]bool
	markers map[schema.GroupVersionResource]*store.SyncMarker
	epoch   string
	// became[gvr] is closed when gvr turns fresh, then replaced.
	became map[schema.GroupVersionResource]chan struct{}
	// seen[gvr] is the marker revision last seen and when (this hub's clock) it was written.
	seen map[schema.GroupVersionResource]observation
	// clock is time.Now outside tests.
	clock func() time.Time
}

// observation is a marker revision and the time, on this hub's monotonic clock, from which its
// age counts; zero when its age is unknown (it is then stale until its next change).
type observation struct {
	revision int64
	since    time.Time
}

// Fresh reports whether list/watch of gvr should be served from the coordinator now.
func (t *Tracker) Fresh(gvr schema.GroupVersionResource) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fresh[gvr]
}

// Epoch is the coordinator's etcd cluster ID (hex) as last seen, "" before the first answer.
func (t *Tracker) Epoch() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.epoch
}

// Marker returns the last marker read for gvr (nil if none).
func (t *Tracker) Marker(gvr schema.GroupVersionResource) *store.SyncMarker {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.markers[gvr]
}

// BecameFresh returns a channel closed the next time gvr turns fresh.
func (t *Tracker) BecameFresh(gvr schema.GroupVersionResource) <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.became == nil {
		t.became = map[schema.GroupVersionResource]chan struct{}{}
	}
	ch, ok := t.became[gvr]
	if !ok {
		ch = make(chan struct{})
		t.became[gvr] = ch
	}
	return ch
}

// Unavailable marks every resource stale at once (a coordinator request failed); the next
// successful poll decides again.
func (t *Tracker) Unavailable(ctx context.Context, err error) {
	klog.FromContext(ctx).Info("The pool coordinator did not answer; serving pool-scoped resources from the cloud", "err", err)
	t.update(nil, t.Epoch())
}

// Run polls until ctx ends.
func (t *Tracker) Run(ctx context.Context) {
	interval, timeout := t.Interval, t.Timeout
	if interval <= 0 {
		interval = time.Second
	}
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	logger := klog.FromContext(ctx)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	failing := false
	for {
		markers, epoch, err := t.poll(ctx, timeout)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			if !failing {
				logger.Info("Cannot read the pool's sync markers from the coordinator; pool-scoped resources come from the cloud", "err", err)
			}
			failing = true
			t.update(nil, t.Epoch())
		default:
			if failing {
				logger.Info("The pool coordinator answers again")
			}
			failing = false
			t.update(markers, epoch)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// poll reads every sync marker of the pool in one range request.
func (t *Tracker) poll(ctx context.Context, timeout time.Duration) (map[schema.GroupVersionResource]*store.SyncMarker, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	prefix := coordinator.PoolPrefix(t.Client.Pool) + "sync/"
	resp, err := t.Client.Etcd.Get(clientv3.WithRequireLeader(ctx), prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, "", fmt.Errorf("reading sync markers under %s: %w", prefix, err)
	}
	out := map[schema.GroupVersionResource]*store.SyncMarker{}
	for _, kv := range resp.Kvs {
		gvr, err := parseSyncKey(strings.TrimPrefix(string(kv.Key), prefix))
		if err != nil {
			store.ReportSkipped(ctx, t.Client.Metrics, "syncmarker", store.Skipped{Key: string(kv.Key), ModRevision: kv.ModRevision, Err: err})
			continue
		}
		m, err := store.DecodeSyncMarker(kv.Value)
		if err != nil {
			store.ReportSkipped(ctx, t.Client.Metrics, "syncmarker", store.Skipped{Key: string(kv.Key), ModRevision: kv.ModRevision, Err: err})
			continue
		}
		m.Revision = kv.ModRevision
		out[gvr] = m
	}
	return out, fmt.Sprintf("%x", resp.Header.ClusterId), nil
}

// parseSyncKey reverses coordinator.SyncKey's "<group>/<version>/<resource>".
func parseSyncKey(s string) (schema.GroupVersionResource, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return schema.GroupVersionResource{}, fmt.Errorf("sync marker key %q is not <group>/<version>/<resource>", s)
	}
	group := parts[0]
	if group == coordinator.CoreGroupSegment {
		group = ""
	}
	return schema.GroupVersionResource{Group: group, Version: parts[1], Resource: parts[2]}, nil
}

// update installs a poll's result (nil markers: the coordinator is unavailable) and fires the
// transitions.
func (t *Tracker) update(markers map[schema.GroupVersionResource]*store.SyncMarker, epoch string) {
	now := time.Now()
	if t.clock != nil {
		now = t.clock()
	}
	t.mu.Lock()
	var staled []string
	var freshened []schema.GroupVersionResource
	if t.epoch != "" && epoch != t.epoch {
		for gvr, was := range t.fresh {
			if was {
				staled = append(staled, gvr.String()+" (coordinator replaced)")
				delete(t.fresh, gvr)
			}
		}
	}
	if epoch != t.epoch || t.seen == nil {
		t.seen = map[schema.GroupVersionResource]observation{}
	}
	t.epoch = epoch
	if markers != nil {
		for gvr := range t.seen {
			if markers[gvr] == nil {
				delete(t.seen, gvr)
			}
		}
	}
	fresh := map[schema.GroupVersionResource]bool{}
	for gvr, m := range markers {
		o, ok := t.seen[gvr]
		switch {
		case ok && o.revision == m.Revision:
			// Unchanged: it keeps aging from when it was written.
		case ok:
			o = observation{revision: m.Revision, since: now}
		default:
			// First sight: only the writer's clock tells its age. Trust it no longer than
			// max-age from now, even if that clock is ahead of ours (a negative age).
			o = observation{revision: m.Revision}
			if m.FreshAt(now, t.MaxAge) {
				o.since = now
				if age := now.Sub(m.Time); age > 0 {
					o.since = now.Add(-age)
				}
			}
		}
		t.seen[gvr] = o
		if !o.since.IsZero() && now.Sub(o.since) < t.MaxAge {
			fresh[gvr] = true
		}
	}
	for gvr, was := range t.fresh {
		if was && !fresh[gvr] {
			staled = append(staled, gvr.String())
		}
	}
	for gvr := range fresh {
		if !t.fresh[gvr] {
			freshened = append(freshened, gvr)
			if ch, ok := t.became[gvr]; ok {
				close(ch)
				delete(t.became, gvr)
			}
		}
	}
	t.fresh = fresh
	if markers != nil {
		t.markers = markers
	}
	t.mu.Unlock()
	if len(staled) > 0 && t.OnStale != nil {
		t.OnStale(strings.Join(staled, ", "))
	}
	for _, gvr := range freshened {
		if t.OnFresh != nil {
			t.OnFresh(gvr)
		}
	}
}
