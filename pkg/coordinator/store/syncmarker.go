package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/yurt-edge/yurt/pkg/coordinator"
)

// ErrNoSyncMarker is returned when no leader has marked a resource synced yet.
var ErrNoSyncMarker = errors.New("no sync marker for the resource")

// SyncMarker is the leader's statement that a resource in the coordinator matches the cloud
// as of CloudResourceVersion, at Time.
type SyncMarker struct {
	// Holder is the identity of the leader that wrote the marker.
	Holder string `json:"holder"`
	// CloudResourceVersion is the cloud resourceVersion the stored objects are current with.
	CloudResourceVersion string `json:"cloudResourceVersion"`
	// Time is when the leader wrote the marker (the leader's clock).
	Time time.Time `json:"time"`
	// Revision is the etcd revision the marker was written at (filled when read).
	Revision int64 `json:"-"`
}

// Fresh reports whether the marker was written less than maxAge ago by the writer's clock
// compared with this machine's, so it is only as good as their agreement: the hub's Tracker uses
// it only for a marker it sees for the first time, and then ages markers from when it sees them
// change. Pick maxAge well above the leader's refresh interval. A nil marker is not fresh.
func (m *SyncMarker) Fresh(maxAge time.Duration) bool { return m.FreshAt(time.Now(), maxAge) }

// FreshAt is Fresh as of now.
func (m *SyncMarker) FreshAt(now time.Time, maxAge time.Duration) bool {
	return m != nil && !m.Time.IsZero() && now.Sub(m.Time) < maxAge
}

// MarkSynced writes the sync marker of a resource with this client's identity, the cloud
// resourceVersion and the current time. The leader calls it after a relist (Replace does) and
// then periodically while its cloud watch is healthy, with the latest resourceVersion seen.
func (s *Store) MarkSynced(ctx context.Context, gvr schema.GroupVersionResource, cloudResourceVersion string) (int64, error) {
	if err := coordinator.ValidateGVR(gvr); err != nil {
		return 0, err
	}
	value, err := json.Marshal(SyncMarker{Holder: s.client.Identity, CloudResourceVersion: cloudResourceVersion, Time: time.Now().UTC()})
	if err != nil {
		return 0, err
	}
	key := coordinator.SyncKey(s.client.Pool, gvr)
	resp, err := s.txn(ctx, clientv3.OpPut(key, string(value)))
	if err != nil {
		return 0, fmt.Errorf("writing sync marker %s: %w", key, err)
	}
	return resp.Header.Revision, nil
}

// SyncMarker reads the marker of a resource; ErrNoSyncMarker when there is none. A corrupt
// marker is reported and returned as an error (callers treat it as not fresh).
func (s *Store) SyncMarker(ctx context.Context, gvr schema.GroupVersionResource) (*SyncMarker, error) {
	if err := coordinator.ValidateGVR(gvr); err != nil {
		return nil, err
	}
	key := coordinator.SyncKey(s.client.Pool, gvr)
	resp, err := s.client.Etcd.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading sync marker %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("%s: %w", gvr.String(), ErrNoSyncMarker)
	}
	m, err := DecodeSyncMarker(resp.Kvs[0].Value)
	if err != nil {
		ReportSkipped(ctx, s.client.Metrics, "syncmarker", Skipped{Key: key, ModRevision: resp.Kvs[0].ModRevision, Err: err})
		return nil, fmt.Errorf("reading sync marker %s: %w", key, err)
	}
	m.Revision = resp.Kvs[0].ModRevision
	return m, nil
}

// DecodeSyncMarker parses a stored marker strictly.
func DecodeSyncMarker(data []byte) (*SyncMarker, error) {
	var m SyncMarker
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decoding sync marker: %w", err)
	}
	if m.Holder == "" || m.Time.IsZero() {
		return nil, fmt.Errorf("decoding sync marker: holder and time are required")
	}
	return &m, nil
}
