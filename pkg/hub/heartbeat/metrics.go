package heartbeat

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count what heartbeat delegation does.
type Metrics struct {
	// LocalAnswers counts kubelet Lease requests the hub answered itself while the cloud was unreachable.
	LocalAnswers *prometheus.CounterVec
	// MirrorWrites counts writes of the node's Lease to the coordinator, by delegated and result.
	MirrorWrites *prometheus.CounterVec
	// DelegatedRenewals counts the leader's renewals of other nodes' Leases in the cloud, by result.
	DelegatedRenewals *prometheus.CounterVec
}

// NewMetrics returns the metrics, registered in reg when it is not nil.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		LocalAnswers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yurthub_heartbeat_local_answers_total",
			Help: "Node Lease requests of the local kubelet answered by the hub while the cloud was unreachable, by verb and HTTP code.",
		}, []string{"verb", "code"}),
		MirrorWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yurthub_heartbeat_mirror_writes_total",
			Help: "Writes of the node's Lease to the pool coordinator, by delegated (the cloud was unreachable) and result.",
		}, []string{"delegated", "result"}),
		DelegatedRenewals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yurthub_heartbeat_delegated_renewals_total",
			Help: "Renewals in the cloud of pool nodes' Leases by this hub as pool leader, by result.",
		}, []string{"result"}),
	}
	if reg != nil {
		var errs []error
		for _, c := range []prometheus.Collector{m.LocalAnswers, m.MirrorWrites, m.DelegatedRenewals} {
			errs = append(errs, reg.Register(c))
		}
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
	}
	return m, nil
}
