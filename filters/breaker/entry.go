package breaker

import (
	"fmt"
	"sync"
	"time"
)

// entry is one key's breaker and quota tracker. Every field is guarded by
// mu; dead is set (under both the table lock and mu) when the entry is
// evicted, so a caller that looked it up just before must look again.
type entry struct {
	mu   sync.Mutex
	dead bool
	key  Key

	state     State
	reason    Reason
	detail    string
	since     time.Time
	openedAt  time.Time
	openUntil time.Time
	probing   bool
	probeAt   time.Time

	limit     int64
	remaining int64
	reset     time.Time

	lastSeen time.Time
	rate     rateRing
}

// newEntry returns a closed entry for k.
func newEntry(k Key, cfg *Config) *entry {
	return &entry{key: k, limit: Unknown, remaining: Unknown, rate: newRateRing(cfg.baselineMinutes())}
}

// changes collects the transitions of one call, to be announced after the
// locks are released. One call makes at most two (open → half-open, then
// half-open → closed or open); a fixed array keeps that allocation-free.
type changes struct {
	n int
	s [2]Status
}

// add records a transition.
func (c *changes) add(s Status) {
	if c.n < len(c.s) {
		c.s[c.n] = s
		c.n++
	}
}

// candidate is a reason to open found by an observation; its detail text
// is only built when the candidate is applied, keeping Observe cheap.
type candidate struct {
	reason     Reason
	until      time.Time
	used       float64
	retryAfter time.Duration
	calls      float64
	base       float64
	status     int
}

// detail explains the candidate for logs and the admin API.
func (c candidate) detail(cfg *Config) string {
	switch c.reason {
	case QuotaThreshold:
		return fmt.Sprintf("quota %.1f%% used (threshold %.1f%%)", c.used*100, cfg.Threshold*100)
	case Upstream429:
		if c.retryAfter > 0 {
			return fmt.Sprintf("upstream throttled (status %d), retry after %s", c.status, c.retryAfter)
		}
		return fmt.Sprintf("upstream throttled (status %d)", c.status)
	case BurnRate:
		return fmt.Sprintf("%.0f calls in the last minute, over %.0f× the baseline of %.1f/min", c.calls, cfg.BurnFactor, c.base)
	}
	return ""
}

// status snapshots the entry at now.
func (e *entry) status(now time.Time) Status {
	m, frac := minuteOf(now)
	base, _ := e.rate.baseline(m)
	return Status{
		Key:            e.key,
		State:          e.state,
		Reason:         e.reason,
		Detail:         e.detail,
		Limit:          e.limit,
		Remaining:      e.remaining,
		UsedFraction:   usedFraction(e.limit, e.remaining),
		Reset:          e.reset,
		OpenUntil:      e.openUntil,
		CallsPerMin:    e.rate.lastMinute(m, frac),
		BaselinePerMin: base,
		Since:          e.since,
	}
}

// maybeHalfOpen moves an open entry whose open period is over to half-open.
func (e *entry) maybeHalfOpen(now time.Time, ch *changes) {
	if e.state == Open && !now.Before(e.openUntil) {
		e.state, e.since, e.probing = HalfOpen, now, false
		ch.add(e.status(now))
	}
}

// open opens the entry (from closed or half-open) until until, capped by
// MaxOpen.
func (e *entry) open(r Reason, detail string, until, now time.Time, cfg *Config, ch *changes) {
	e.state, e.reason, e.detail = Open, r, detail
	e.since, e.openedAt, e.probing = now, now, false
	e.openUntil = capTime(until, now.Add(cfg.MaxOpen))
	ch.add(e.status(now))
}

// extend pushes an open entry's end to c.until when later, never past
// openedAt+MaxOpen; it reports whether it did. The detail is only built
// when the period actually grows.
func (e *entry) extend(c candidate, cfg *Config) bool {
	until := capTime(c.until, e.openedAt.Add(cfg.MaxOpen))
	if !until.After(e.openUntil) {
		return false
	}
	e.openUntil, e.reason, e.detail = until, c.reason, c.detail(cfg)
	return true
}

