package proxy

import (
	"time"

	"github.com/loopguard/loopguard/filters"
	"github.com/rs/zerolog"
)

// Field names of the log lines about deliveries and decisions: the
// canonical line of each webhook delivery and the line of each decision
// use the same names, defined once (after smokescreen's canonical decision
// line).
const (
	fieldProvider     = "provider"
	fieldDelivery     = "delivery"
	fieldRoute        = "route"
	fieldVerification = "verification"
	fieldOutcome      = "outcome"
	fieldEvents       = "events"
	fieldForwarded    = "forwarded"
	fieldDropped      = "dropped"
	fieldWouldDrop    = "would_drop"
	fieldHeld         = "held"
	fieldQueues       = "queues"
	fieldDurationMS   = "duration_ms"

	fieldSource  = "source"
	fieldAction  = "action"
	fieldLayer   = "layer"
	fieldReason  = "reason"
	fieldDetail  = "detail"
	fieldAccount = "account"
	fieldObject  = "object"
	fieldRecord  = "record"
	fieldEventID = "event_id"
)

// Messages of the canonical lines.
const (
	msgDelivery = "delivery"
	msgDecision = "decision"
)

// finish ends a webhook delivery: its latency sample, then its canonical
// line — one per delivery on a webhook route, whatever its outcome: what
// was judged (route, verification, how many events went on, were dropped,
// would have been dropped, were held and where) and what came of it.
func (in *Inbound) finish(d *delivery, route *filters.WebhookRoute, tr *inTrace) {
	in.observeLatency(d.ip.p.Name, tr)
	e := in.log.Info().Str(fieldProvider, d.ip.p.Name).Str(fieldOutcome, tr.outcome).
		Float64(fieldDurationMS, float64(time.Since(tr.start).Microseconds())/1000)
	if route != nil {
		e = e.Str(fieldRoute, route.Tpl.String())
	}
	if j := d.j; j != nil {
		var fwd, dropped, would, held int
		for i := range j.Decisions {
			switch dd := &j.Decisions[i]; {
			case dd.Observed:
				would++
				fwd++
			case dd.Action == filters.Drop:
				dropped++
			case dd.Action == filters.Hold:
				held++
			default:
				fwd++
			}
		}
		e = e.Str(fieldDelivery, j.Delivery().ID).Str(fieldVerification, d.trust.String()).Int(fieldEvents, len(j.Events)).
			Int(fieldForwarded, fwd).Int(fieldDropped, dropped).Int(fieldWouldDrop, would).Int(fieldHeld, held)
		if len(j.Holds) > 0 {
			qs := make([]string, len(j.Holds))
			for i, h := range j.Holds {
				qs[i] = h.Queue
			}
			e = e.Strs(fieldQueues, qs)
		}
	}
	e.Msg(msgDelivery)
}

// reportDecision logs, counts and keeps one decision. Webhook events and
// pulled records are reported by this one function, so a decision looks the
// same in metrics, logs and GET /decisions wherever the event came from.
// ring may be nil (decisions are then only counted and logged).
func reportDecision(m *Metrics, ring *DecisionRing, log zerolog.Logger, d filters.Decision) {
	action := d.Action.String()
	if d.Observed {
		action = "would_drop"
	}
	reason := d.Reason.String()
	m.Decisions.WithLabelValues(d.Provider, string(d.Source), d.Layer, reason, action).Inc()
	if d.Reason == filters.ReasonStoreError || d.Reason == filters.ReasonUnverified || d.Reason == filters.ReasonUnaccounted {
		m.Doubts.WithLabelValues(d.Provider, reason).Inc()
	}
	if ring != nil {
		ring.Add(d)
	}
	lvl := zerolog.DebugLevel
	if d.WouldDrop() {
		lvl = zerolog.InfoLevel
	}
	log.WithLevel(lvl).Str(fieldSource, string(d.Source)).Str(fieldAction, action).Str(fieldLayer, d.Layer).
		Str(fieldReason, reason).Str(fieldDetail, d.Detail).Str(fieldProvider, d.Provider).Str(fieldAccount, d.Account).
		Str(fieldObject, d.Object).Str(fieldRecord, d.Record).Str(fieldEventID, d.EventID).Str(fieldDelivery, d.Delivery).
		Msg(msgDecision)
}
