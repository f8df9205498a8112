package proxy

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// latencyBuckets suit a sidecar: from half a millisecond (a drop answered
// locally) to ten seconds (an app or API at its timeout).
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// newLatency builds the inbound and outbound latency histograms.
func newLatency() (in, out *prometheus.HistogramVec) {
	in = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    MetricInboundDuration,
		Help:    "Webhook deliveries from receipt to answer, by provider and outcome.",
		Buckets: latencyBuckets,
	}, []string{"provider", "outcome"})
	out = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    MetricOutboundDuration,
		Help:    "API calls from the app's request to the upstream's answer, by provider and kind.",
		Buckets: latencyBuckets,
	}, []string{"provider", "kind"})
	return in, out
}

// observers caches a two-label histogram's children, so the hot path does
// one read-locked map lookup instead of hashing label values each time.
// Both labels are bounded (a configured provider, a fixed outcome or kind).
type observers struct {
	vec *prometheus.HistogramVec
	mu  sync.RWMutex
	m   map[[2]string]prometheus.Observer
}

// maxObservers bounds the cache; past it children are looked up uncached.
const maxObservers = 1024

func newObservers(vec *prometheus.HistogramVec) *observers {
	return &observers{vec: vec, m: map[[2]string]prometheus.Observer{}}
}

// observe records d under the label pair (a, b).
func (o *observers) observe(a, b string, d time.Duration) {
	k := [2]string{a, b}
	o.mu.RLock()
	ob := o.m[k]
	o.mu.RUnlock()
	if ob == nil {
		ob = o.vec.WithLabelValues(a, b)
		o.mu.Lock()
		if len(o.m) < maxObservers {
			o.m[k] = ob
		}
		o.mu.Unlock()
	}
	ob.Observe(d.Seconds())
}

// inTrace follows one webhook delivery from receipt to answer: the last
// outcome counted for it names its latency sample.
type inTrace struct {
	start   time.Time
	outcome string
}

// set notes an outcome ("" keeps the previous one).
func (t *inTrace) set(outcome string) {
	if outcome != "" {
		t.outcome = outcome
	}
}

// counted counts a delivery outcome and notes it in *last for the latency
// histogram.
func (in *Inbound) counted(last *string, provider, outcome string) {
	*last = outcome
	in.m.Deliveries.WithLabelValues(provider, outcome).Inc()
}

// observeLatency records a delivery's latency once it is answered.
func (in *Inbound) observeLatency(provider string, t *inTrace) {
	outcome := t.outcome
	if outcome == "" {
		outcome = "unknown"
	}
	in.latency.observe(provider, outcome, time.Since(t.start))
}