// close closes the entry.
func (e *entry) close(now time.Time, ch *changes) {
	e.state, e.reason, e.detail = Closed, None, ""
	e.since, e.openedAt, e.openUntil, e.probing = now, time.Time{}, time.Time{}, false
	ch.add(e.status(now))
}

// capTime returns the earlier of t and limit.
func capTime(t, limit time.Time) time.Time {
	if t.After(limit) {
		return limit
	}
	return t
}

// recordQuota stores o's quota fields when it carries any, and reports
// whether it did (a fresh reading). Nonsense values are normalised rather
// than rejected: Limit <= 0 and Remaining < 0 are unknown, Remaining is
// clamped to Limit.
func (e *entry) recordQuota(o Observation) bool {
	lim, rem := o.Limit, o.Remaining
	if lim <= 0 {
		lim = Unknown
	}
	if rem < 0 {
		rem = Unknown
	}
	if lim > 0 && rem > lim {
		rem = lim
	}
	if lim == Unknown && rem == Unknown {
		return false
	}
	e.limit, e.remaining, e.reset = lim, rem, o.Reset
	return true
}

// untilReset returns reset when it is in the future, else now+CoolDown.
func untilReset(reset, now time.Time, cfg *Config) time.Time {
	if reset.After(now) {
		return reset
	}
	return now.Add(cfg.CoolDown)
}

// tripCandidate applies the opening rules to an observation: throttling
// first, then the quota threshold (only on a fresh reading), then the burn
// rate (only when withBurn). reason is None when nothing calls for opening.
func (e *entry) tripCandidate(o Observation, fresh, withBurn bool, now time.Time, cfg *Config) candidate {
	if o.throttled() {
		c := candidate{reason: Upstream429, retryAfter: o.RetryAfter, status: o.StatusCode}
		if o.RetryAfter > 0 {
			c.until = now.Add(o.RetryAfter)
		} else {
			c.until = untilReset(o.Reset, now, cfg)
		}
		return c
	}
	if fresh {
		if used := usedFraction(e.limit, e.remaining); used >= cfg.Threshold {
			return candidate{reason: QuotaThreshold, used: used, until: untilReset(e.reset, now, cfg)}
		}
	}
	if withBurn && cfg.BurnFactor > 0 {
		m, frac := minuteOf(now)
		calls := e.rate.lastMinute(m, frac)
		if calls >= float64(cfg.BurnMinCalls) {
			if base, ok := e.rate.baseline(m); ok && calls > cfg.BurnFactor*base {
				return candidate{reason: BurnRate, calls: calls, base: base, until: now.Add(cfg.CoolDown)}
			}
		}
	}
	return candidate{}
}

// observe applies one upstream response to the entry.
func (e *entry) observe(o Observation, probe bool, now time.Time, cfg *Config, ch *changes) {
	e.lastSeen = now
	e.rate.add(now)
	fresh := e.recordQuota(o)
	e.maybeHalfOpen(now, ch)
	c := e.tripCandidate(o, fresh, e.state != Open, now, cfg)
	switch e.state {
	case Closed:
		if c.reason != None {
			e.open(c.reason, c.detail(cfg), c.until, now, cfg, ch)
		}
	case HalfOpen:
		isProbe := probe && e.probing
		if isProbe {
			e.probing = false
		}
		switch {
		case c.reason != None:
			e.open(c.reason, c.detail(cfg), c.until, now, cfg, ch)
		case isProbe && !o.succeeded():
			detail := fmt.Sprintf("probe failed with status %d", o.StatusCode)
			e.open(e.reason, detail, now.Add(cfg.CoolDown), now, cfg, ch)
		case isProbe:
			e.close(now, ch)
		}
	case Open:
		// Upstream's word (429, exhausted quota) can extend an open period;
		// the burn rate is not evaluated while writes are held back.
		if c.reason != None {
			e.extend(c, cfg)
		}
	}
}
