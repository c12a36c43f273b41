package store

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/yurt-edge/yurt/pkg/coordinator"
)

// ErrCompacted means the revision a watch started from (or fell behind to) has been compacted
// away: the caller must List again and watch from the new revision.
var ErrCompacted = errors.New("coordinator watch: revision compacted, relist")

// Event is one change of an object.
type Event struct {
	// Type is watch.Added, watch.Modified, watch.Deleted, or watch.Bookmark (progress only).
	Type watch.EventType
	// Object is the object after the change; for Deleted, the last stored one. Nil for Bookmark.
	Object runtime.Object
	// Namespace ("" = cluster-scoped) and Name of the object; empty for Bookmark.
	Namespace, Name string
	// Revision is the etcd revision of the change (of the progress, for Bookmark).
	Revision int64
	// Prev is the object before a Modified change, when WatchOptions.WithPrev asked for it
	// and the previous value could be decoded (a filtered watcher needs it to tell whether
	// its client had the object).
	Prev runtime.Object
}

// WatchOptions tune a watch.
type WatchOptions struct {
	// ProgressNotify asks etcd for periodic Bookmark events carrying the current revision.
	ProgressNotify bool
	// OnSkip is called (from the watch goroutine) for every value that could not be decoded,
	// after it was logged and counted.
	OnSkip func(Skipped)
	// Buffer is the size of the event channel (default 100).
	Buffer int
	// WithPrev fills Event.Prev of Modified events.
	WithPrev bool
}

// Watcher delivers events until it is stopped, its context ends, or it fails.
type Watcher struct {
	ch     chan Event
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	err    error
}

// ResultChan delivers the events; it is closed when the watch ends.
func (w *Watcher) ResultChan() <-chan Event { return w.ch }

// Stop ends the watch and waits for its goroutine.
func (w *Watcher) Stop() {
	w.cancel()
	<-w.done
}

// Err tells why the watch ended, once ResultChan is closed: nil after Stop or the context's
// end, an error wrapping ErrCompacted when the caller must relist, another error otherwise.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Watch follows a resource in a namespace ("" = all) from after fromRevision (a List's
// Revision), so List + Watch sees every change exactly once. fromRevision 0 starts now.
func (s *Store) Watch(ctx context.Context, gvr schema.GroupVersionResource, namespace string, fromRevision int64, opts WatchOptions) (*Watcher, error) {
	if err := coordinator.ValidateGVR(gvr); err != nil {
		return nil, err
	}
	resourcePrefix := coordinator.ObjectsPrefix(s.client.Pool, gvr, "")
	prefix := coordinator.ObjectsPrefix(s.client.Pool, gvr, namespace)
	decode := func(key, value []byte) (runtime.Object, error) { return s.decode(resourcePrefix, key, value) }
	return WatchPrefix(ctx, s.client, prefix, fromRevision, opts, "object", decode, func(key []byte) (string, string) {
		ns, name, _ := coordinator.ParseObjectKey(resourcePrefix, string(key))
		return ns, name
	}), nil
}

// WatchPrefix runs an etcd watch on prefix and turns its events into decoded Events. It is
// shared by objects and leases.
func WatchPrefix(ctx context.Context, client *coordinator.Client, prefix string, fromRevision int64, opts WatchOptions, kind string,
	decode func(key, value []byte) (runtime.Object, error), identity func(key []byte) (string, string)) *Watcher {
	if opts.Buffer <= 0 {
		opts.Buffer = 100
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &Watcher{ch: make(chan Event, opts.Buffer), cancel: cancel, done: make(chan struct{})}
	etcdOpts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithPrevKV()}
	if fromRevision > 0 {
		etcdOpts = append(etcdOpts, clientv3.WithRev(fromRevision+1))
	}
	if opts.ProgressNotify {
		etcdOpts = append(etcdOpts, clientv3.WithProgressNotify())
	}
	// WithRequireLeader ends the watch when the member loses its quorum instead of leaving it
	// silently stale.
	wch := client.Etcd.Watch(clientv3.WithRequireLeader(ctx), prefix, etcdOpts...)
	skip := func(sk Skipped) {
		ReportSkipped(ctx, client.Metrics, kind, sk)
		if opts.OnSkip != nil {
			opts.OnSkip(sk)
		}
	}
	go func() {
		defer close(w.done)
		defer close(w.ch)
		defer cancel()
		w.setErr(run(ctx, wch, w.ch, decode, identity, skip, opts.WithPrev))
	}()
	return w
}

