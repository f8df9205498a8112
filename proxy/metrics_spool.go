package proxy

import (
	"github.com/loopguard/loopguard/configs"
	"github.com/prometheus/client_golang/prometheus"
)

// registerSpoolCapacity exports the spool's configured bounds, so its fill
// (loopguard_spool_bytes / loopguard_spool_capacity_bytes) is computable in
// a dashboard or an alert: once either bound is reached, deliveries that
// must be held are answered 503.
func (m *Metrics) registerSpoolCapacity(c configs.Spool) {
	bytes := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: MetricSpoolCapacityBytes, Help: "Bytes the spool may hold (spool.max_bytes).",
	})
	items := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: MetricSpoolCapacityItems, Help: "Deliveries the spool may hold (spool.max_items).",
	})
	bytes.Set(float64(c.MaxBytes))
	items.Set(float64(c.MaxItems))
	m.Registry.MustRegister(bytes, items)
}
