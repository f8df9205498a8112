package filters

import (
	"errors"
	"sync"
	"time"

	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/ledger"
)

// Guard is the last line of defence on both directions: the per-record
// loop detector, and the link between an inbound event and the outbound
// account whose breaker governs it.
//
// Outbound, the account is what the request carries (often a hashed
// credential); inbound, it is the provider's tenant id (a HubSpot
// portalId). The guard learns which is which from the traffic itself: the
// record a write went to, when it comes back in an event, names both.
type Guard struct {
	breakers     *breaker.Breakers
	loops        LoopTracker
	trip         int // quarantined records of one account that trip its breaker; <0 never
	onQuarantine func(breaker.QuarantineInfo, string)

	mu       sync.RWMutex                   // read on every forwarded event, written on writes and new aliases
	written  map[ledger.Key]string          // record → outbound account of its last write
	alias    map[aliasKey]string            // (provider, inbound account) → outbound account
	accounts map[string]map[string]struct{} // provider → outbound accounts seen
}

type aliasKey struct{ provider, account string }

// LoopTracker is the per-record loop detector: in process (breaker.Loops)
// or shared by every replica on Redis (redisshare.Loops).
type LoopTracker interface {
	Wrote(breaker.RecordKey)
	Inbound(breaker.RecordKey) (bool, int)
	Echoed(breaker.RecordKey)
	Quarantined(breaker.RecordKey) (bool, breaker.QuarantineInfo)
	Release(breaker.RecordKey) bool
	List() []breaker.QuarantineInfo
	OnQuarantine(func(breaker.QuarantineInfo))
	OnRelease(func(breaker.QuarantineInfo))
}

var _ LoopTracker = (*breaker.Loops)(nil)

// GuardOptions configure NewGuard.
type GuardOptions struct {
	// Breakers are the per-account breakers (required).
	Breakers *breaker.Breakers
	// Loops is the loop detector; nil: an in-process one configured by
	// Loop, on the clock Now.
	Loops LoopTracker
	Loop  breaker.LoopConfig
	// Now is the in-process detector's clock; default time.Now.
	Now func() time.Time
	// TripAccount is how many quarantined records of one account at once
	// trip its breaker; < 0: never.
	TripAccount int
	// OnQuarantine is called once per new quarantine, with the outbound
	// account the guard knows for the record ("" unknown), after the
	// account's breaker may have tripped: the caller logs and counts it.
	// nil: nothing.
	OnQuarantine func(qi breaker.QuarantineInfo, account string)
}

// maxGuardEntries bounds the learned maps; when full they start over (a
// lost mapping only delays recognition until the next write).
const maxGuardEntries = 100000

// NewGuard builds the guard.
func NewGuard(o GuardOptions) (*Guard, error) {
	if o.Breakers == nil {
		return nil, errors.New("guard: no breakers")
	}
	if o.Loops == nil {
		if o.Now == nil {
			o.Now = time.Now
		}
		mem, err := breaker.NewLoops(o.Loop, o.Now)
		if err != nil {
			return nil, err
		}
		o.Loops = mem
	}
	g := &Guard{breakers: o.Breakers, loops: o.Loops, trip: o.TripAccount, onQuarantine: o.OnQuarantine,
		written: map[ledger.Key]string{}, alias: map[aliasKey]string{}, accounts: map[string]map[string]struct{}{}}
	o.Loops.OnQuarantine(g.quarantined)
	return g, nil
}

// Loops returns the loop detector (the admin API lists and releases its
// quarantines).
func (g *Guard) Loops() LoopTracker { return g.loops }

// LoopKey is the loop detector's key for a record. Like the ledger key it
// leaves the account out: record ids are unique within a provider's object
// type, and the two directions name the account differently — a loop
// whose write leaves through one replica and whose event arrives at
// another must meet on one key.
func LoopKey(k ledger.Key) breaker.RecordKey {
	return breaker.RecordKey{Provider: k.Provider, Object: k.Object, Record: k.Record}
}