func (w *Watcher) setErr(err error) {
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
}

func run(ctx context.Context, wch clientv3.WatchChan, out chan<- Event, decode func(key, value []byte) (runtime.Object, error),
	identity func(key []byte) (string, string), skip func(Skipped), withPrev bool) error {
	send := func(ev Event) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		var resp clientv3.WatchResponse
		var ok bool
		select {
		case resp, ok = <-wch:
		case <-ctx.Done():
			return nil
		}
		if !ok {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("coordinator watch channel closed (client closed?)")
		}
		if resp.CompactRevision != 0 || errors.Is(resp.Err(), rpctypes.ErrCompacted) {
			return fmt.Errorf("%w: compacted up to revision %d", ErrCompacted, resp.CompactRevision)
		}
		if err := resp.Err(); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("coordinator watch: %w", err)
		}
		if resp.IsProgressNotify() {
			if !send(Event{Type: watch.Bookmark, Revision: resp.Header.Revision}) {
				return nil
			}
			continue
		}
		for _, e := range resp.Events {
			ev, ok := toEvent(e, decode, identity, skip)
			if !ok {
				continue
			}
			if withPrev && ev.Type == watch.Modified && e.PrevKv != nil {
				if prev, err := decode(e.PrevKv.Key, e.PrevKv.Value); err == nil {
					ev.Prev = prev
				}
			}
			if !send(ev) {
				return nil
			}
		}
	}
}

// toEvent decodes one etcd event. A corrupt new value of an object the watcher already knew
// becomes a Deleted event of the old object, so the watcher never keeps serving something the
// coordinator no longer holds intact.
func toEvent(e *clientv3.Event, decode func(key, value []byte) (runtime.Object, error),
	identity func(key []byte) (string, string), skip func(Skipped)) (Event, bool) {
	ns, name := identity(e.Kv.Key)
	ev := Event{Namespace: ns, Name: name, Revision: e.Kv.ModRevision}
	switch e.Type {
	case mvccpb.DELETE:
		if e.PrevKv == nil {
			// Nothing to say which object went away; a watcher that had it would have had its value.
			skip(Skipped{Key: string(e.Kv.Key), ModRevision: e.Kv.ModRevision, Err: fmt.Errorf("deleted without a previous value")})
			return Event{}, false
		}
		obj, err := decode(e.PrevKv.Key, e.PrevKv.Value)
		if err != nil {
			// The watcher never received the corrupt object, so it has nothing to delete.
			skip(Skipped{Key: string(e.PrevKv.Key), ModRevision: e.PrevKv.ModRevision, Err: err})
			return Event{}, false
		}
		ev.Type, ev.Object = watch.Deleted, obj
		return ev, true
	default:
		obj, err := decode(e.Kv.Key, e.Kv.Value)
		if err != nil {
			skip(Skipped{Key: string(e.Kv.Key), ModRevision: e.Kv.ModRevision, Err: err})
			if e.PrevKv != nil {
				if prev, perr := decode(e.PrevKv.Key, e.PrevKv.Value); perr == nil {
					ev.Type, ev.Object = watch.Deleted, prev
					return ev, true
				}
			}
			return Event{}, false
		}
		ev.Object = obj
		if e.IsCreate() {
			ev.Type = watch.Added
		} else {
			ev.Type = watch.Modified
		}
		return ev, true
	}
}
