package proxy

import (
	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/spool"
	"github.com/prometheus/client_golang/prometheus"
)

// registerGuard adds the gauges read at scrape time from the spool, the
// loop detector and the per-account quota trackers.
func (m *Metrics) registerGuard(q spool.Queue, loops loopTracker, b *breaker.Breakers) {
	if q != nil {
		m.Registry.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "loopguard_spool_bytes", Help: "Bytes held in the spool."},
				func() float64 { return float64(q.Bytes()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "loopguard_spool_items", Help: "Deliveries held in the spool."},
				func() float64 { return float64(q.Len()) }),
		)
	}
	if loops != nil {
		m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "loopguard_quarantined_records", Help: "Records quarantined now.",
		}, func() float64 { return float64(len(loops.List())) }))
	}
	if b != nil {
		m.Registry.MustRegister(&quotaCollector{b: b})
	}
}

// quotaCollector exports each (provider, account)'s quota tracker and
// breaker state.
type quotaCollector struct{ b *breaker.Breakers }

var (
	quotaLabels    = []string{"provider", "account"}
	descLimit      = prometheus.NewDesc("loopguard_quota_limit", "Last known quota capacity (-1 unknown).", quotaLabels, nil)
	descRemaining  = prometheus.NewDesc("loopguard_quota_remaining", "Last known remaining quota (-1 unknown).", quotaLabels, nil)
	descUsed       = prometheus.NewDesc("loopguard_quota_used_ratio", "Used fraction of the quota (-1 unknown).", quotaLabels, nil)
	descReset      = prometheus.NewDesc("loopguard_quota_reset_timestamp_seconds", "When the quota window resets (0 unknown).", quotaLabels, nil)
	descCalls      = prometheus.NewDesc("loopguard_calls_per_minute", "Upstream calls per minute (sliding).", quotaLabels, nil)
	descBaseline   = prometheus.NewDesc("loopguard_calls_per_minute_baseline", "Rolling baseline of calls per minute.", quotaLabels, nil)
	descBreakerSt  = prometheus.NewDesc("loopguard_breaker_state", "Breaker state: 0 closed, 1 open, 2 half-open.", quotaLabels, nil)
	quotaCollected = []*prometheus.Desc{descLimit, descRemaining, descUsed, descReset, descCalls, descBaseline, descBreakerSt}
)

// Describe implements prometheus.Collector.
func (c *quotaCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range quotaCollected {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *quotaCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.b.All() {
		l := []string{st.Key.Provider, st.Key.Account}
		reset := 0.0
		if !st.Reset.IsZero() {
			reset = float64(st.Reset.Unix())
		}
		state := 0.0
		switch st.State {
		case breaker.Open:
			state = 1
		case breaker.HalfOpen:
			state = 2
		}
		for _, v := range []struct {
			d *prometheus.Desc
			f float64
		}{{descLimit, float64(st.Limit)}, {descRemaining, float64(st.Remaining)}, {descUsed, st.UsedFraction},
			{descReset, reset}, {descCalls, st.CallsPerMin}, {descBaseline, st.BaselinePerMin}, {descBreakerSt, state}} {
			ch <- prometheus.MustNewConstMetric(v.d, prometheus.GaugeValue, v.f, l...)
		}
	}
}