// SawAccount notes an outbound account of provider (any call).
func (g *Guard) SawAccount(provider, account string) {
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

// Wrote notes a write that reached the upstream.
func (g *Guard) Wrote(w *Write) {
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
	g.loops.Wrote(LoopKey(k))
}

// WriteQuarantined reports whether a write to w's record must be answered
// locally because the record is quarantined.
func (g *Guard) WriteQuarantined(w *Write) (bool, breaker.QuarantineInfo) {
	if w == nil || w.Record == "" {
		return false, breaker.QuarantineInfo{}
	}
	return g.loops.Quarantined(LoopKey(w.Key()))
}

// outAccount maps an inbound event to the outbound account its breaker and
// loop key use: the account of our last write to the record (learning the
// inbound account as its alias), else a learned alias, else the only
// outbound account the provider has used (the usual one-tenant sidecar),
// else the event's own account (profiles whose account ids agree on both
// sides: static, host or path accounts).
func (g *Guard) outAccount(ev *Event) string {
	k := ev.Key()
	ak := aliasKey{ev.Provider, ev.Account}
	g.mu.RLock()
	acct, wrote := g.written[k]
	if !wrote || ev.Record == "" {
		acct = g.aliasedLocked(ev, ak)
		g.mu.RUnlock()
		return acct
	}
	cur, known := g.alias[ak]
	g.mu.RUnlock()
	if known && cur == acct {
		return acct // the alias is already noted: nothing to write
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if acct, ok := g.written[k]; ok {
		if len(g.alias) >= maxGuardEntries {
			clear(g.alias)
		}
		g.alias[ak] = acct
		return acct
	}
	return g.aliasedLocked(ev, ak)
}

// aliasedLocked is outAccount for a record this replica never wrote: the
// inbound account's alias, else the provider's only outbound account, else
// the event's own account. g.mu must be held (read suffices).
func (g *Guard) aliasedLocked(ev *Event, ak aliasKey) string {
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

// inbound decides whether a forwarded event must wait instead: its record
// is quarantined (counting this event as a round trip first), or its
// account's breaker is open. count is false for events that are not a real
// delivery to the app (observe mode) or cannot be caused by our write.
func (g *Guard) inbound(ev *Event, count bool) (wait, bool) {
	acct := g.outAccount(ev)
	if ev.Record != "" {
		rk := LoopKey(ev.Key())
		var q bool
		if count {
			q, _ = g.loops.Inbound(rk)
		} else {
			q, _ = g.loops.Quarantined(rk)
		}
		if q {
			_, qi := g.loops.Quarantined(rk)
			return wait{reason: ReasonQuarantined, queue: RecordQueue(rk), until: qi.Until, detail: qi.Reason}, true
		}
	}
	st, ok := g.breakers.Status(breaker.Key{Provider: ev.Provider, Account: acct})
	// Held only while open: once half-open the app may have its events
	// again (its write-back is the probe that closes the breaker; an app
	// that never writes must not keep them waiting forever).
	if ok && st.State == breaker.Open {
		return wait{reason: ReasonBreakerOpen, queue: BreakerQueue(st.Key), until: st.OpenUntil,
			detail: "breaker " + st.State.String() + ": " + st.Reason.String()}, true
	}
	return wait{}, false
}

// queuesFor names the spool queues an event would wait in: its account's
// and its record's.
func (g *Guard) queuesFor(ev *Event) []string {
	qs := []string{BreakerQueue(breaker.Key{Provider: ev.Provider, Account: g.outAccount(ev)})}
	if ev.Record != "" {
		qs = append(qs, RecordQueue(LoopKey(ev.Key())))
	}
	return qs
}

// echoed notes a dropped echo: the write it answers is accounted for and
// the record's next genuine event is not a round trip.
func (g *Guard) echoed(ev *Event) {
	if ev.Record == "" {
		return
	}
	g.loops.Echoed(LoopKey(ev.Key()))
}

// quarantined trips the account's breaker when too many of its records
// loop at once, and tells OnQuarantine. The account is the outbound one
// this replica knows for the record (its last write, else the provider's
// only account).
func (g *Guard) quarantined(qi breaker.QuarantineInfo) {
	acct := g.accountOf(qi.Key)
	if g.onQuarantine != nil {
		g.onQuarantine(qi, acct)
	}
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
		g.breakers.Trip(breaker.Key{Provider: qi.Key.Provider, Account: acct}, breaker.LoopDetected,
			"records of this account are looping", qi.Until)
	}
}

// accountOf is the outbound account of a record: our last write's, else
// the provider's only account, else "" (unknown here).
func (g *Guard) accountOf(k breaker.RecordKey) string {
	g.mu.RLock()
	defer g.mu.RUnlock()
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

// Ready reports whether a spool queue may be replayed now: its record is
// no longer quarantined, its account's breaker is closed.
func (g *Guard) Ready(queue string) bool {
	kind, rk, err := ParseQueue(queue)
	if err != nil {
		return true // unknown queue: deliver rather than keep forever
	}
	switch kind {
	case QueueRecord:
		q, _ := g.loops.Quarantined(rk)
		return !q
	case QueueBreaker:
		st, ok := g.breakers.Status(breaker.Key{Provider: rk.Provider, Account: rk.Account})
		return !ok || st.State != breaker.Open
	}
	return true
}
