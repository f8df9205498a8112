package ratelimit

import (
	"net/http"
	"time"
)

// Window lengths stated implicitly by a provider.
const (
	dailyWindow    = 24 * time.Hour
	secondlyWindow = time.Second
)

// Parse extracts the rate-limit signal from one upstream response. h must
// have canonical keys, as net/http produces; now anchors relative resets
// and Retry-After. Parse never fails: unparseable values are skipped and
// counted in Signal.Malformed. An unknown opt.Family is treated as Auto and
// an unknown opt.Reset as ResetAuto (Options.Validate catches them at
// config time). Retry-After is read whatever the family.
func Parse(status int, h http.Header, now time.Time, opt Options) Signal {
	p := parser{
		h:   h,
		now: now,
		opt: opt,
		s: Signal{
			Limit:     Unknown,
			Remaining: Unknown,
			Status:    status,
			Daily:     unknownQuota(),
			Secondly:  unknownQuota(),
		},
	}
	switch opt.Family {
	case IETF:
		p.ietf()
	case XRateLimit:
		p.xRateLimit()
	case Salesforce:
		p.salesforce()
	case HubSpot:
		p.hubspot()
	case Shopify:
		p.shopify()
	case Zendesk:
		p.zendesk()
		p.ietf()
	default:
		p.collect()
		p.ietf()
		p.xRateLimit()
		p.salesforce()
		p.hubspot()
		p.shopify()
		p.zendesk()
	}
	retry := p.retryAfter()
	p.s.Throttled = status == http.StatusTooManyRequests ||
		(status == http.StatusServiceUnavailable && retry)
	return p.s
}

// parser holds one Parse call's state; it lives on the stack.
type parser struct {
	h   http.Header
	now time.Time
	opt Options
	s   Signal
	// collected is set (Auto only) once collect has filled vals; until
	// then values are looked up in h directly.
	collected bool
	vals      [nSlots][]string
}

// collect fills vals in one pass over the header map. Auto reads every
// family's headers, and one pass without hashing is cheaper than hashing
// each of the nSlots keys; a restricted family needs only a few lookups
// and skips this.
func (p *parser) collect() {
	for k, v := range p.h {
		if s, ok := slotOf(k); ok {
			p.vals[s] = v
		}
	}
	p.collected = true
}

// values returns all values of a header.
func (p *parser) values(s slot) []string {
	if p.collected {
		return p.vals[s]
	}
	return p.h[keyOf(s)]
}

// window is one candidate for the primary window.
type window struct {
	limit, remaining int64
	reset            time.Time
	length           time.Duration
	name             string
}

// noWindow is a candidate with nothing known.
func noWindow() window { return window{limit: Unknown, remaining: Unknown} }

// offer makes w the primary window if there is none yet or if w is more
// constrained (fewer requests remaining) than the current one. Ties keep
// the earlier candidate.
func (p *parser) offer(w window) {
	if w.limit < 0 && w.remaining < 0 && w.reset.IsZero() {
		return
	}
	s := &p.s
	empty := s.Limit < 0 && s.Remaining < 0 && s.Reset.IsZero()
	if !empty && (w.remaining < 0 || (s.Remaining >= 0 && w.remaining >= s.Remaining)) {
		return
	}
	s.Limit, s.Remaining, s.Reset, s.Window, s.Resource = w.limit, w.remaining, w.reset, w.length, w.name
}

// get returns the first value of a header and whether it is present.
func (p *parser) get(s slot) (string, bool) {
	v := p.values(s)
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// uint reads a header holding exactly one non-negative integer; Unknown
// when absent, and counted as malformed when unparseable.
func (p *parser) uint(s slot) int64 {
	v, ok := p.get(s)
	if !ok {
		return Unknown
	}
	n, ok := parseUint(v)
	if !ok {
		p.s.Malformed++
		return Unknown
	}
	return n
}

// reset reads a reset header in the configured encoding.
func (p *parser) reset(s slot) time.Time {
	v, ok := p.get(s)
	if !ok {
		return time.Time{}
	}
	t, ok := parseReset(v, p.now, p.opt.Reset)
	if !ok {
		p.s.Malformed++
	}
	return t
}

// retryAfter reads Retry-After (delta seconds, fractional accepted as
// Shopify sends "2.0", or HTTP-date) and reports whether a valid one was
// present. A date in the past yields RetryAfter 0; one more than
// maxDeltaSeconds ahead is malformed, like an over-large delta.
func (p *parser) retryAfter() bool {
	v, ok := p.get(sRetryAfter)
	if !ok {
		return false
	}
	d, ok := parseSecondsDuration(v)
	if !ok {
		t, err := http.ParseTime(trimOWS(v))
		if err != nil || t.Sub(p.now) > maxDeltaSeconds*time.Second {
			p.s.Malformed++
			return false
		}
		d = max(t.Sub(p.now), 0)
	}
	p.s.RetryAfter = d
	return true
}
