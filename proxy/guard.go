package proxy

import (
	"sync"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/rs/zerolog"
)

// guard is the last line of defence on both directions: the per-record loop
// detector, and the link between an inbound event and the outbound account
// whose breaker governs it.
//
// Outbound, the account is what the request carries (often a hashed
// credential); inbound, it is the provider's tenant id (a HubSpot portalId).
// guard learns which is which from the traffic itself: the record a write
// went to, when it comes back in an event, names both.
type guard struct {
	quota *quota
	loops loopTracker
	trip  int // quarantined records of one account that trip its breaker; <0 never
	log   zerolog.Logger
	m     *Metrics

	mu       sync.Mutex
	written  map[ledger.Key]string          // record → outbound account of its last write
	alias    map[aliasKey]string            // (provider, inbound account) → outbound account
	accounts map[string]map[string]struct{} // provider → outbound accounts seen
}

type aliasKey struct{ provider, account string }

// loopTracker is the per-record loop detector: in process (breaker.Loops)
// or shared by every replica on Redis (redisshare.Loops).
type loopTracker interface {
	Wrote(breaker.RecordKey)
	Inbound(breaker.RecordKey) (bool, int)
	Echoed(breaker.RecordKey)
	Quarantined(breaker.RecordKey) (bool, breaker.QuarantineInfo)
	Release(breaker.RecordKey) bool
	List() []breaker.QuarantineInfo
	OnQuarantine(func(breaker.QuarantineInfo))
	OnRelease(func(breaker.QuarantineInfo))
}

// maxGuardEntries bounds the learned maps; when full they start over (a
// lost mapping only delays recognition until the next write).
const maxGuardEntries = 100000

// loopConfig is the detector's configuration from the loops section.
func loopConfig(c configs.Loops) breaker.LoopConfig {
	return breaker.LoopConfig{Threshold: c.Threshold, Window: c.Window.D(), Quarantine: c.Quarantine.D()}
}

// newGuard builds the guard on l, or on an in-process detector when l is
// nil.
func newGuard(c configs.Loops, l loopTracker, q *quota, m *Metrics, log zerolog.Logger, now func() time.Time) (*guard, error) {
	if l == nil {
		mem, err := breaker.NewLoops(loopConfig(c), now)
		if err != nil {
			return nil, err
		}
		l = mem
	}
	g := &guard{quota: q, loops: l, trip: c.TripAccount, log: log, m: m,
		written: map[ledger.Key]string{}, alias: map[aliasKey]string{}, accounts: map[string]map[string]struct{}{}}
	l.OnQuarantine(g.quarantined)
	l.OnRelease(func(qi breaker.QuarantineInfo) {
		log.Warn().Str("provider", qi.Key.Provider).Str("record", qi.Key.String()).Msg("quarantine released")
	})
	return g, nil
}

// recordKey is the loop detector's key for a record. Like the ledger key
// it leaves the account out: record ids are unique within a provider's
// object type, and the two directions name the account differently — a
// loop whose write leaves through one replica and whose event arrives at
// another must meet on one key.
func recordKey(k ledger.Key) breaker.RecordKey {
	return breaker.RecordKey{Provider: k.Provider, Object: k.Object, Record: k.Record}
}

// sawAccount notes an outbound account of provider (any call).
func (g *guard) sawAccount(provider, account string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	set := g.accounts[provider]
	if set == nil {
		set = map[string]struct{}{}
		g.accounts[provider] = set
	}
	if _, ok := set[account]; !ok && len(set) < maxGuardEntries {
		set[account] = struct{}{}
	}
}

// wrote notes a write that reached the upstream.
func (g *guard) wrote(w *filters.Write) {
	if w == nil || w.Record == "" {
		return
	}
	k := w.Key()
	g.mu.Lock()
	if len(g.written) >= maxGuardEntries {
		clear(g.written)
	}
	g.written[k] = w.Account
	g.mu.Unlock()
	g.loops.Wrote(recordKey(k))
}

// writeQuarantined reports whether a write to w's record must be answered
// locally because the record is quarantined.
func (g *guard) writeQuarantined(w *filters.Write) (bool, breaker.QuarantineInfo) {
	if w == nil || w.Record == "" {
		return false, breaker.QuarantineInfo{}
	}
	return g.loops.Quarantined(recordKey(w.Key()))
}

