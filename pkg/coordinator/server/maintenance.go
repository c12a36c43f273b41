package server

import (
	"context"
	"fmt"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/server/v3/storage/mvcc"
	"k8s.io/klog/v2"
)

// maintain refreshes the size and alarm metrics, defragments a fragmented database every
// DefragInterval and, with AutoRecoverNoSpace, repairs a NOSPACE alarm of this member.
func (s *Server) maintain(ctx context.Context) {
	logger := klog.FromContext(ctx).WithName("maintenance")
	tick := time.NewTicker(s.opts.MaintenanceInterval)
	defer tick.Stop()
	var defragC <-chan time.Time
	if s.opts.DefragInterval > 0 {
		t := time.NewTicker(s.opts.DefragInterval)
		defer t.Stop()
		defragC = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.refreshMetrics()
			if s.opts.AutoRecoverNoSpace && s.hasOwnNoSpace() {
				if err := s.recoverNoSpace(ctx, logger); err != nil {
					logger.Error(err, "Recovering from the NOSPACE alarm")
				}
				s.refreshMetrics()
			}
		case <-defragC:
			if err := s.defragIfFragmented(logger); err != nil {
				logger.Error(err, "Periodic defragmentation")
			}
			s.refreshMetrics()
		}
	}
}

func (s *Server) hasOwnNoSpace() bool {
	es := s.etcd.Etcd().Server
	for _, a := range es.Alarms() {
		if a.Alarm == pb.AlarmType_NOSPACE && a.MemberID == uint64(es.MemberID()) {
			return true
		}
	}
	return false
}

func (s *Server) defragIfFragmented(logger klog.Logger) error {
	be := s.etcd.Etcd().Server.Backend()
	size, inUse := be.Size(), be.SizeInUse()
	free := size - inUse
	if size == 0 || free < s.opts.DefragMinFreeBytes || float64(free)/float64(size) < s.opts.DefragFreeRatio {
		return nil
	}
	logger.Info("Defragmenting", "sizeBytes", size, "inUseBytes", inUse)
	return s.defrag()
}

func (s *Server) defrag() error {
	start := time.Now()
	err := s.etcd.Etcd().Server.Backend().Defrag()
	s.metrics.defragDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		s.metrics.defrags.WithLabelValues("error").Inc()
		return fmt.Errorf("defragmenting: %w", err)
	}
	s.metrics.defrags.WithLabelValues("ok").Inc()
	return nil
}

// recoverNoSpace compacts away all history (the latest value of every key stays), defragments
// and disarms this member's NOSPACE alarm if the database is then clearly under the quota. If
// the live data alone is too big it leaves the alarm: an operator must delete keys or raise the quota.
func (s *Server) recoverNoSpace(ctx context.Context, logger klog.Logger) error {
	es := s.etcd.Etcd().Server
	rev := es.KV().Rev()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := es.Compact(cctx, &pb.CompactionRequest{Revision: rev, Physical: true}); err != nil && err != mvcc.ErrCompacted {
		return fmt.Errorf("compacting to revision %d: %w", rev, err)
	}
	if err := s.defrag(); err != nil {
		return err
	}
	size := es.Backend().Size()
	limit := int64(float64(s.opts.Etcd.QuotaBackendBytes) * s.opts.RecoverBelowRatio)
	if size >= limit {
		logger.Info("NOSPACE alarm kept: the live data alone is too close to the quota; delete keys or raise --quota-backend-bytes", "sizeBytes", size, "limitBytes", limit)
		return nil
	}
	if _, err := es.Alarm(cctx, &pb.AlarmRequest{Action: pb.AlarmRequest_DEACTIVATE, MemberID: uint64(es.MemberID()), Alarm: pb.AlarmType_NOSPACE}); err != nil {
		return fmt.Errorf("disarming the NOSPACE alarm: %w", err)
	}
	s.metrics.recoveries.Inc()
	logger.Info("Recovered from NOSPACE: compacted, defragmented and disarmed the alarm", "revision", rev, "sizeBytes", size)
	return nil
}
