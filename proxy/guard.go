package proxy

import (
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/rs/zerolog"
)

// The loop detector and the breaker guard live in filters (filters.Guard,
// used by the judgement step); this file wires them from the loops section
// and gives their quarantines a log line and a counter.

// loopConfig is the detector's configuration from the loops section.
func loopConfig(c configs.Loops) breaker.LoopConfig {
	return breaker.LoopConfig{Threshold: c.Threshold, Window: c.Window.D(), Quarantine: c.Quarantine.D()}
}

// newGuard builds the guard on l, or on an in-process detector when l is
// nil.
func newGuard(c configs.Loops, l filters.LoopTracker, q *quota, m *Metrics, log zerolog.Logger, now func() time.Time) (*filters.Guard, error) {
	g, err := filters.NewGuard(filters.GuardOptions{
		Breakers: q.b, Loops: l, Loop: loopConfig(c), TripAccount: c.TripAccount, Now: now,
		OnQuarantine: func(qi breaker.QuarantineInfo, acct string) {
			m.Quarantines.WithLabelValues(qi.Key.Provider).Inc()
			log.Error().Str("provider", qi.Key.Provider).Str("account", acct).Str("object", qi.Key.Object).
				Str("record", qi.Key.Record).Int("round_trips", qi.Count).Time("until", qi.Until).Str("reason", qi.Reason).
				Msg("loop detected: record quarantined; its writes are answered 429 and its events held")
		},
	})
	if err != nil {
		return nil, err
	}
	g.Loops().OnRelease(func(qi breaker.QuarantineInfo) {
		log.Warn().Str("provider", qi.Key.Provider).Str("record", qi.Key.String()).Msg("quarantine released")
	})
	return g, nil
}
