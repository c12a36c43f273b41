package server

import (
	"github.com/prometheus/client_golang/prometheus"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// metrics are the coordinator's own metrics (etcd's come from the default registry).
type metrics struct {
	registry       *prometheus.Registry
	alarm          *prometheus.GaugeVec
	dbSize         prometheus.Gauge
	dbInUse        prometheus.Gauge
	quota          prometheus.Gauge
	hasLeader      prometheus.Gauge
	defrags        *prometheus.CounterVec
	defragDuration prometheus.Histogram
	recoveries     prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		alarm: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "yurt_coordinator_alarm", Help: "1 while an etcd alarm of this type is active in the cluster (NOSPACE: writes are rejected).",
		}, []string{"type"}),
		dbSize:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "yurt_coordinator_db_size_bytes", Help: "Size of the member's database file."}),
		dbInUse:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "yurt_coordinator_db_size_in_use_bytes", Help: "Bytes of the database file in use (the rest is reclaimable by defragmentation)."}),
		quota:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "yurt_coordinator_quota_backend_bytes", Help: "The configured backend quota."}),
		hasLeader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "yurt_coordinator_has_leader", Help: "1 while the member knows a leader."}),
		defrags: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yurt_coordinator_defrag_total", Help: "Defragmentations by result.",
		}, []string{"result"}),
		defragDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "yurt_coordinator_defrag_duration_seconds", Help: "Duration of defragmentations.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		recoveries: prometheus.NewCounter(prometheus.CounterOpts{Name: "yurt_coordinator_nospace_recoveries_total", Help: "NOSPACE alarms disarmed automatically after compaction and defragmentation."}),
	}
	m.registry.MustRegister(m.alarm, m.dbSize, m.dbInUse, m.quota, m.hasLeader, m.defrags, m.defragDuration, m.recoveries)
	m.defrags.WithLabelValues("ok")
	m.alarm.WithLabelValues(pb.AlarmType_NOSPACE.String())
	m.alarm.WithLabelValues(pb.AlarmType_CORRUPT.String())
	return m
}

func (s *Server) refreshMetrics() {
	es := s.etcd.Etcd().Server
	active := map[string]bool{}
	for _, a := range es.Alarms() {
		active[a.Alarm.String()] = true
	}
	for _, t := range []pb.AlarmType{pb.AlarmType_NOSPACE, pb.AlarmType_CORRUPT} {
		v := 0.0
		if active[t.String()] {
			v = 1
		}
		s.metrics.alarm.WithLabelValues(t.String()).Set(v)
	}
	be := es.Backend()
	s.metrics.dbSize.Set(float64(be.Size()))
	s.metrics.dbInUse.Set(float64(be.SizeInUse()))
	if es.Leader() != 0 {
		s.metrics.hasLeader.Set(1)
	} else {
		s.metrics.hasLeader.Set(0)
	}
}
