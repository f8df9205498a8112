// Package proxy holds loopguard's listeners: the outbound forward proxy and
// gateway that tag and record writes, the inbound webhook proxy that drops
// echoes, and the admin server. It knows how to move bytes, not how an echo
// is decided (that is package filters).
package proxy

import (
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are every Prometheus metric loopguard exports (their names are
// the constants of metric_names.go).
// They live in their own registry: no package-level state.
type Metrics struct {
	Registry *prometheus.Registry

	// Decisions counts inbound/pull event decisions by provider, source,
	// layer, reason and action (forward, drop, would_drop, hold).
	Decisions *prometheus.CounterVec
	// Deliveries counts webhook deliveries by provider and outcome
	// (forwarded, rewritten, all_echoes, passthrough, malformed, oversize,
	// unverified, handshake, app_error).
	Deliveries *prometheus.CounterVec
	// Outbound counts outbound requests by provider and kind (write_tagged,
	// write_untagged, passthrough, tunnel, gateway).
	Outbound *prometheus.CounterVec
	// Untagged counts matched writes left untouched, by reason.
	Untagged *prometheus.CounterVec
	// WritesRecorded counts writes recorded in the ledger.
	WritesRecorded *prometheus.CounterVec
	// RedundantWrites counts writes that only write back the last genuine
	// state the app received (suppression comes later).
	RedundantWrites *prometheus.CounterVec
	// Doubts counts events a layer could not evaluate (store error,
	// malformed, unverified) — forwarded, never dropped.
	Doubts *prometheus.CounterVec
	// SignatureFailures counts deliveries whose signature did not verify.
	SignatureFailures *prometheus.CounterVec
	// BreakerTransitions counts breaker state changes by provider, state
	// and reason.
	BreakerTransitions *prometheus.CounterVec
	// Throttled counts calls answered locally while a breaker was open.
	Throttled *prometheus.CounterVec
	// Held counts inbound deliveries kept in the spool, by provider and
	// reason (breaker_open, quarantined, app_unavailable).
	Held *prometheus.CounterVec
	// Replayed counts held deliveries the app accepted on replay.
	Replayed *prometheus.CounterVec
	// HeldUnverified counts held deliveries whose signature did not verify
	// (kept apart, replayed untouched).
	HeldUnverified *prometheus.CounterVec
	// DeadLettered counts held deliveries moved to the dead letters, by
	// provider and reason (refused, max_attempts, max_age).
	DeadLettered *prometheus.CounterVec
	// Quarantines counts records quarantined by the loop detector.
	Quarantines *prometheus.CounterVec
	// PullResponses counts matched read responses by outcome (filtered,
	// unchanged, rewrite_failed, untouched_<reason>).
	PullResponses *prometheus.CounterVec
	// EgressDenied counts destinations the egress policy refused, by reason
	// (loopback, link_local, private, own_listener, not_configured, …).
	EgressDenied *prometheus.CounterVec
	// InboundDuration is a webhook delivery's time from receipt to answer,
	// by provider and outcome (the last delivery outcome counted for it).
	InboundDuration *prometheus.HistogramVec
	// OutboundDuration is an API call's time from the app's request to the
	// upstream's answer (response headers), by provider and kind.
	OutboundDuration *prometheus.HistogramVec
	// UnsignedTrusted is 1 for a provider whose profile names a signature
	// scheme but that runs without its secret (signature.trust_unsigned),
	// 0 for one that verifies.
	UnsignedTrusted *prometheus.GaugeVec
	// BatchRecords counts the records of batch and GraphQL writes by
	// provider, kind (batch, graphql) and outcome (tagged, recorded,
	// failed, unmatched, empty, store_error).
	BatchRecords *prometheus.CounterVec
	// Rejected counts requests and connections refused or cut by a limit,
	// by listener and reason (max_connections, inflight_bytes,
	// read_timeout, read_error); ConnectionsOpen and InflightBodyBytes are
	// what the limits bound, and IdleClosed counts connections closed
	// before any request (idle floods, slowloris). See limits.go.
	Rejected          *prometheus.CounterVec
	ConnectionsOpen   *prometheus.GaugeVec
	IdleClosed        *prometheus.CounterVec
	InflightBodyBytes prometheus.Gauge
}

// NewMetrics builds the registry and registers every metric, plus ledger
// gauges read from store.
func NewMetrics(store ledger.Store) *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: r,
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricDecisions, Help: "Event decisions by provider, source, layer, reason and action.",
		}, []string{"provider", "source", "layer", "reason", "action"}),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricDeliveries, Help: "Webhook deliveries by provider and outcome.",
		}, []string{"provider", "outcome"}),
		Outbound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricOutboundRequests, Help: "Outbound requests by provider and kind.",
		}, []string{"provider", "kind"}),
		Untagged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricUntagged, Help: "Matched writes passed through untouched, by reason.",
		}, []string{"provider", "reason"}),
		WritesRecorded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricWritesRecorded, Help: "Writes recorded in the ledger after a 2xx upstream answer.",
		}, []string{"provider"}),
		RedundantWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricRedundantWrites, Help: "Writes that write back the state the app last received.",
		}, []string{"provider"}),
		Doubts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricDoubts, Help: "Events forwarded because a layer could not decide, by reason.",
		}, []string{"provider", "reason"}),
		SignatureFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricSignatureFailures, Help: "Deliveries whose signature did not verify.",
		}, []string{"provider", "reason"}),
		BreakerTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricBreakerTransitions, Help: "Quota breaker state changes.",
		}, []string{"provider", "state", "reason"}),
		Throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricThrottled, Help: "Calls answered locally (429) while a breaker was open.",
		}, []string{"provider"}),
	}
	m.Held = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricHeld, Help: "Inbound deliveries held in the durable spool, by reason.",
	}, []string{"provider", "reason"})
	m.Replayed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricReplayed, Help: "Held deliveries replayed to the app and accepted.",
	}, []string{"provider"})
	m.Quarantines = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricQuarantines, Help: "Records quarantined by the loop detector.",
	}, []string{"provider"})
	m.PullResponses = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricPullResponses, Help: "Matched read (poll) responses by outcome.",
	}, []string{"provider", "outcome"})
	m.EgressDenied = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricEgressDenied, Help: "Outbound destinations refused by the egress policy, by reason.",
	}, []string{"reason"})
	m.UnsignedTrusted = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: MetricUnsignedTrusted, Help: "1 for a signed provider running without its secret (signature.trust_unsigned), 0 when it verifies.",
	}, []string{"provider"})
	m.HeldUnverified = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricHeldUnverified, Help: "Held deliveries whose signature did not verify (own budget, replayed untouched).",
	}, []string{"provider"})
	m.DeadLettered = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricDeadLettered, Help: "Held deliveries moved to the dead letters, by reason.",
	}, []string{"provider", "reason"})
	r.MustRegister(m.BreakerTransitions, m.Throttled, m.Held, m.Replayed, m.Quarantines, m.PullResponses, m.EgressDenied, m.UnsignedTrusted,
		m.HeldUnverified, m.DeadLettered)
	m.BatchRecords = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricBatchRecords, Help: "Records of batch and GraphQL writes, by kind and outcome.",
	}, []string{"provider", "kind", "outcome"})
	r.MustRegister(m.BatchRecords)
	m.InboundDuration, m.OutboundDuration = newLatency()
	r.MustRegister(m.InboundDuration, m.OutboundDuration)
	m.Rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricRejected, Help: "Requests and connections refused or cut by a limit, by listener and reason.",
	}, []string{"listener", "reason"})
	m.ConnectionsOpen = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: MetricConnectionsOpen, Help: "Open client connections per listener.",
	}, []string{"listener"})
	m.IdleClosed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricIdleClosed, Help: "Client connections closed before sending a whole request.",
	}, []string{"listener"})
	m.InflightBodyBytes = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: MetricInflightBodyBytes, Help: "Body bytes buffered right now (bounded by limits.max_inflight_body_bytes).",
	})
	r.MustRegister(m.Rejected, m.ConnectionsOpen, m.IdleClosed, m.InflightBodyBytes)
	r.MustRegister(m.Decisions, m.Deliveries, m.Outbound, m.Untagged, m.WritesRecorded, m.RedundantWrites, m.Doubts, m.SignatureFailures)
	if store != nil {
		r.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricLedgerEntries, Help: "Records in the ledger."},
				func() float64 { return float64(store.Stats().Entries) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: MetricLedgerEvictions, Help: "Ledger entries evicted for space."},
				func() float64 { return float64(store.Stats().Evictions) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricDedupEntries, Help: "Event ids remembered for dedup."},
				func() float64 { return float64(store.Stats().Events) }),
		)
	}
	return m
}
