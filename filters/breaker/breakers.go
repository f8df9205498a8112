package breaker

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// Breakers tracks quota and holds one circuit breaker per Key. Use New.
//
// Locking: mu guards the table; each entry has its own lock, so keys do not
// contend with each other and Allow on a closed key takes only a read lock
// and one uncontended mutex. The table lock is never taken while an entry
// lock is held, except by eviction, which takes them in table → entry order.
type Breakers struct {
	cfg Config
	now func() time.Time

	mu sync.RWMutex
	m  map[Key]*entry

	onChange callbacks[Status]
}

// New validates cfg (zero fields take their defaults) and returns an empty
// set of breakers. now is the clock; nil means time.Now.
func New(cfg Config, now func() time.Time) (*Breakers, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("breaker: new: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Breakers{cfg: c, now: now, m: make(map[Key]*entry)}, nil
}

// Config returns the effective configuration, defaults filled in.
func (b *Breakers) Config() Config { return b.cfg }

// OnChange registers fn to be called on every state transition with the
// breaker's new status. It runs outside the locks, in the goroutine whose
// call caused the transition (lazy open → half-open transitions happen in
// Allow, Observe, Status or All). A nil fn is ignored.
func (b *Breakers) OnChange(fn func(st Status)) { b.onChange.add(fn) }

// Allow is called before an outbound write. ok=false means the proxy should
// answer 429 locally with Retry-After retryAfter. In half-open, exactly one
// caller at a time gets ok=true with probe=true and must pass probe=true to
// the matching Observe; the others get ok=false until that Observe (or
// until Config.ProbeTimeout passes without it). An unknown key is closed.
// On the closed path Allow neither allocates nor reads the clock, so the
// returned Status's rates are as of the key's last Observe.
func (b *Breakers) Allow(k Key) (ok bool, probe bool, retryAfter time.Duration, st Status) {
	e := b.lockEntry(k, false, false)
	if e == nil {
		return true, false, 0, closedStatus(k)
	}
	if e.state == Closed {
		// Fast path: no clock read (it dominates the cost on some VMs).
		st = e.status(e.lastSeen)
		e.mu.Unlock()
		return true, false, 0, st
	}
	now := b.now()
	var ch changes
	e.maybeHalfOpen(now, &ch)
	switch e.state {
	case Open:
		retryAfter = e.openUntil.Sub(now)
	case HalfOpen:
		if !e.probing || now.Sub(e.probeAt) >= b.cfg.ProbeTimeout {
			e.probing, e.probeAt = true, now
			ok, probe = true, true
		} else {
			retryAfter = probeRetryAfter
		}
	}
	st = e.status(now)
	e.mu.Unlock()
	b.notify(&ch)
	return ok, probe, retryAfter, st
}

// Observe records an upstream response for k: it counts the call for the
// burn rate (count every call, reads and writes), stores the quota reading
// and applies the opening rules. probe must be true only for the response
// to a request that Allow let through as the probe: its success (2xx, not
// throttled, under the threshold) closes the breaker, its failure reopens
// it. When the key table is full of open breakers a new key is not tracked.
func (b *Breakers) Observe(k Key, o Observation, probe bool) {
	e := b.lockEntry(k, true, false)
	if e == nil {
		return
	}
	var ch changes
	e.observe(o, probe, b.now(), &b.cfg, &ch)
	e.mu.Unlock()
	b.notify(&ch)
}

// Trip opens k's breaker (creating the key if needed, even when the table
// is full) for reason r until until; a zero or past until means now +
// CoolDown, and the period is capped by MaxOpen. The loop detector and the
// admin API use it. Reason None is recorded as Manual. Tripping an open
// breaker replaces its reason and keeps the later end.
func (b *Breakers) Trip(k Key, r Reason, detail string, until time.Time) {
	if r == None {
		r = Manual
	}
	e := b.lockEntry(k, true, true)
	now := b.now()
	if !until.After(now) {
		until = now.Add(b.cfg.CoolDown)
	}
	var ch changes
	e.lastSeen = now
	e.maybeHalfOpen(now, &ch)
	if e.state == Open {
		e.reason, e.detail = r, detail
		if until = capTime(until, now.Add(b.cfg.MaxOpen)); until.After(e.openUntil) {
			e.openUntil = until
		}
	} else {
		e.open(r, detail, until, now, &b.cfg, &ch)
	}
	e.mu.Unlock()
	b.notify(&ch)
}

// Reset forces k's breaker closed (admin override) and forgets its call
// history, so that the burn-rate rule does not undo the override at once.
// It returns false when k is unknown.
func (b *Breakers) Reset(k Key) bool {
	e := b.lockEntry(k, false, false)
	if e == nil {
		return false
	}
	now := b.now()
	var ch changes
	if e.state != Closed {
		e.close(now, &ch)
	}
	e.rate.reset()
	e.mu.Unlock()
	b.notify(&ch)
	return true
}

// Status returns k's current status; ok is false when k is unknown.
func (b *Breakers) Status(k Key) (Status, bool) {
	e := b.lockEntry(k, false, false)
	if e == nil {
		return closedStatus(k), false
	}
	now := b.now()
	var ch changes
	e.maybeHalfOpen(now, &ch)
	st := e.status(now)
	e.mu.Unlock()
	b.notify(&ch)
	return st, true
}

// All returns the status of every tracked key, sorted by provider then
// account.
func (b *Breakers) All() []Status {
	b.mu.RLock()
	es := make([]*entry, 0, len(b.m))
	for _, e := range b.m {
		es = append(es, e)
	}
	b.mu.RUnlock()
	now := b.now()
	out := make([]Status, 0, len(es))
	for _, e := range es {
		var ch changes
		e.mu.Lock()
		if e.dead {
			e.mu.Unlock()
			continue
		}
		e.maybeHalfOpen(now, &ch)
		out = append(out, e.status(now))
		e.mu.Unlock()
		b.notify(&ch)
	}
	slices.SortFunc(out, func(x, y Status) int { return sortKeys(x.Key, y.Key) })
	return out
}

// Len returns the number of tracked keys.
func (b *Breakers) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.m)
}

// notify announces collected transitions.
func (b *Breakers) notify(ch *changes) {
	for i := range ch.n {
		b.onChange.fire(ch.s[i])
	}
}