// outAccount maps an inbound event to the outbound account its breaker and
// loop key use: the account of our last write to the record (learning the
// inbound account as its alias), else a learned alias, else the only
// outbound account the provider has used (the usual one-tenant sidecar),
// else the event's own account (profiles whose account ids agree on both
// sides: static, host or path accounts).
func (g *guard) outAccount(ev *filters.Event) string {
	k := ev.Key()
	g.mu.Lock()
	defer g.mu.Unlock()
	ak := aliasKey{ev.Provider, ev.Account}
	if acct, ok := g.written[k]; ok && ev.Record != "" {
		if len(g.alias) >= maxGuardEntries {
			clear(g.alias)
		}
		g.alias[ak] = acct
		return acct
	}
	if acct, ok := g.alias[ak]; ok {
		return acct
	}
	if set := g.accounts[ev.Provider]; len(set) == 1 {
		for acct := range set {
			return acct
		}
	}
	return ev.Account
}

// hold is why an event must wait, with its spool queue.
type hold struct {
	reason filters.Reason
	queue  string
	until  time.Time
	detail string
}

// inbound decides whether a forwarded event must be held instead: its
// record is quarantined (counting this event as a round trip first), or its
// account's breaker is open. count is false for events that are not a real
// delivery to the app (observe mode).
func (g *guard) inbound(ev *filters.Event, count bool) (hold, bool) {
	acct := g.outAccount(ev)
	if ev.Record != "" {
		rk := recordKey(ev.Key())
		var q bool
		if count {
			q, _ = g.loops.Inbound(rk)
		} else {
			q, _ = g.loops.Quarantined(rk)
		}
		if q {
			_, qi := g.loops.Quarantined(rk)
			return hold{reason: filters.ReasonQuarantined, queue: recordQueue(rk), until: qi.Until, detail: qi.Reason}, true
		}
	}
	st, ok := g.quota.b.Status(breaker.Key{Provider: ev.Provider, Account: acct})
	if ok && st.State != breaker.Closed {
		return hold{reason: filters.ReasonBreakerOpen, queue: breakerQueue(st.Key), until: st.OpenUntil,
			detail: "breaker " + st.State.String() + ": " + st.Reason.String()}, true
	}
	return hold{}, false
}

// queuesFor names the spool queues an event would wait in: its record's
// and its account's.
func (g *guard) queuesFor(ev *filters.Event) []string {
	qs := []string{breakerQueue(breaker.Key{Provider: ev.Provider, Account: g.outAccount(ev)})}
	if ev.Record != "" {
		qs = append(qs, recordQueue(recordKey(ev.Key())))
	}
	return qs
}

// echoed notes a dropped echo: the write it answers is accounted for and
// the record's next genuine event is not a round trip.
func (g *guard) echoed(ev *filters.Event) {
	if ev.Record == "" {
		return
	}
	g.loops.Echoed(recordKey(ev.Key()))
}

// quarantined logs a new quarantine (one error line), counts it, and trips
// the account's breaker when too many of its records loop at once. The
// account is the outbound one this replica knows for the record (its last
// write, else the provider's only account).
func (g *guard) quarantined(qi breaker.QuarantineInfo) {
	g.m.Quarantines.WithLabelValues(qi.Key.Provider).Inc()
	acct := g.accountOf(qi.Key)
	g.log.Error().Str("provider", qi.Key.Provider).Str("account", acct).Str("object", qi.Key.Object).
		Str("record", qi.Key.Record).Int("round_trips", qi.Count).Time("until", qi.Until).Str("reason", qi.Reason).
		Msg("loop detected: record quarantined; its writes are answered 429 and its events held")
	if g.trip < 0 || acct == "" {
		return
	}
	n := 0
	for _, o := range g.loops.List() {
		if o.Key.Provider == qi.Key.Provider && g.accountOf(o.Key) == acct {
			n++
		}
	}
	if n >= g.trip {
		g.quota.b.Trip(breaker.Key{Provider: qi.Key.Provider, Account: acct}, breaker.LoopDetected,
			"records of this account are looping", qi.Until)
	}
}

// accountOf is the outbound account of a record: our last write's, else
// the provider's only account, else "" (unknown here).
func (g *guard) accountOf(k breaker.RecordKey) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if acct, ok := g.written[ledger.Key{Provider: k.Provider, Object: k.Object, Record: k.Record}]; ok {
		return acct
	}
	if set := g.accounts[k.Provider]; len(set) == 1 {
		for acct := range set {
			return acct
		}
	}
	return ""
}

// ready reports whether a spool queue may be replayed now.
func (g *guard) ready(queue string) bool {
	kind, rk, err := parseQueue(queue)
	if err != nil {
		return true // unknown queue: deliver rather than keep forever
	}
	switch kind {
	case queueRecord:
		q, _ := g.loops.Quarantined(rk)
		return !q
	case queueBreaker:
		st, ok := g.quota.b.Status(breaker.Key{Provider: rk.Provider, Account: rk.Account})
		return !ok || st.State == breaker.Closed
	}
	return true
}
