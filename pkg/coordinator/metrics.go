package coordinator

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the client library's metrics. Register them in the caller's registry with
// NewMetrics; a nil *Metrics is valid and counts nothing.
type Metrics struct {
	// CorruptValues counts values skipped because they could not be decoded, by kind of
	// value (object, lease, syncmarker).
	CorruptValues *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg when reg is not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		CorruptValues: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yurt_coordinator_client_corrupt_values_total",
			Help: "Values read from the coordinator that could not be decoded and were skipped, by kind of value.",
		}, []string{"kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.CorruptValues)
	}
	return m
}

// CorruptValue counts one skipped value of a kind.
func (m *Metrics) CorruptValue(kind string) {
	if m == nil || m.CorruptValues == nil {
		return
	}
	m.CorruptValues.WithLabelValues(kind).Inc()
}
