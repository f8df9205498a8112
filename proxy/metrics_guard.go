package proxy

import (
	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/spool"
	"github.com/prometheus/client_golang/prometheus"
)

// registerGuard adds the gauges read at scrape time from the spool, the
// loop detector and the per-account quota trackers.
func (m *Metrics) registerGuard(q spool.Queue, providers []string, loops filters.LoopTracker, b *breaker.Breakers) {
	if q != nil {
		m.Registry.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricSpoolBytes, Help: "Bytes held in the spool."},
				func() float64 { return float64(q.Bytes()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricSpoolItems, Help: "Deliveries held in the spool."},
				func() float64 { return float64(q.Len()) }),
			&spoolCollector{q: q, providers: providers},
		)
	}
	if loops != nil {
		m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: MetricQuarantinedRecords, Help: "Records quarantined now.",
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
	descLimit      = prometheus.NewDesc(MetricQuotaLimit, "Last known quota capacity (-1 unknown).", quotaLabels, nil)
	descRemaining  = prometheus.NewDesc(MetricQuotaRemaining, "Last known remaining quota (-1 unknown).", quotaLabels, nil)
	descUsed       = prometheus.NewDesc(MetricQuotaUsedRatio, "Used fraction of the quota (-1 unknown).", quotaLabels, nil)
	descReset      = prometheus.NewDesc(MetricQuotaReset, "When the quota window resets (0 unknown).", quotaLabels, nil)
	descCalls      = prometheus.NewDesc(MetricCallsPerMinute, "Upstream calls per minute (sliding).", quotaLabels, nil)
	descBaseline   = prometheus.NewDesc(MetricCallsBaseline, "Rolling baseline of calls per minute.", quotaLabels, nil)
	descBreakerSt  = prometheus.NewDesc(MetricBreakerState, "Breaker state: 0 closed, 1 open, 2 half-open.", quotaLabels, nil)
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

// spoolCollector exports the dead letters per provider and the unverified
// budget's use, read from the spool at scrape time.
type spoolCollector struct {
	q         spool.Queue
	providers []string // exported as 0 when they have no dead letters
}

var (
	descDead            = prometheus.NewDesc(MetricDeadLetters, "Held deliveries in the dead letters (the app kept refusing them).", []string{"provider"}, nil)
	descUnverifiedItems = prometheus.NewDesc(MetricSpoolUnverifiedItems, "Held deliveries whose signature did not verify, queued and dead.", nil, nil)
	descUnverifiedBytes = prometheus.NewDesc(MetricSpoolUnverifiedBytes, "Bytes of held deliveries whose signature did not verify.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *spoolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descDead
	ch <- descUnverifiedItems
	ch <- descUnverifiedBytes
}

// Collect implements prometheus.Collector; a spool that cannot answer
// (Redis down) exports nothing this scrape rather than zeros.
func (c *spoolCollector) Collect(ch chan<- prometheus.Metric) {
	if byProvider, err := c.q.DeadByProvider(); err == nil {
		for _, p := range c.providers {
			if _, ok := byProvider[p]; !ok {
				byProvider[p] = 0
			}
		}
		for p, n := range byProvider {
			ch <- prometheus.MustNewConstMetric(descDead, prometheus.GaugeValue, float64(n), p)
		}
	}
	if st, err := c.q.Stats(); err == nil {
		ch <- prometheus.MustNewConstMetric(descUnverifiedItems, prometheus.GaugeValue, float64(st.UnverifiedItems))
		ch <- prometheus.MustNewConstMetric(descUnverifiedBytes, prometheus.GaugeValue, float64(st.UnverifiedBytes))
	}
}
