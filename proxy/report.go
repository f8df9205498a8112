package proxy

import (
	"github.com/loopguard/loopguard/filters"
	"github.com/rs/zerolog"
)

// reportDecision logs, counts and keeps one decision. Webhook events and
// pulled records are reported by this one function, so a decision looks the
// same in metrics, logs and GET /decisions wherever the event came from.
// ring may be nil (decisions are then only counted and logged).
func reportDecision(m *Metrics, ring *DecisionRing, log zerolog.Logger, d filters.Decision) {
	action := d.Action.String()
	if d.Observed {
		action = "would_drop"
	}
	m.Decisions.WithLabelValues(d.Provider, string(d.Source), d.Layer, d.Reason.String(), action).Inc()
	if d.Reason == filters.ReasonStoreError || d.Reason == filters.ReasonUnverified || d.Reason == filters.ReasonUnaccounted {
		m.Doubts.WithLabelValues(d.Provider, d.Reason.String()).Inc()
	}
	if ring != nil {
		ring.Add(d)
	}
	lvl := zerolog.DebugLevel
	if d.WouldDrop() {
		lvl = zerolog.InfoLevel
	}
	log.WithLevel(lvl).Str("source", string(d.Source)).Str("action", action).Str("layer", d.Layer).
		Str("reason", d.Reason.String()).Str("detail", d.Detail).Str("provider", d.Provider).Str("account", d.Account).
		Str("object", d.Object).Str("record", d.Record).Str("event_id", d.EventID).Msg("decision")
}
