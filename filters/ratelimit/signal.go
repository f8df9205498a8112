package ratelimit

import "time"

// Unknown is the value of a Limit or Remaining the response did not state.
// A Signal or Quota built by hand (e.g. in a test) must set it explicitly,
// because 0 is a real value ("no requests left").
const Unknown int64 = -1

// Quota is one rate-limit window. Signal carries its secondary windows as
// Quota values rather than pointers so that Parse does not allocate.
type Quota struct {
	// Limit is the window's capacity in requests (or cost units); Unknown
	// when not stated.
	Limit int64
	// Remaining is what is left in the window; Unknown when not stated.
	Remaining int64
	// Reset is when the window resets; zero when unknown.
	Reset time.Time
	// Window is the window's length; zero when unknown.
	Window time.Duration
}

// unknownQuota is a Quota with nothing known.
func unknownQuota() Quota { return Quota{Limit: Unknown, Remaining: Unknown} }

// Known reports whether the window carries a limit, a remaining count or a
// reset time.
func (q Quota) Known() bool {
	return q.Limit >= 0 || q.Remaining >= 0 || !q.Reset.IsZero()
}

// UsedFraction returns (Limit-Remaining)/Limit clamped to [0, 1]; ok is
// false unless both Limit (> 0) and Remaining are known.
func (q Quota) UsedFraction() (float64, bool) {
	if q.Limit <= 0 || q.Remaining < 0 {
		return 0, false
	}
	used := q.Limit - q.Remaining
	if used <= 0 {
		return 0, true
	}
	if used >= q.Limit {
		return 1, true
	}
	return float64(used) / float64(q.Limit), true
}

// Signal is what one upstream response says about the account's quota.
// Limit, Remaining, Reset and Window describe the primary window: when a
// response carries several windows of the same kind (IETF list members, or
// several families under Auto) it is the most constrained one, i.e. the one
// with the fewest requests remaining. Providers with windows of different
// kinds (HubSpot) fill Daily and Secondly as well; they are values, not
// pointers, so that Parse stays allocation-free.
type Signal struct {
	// Limit is the primary window's capacity; Unknown (-1) when not stated.
	Limit int64
	// Remaining is what is left in the primary window; Unknown (-1) when
	// not stated.
	Remaining int64
	// Reset is when the primary window resets; zero when unknown.
	Reset time.Time
	// Window is the primary window's length; zero when unknown.
	Window time.Duration
	// Resource names the primary window when the provider does (GitHub
	// x-ratelimit-resource such as "core" or "search", IETF policy name);
	// empty when unnamed. It shares memory with the header value.
	Resource string
	// RetryAfter is how long the server asked us to wait (Retry-After in
	// seconds or as an HTTP-date); 0 when absent or already past.
	RetryAfter time.Duration
	// Throttled is true for a 429, or a 503 carrying a valid Retry-After.
	// (Salesforce's 403 REQUEST_LIMIT_EXCEEDED is only visible in the body
	// and is not detected.)
	Throttled bool
	// Status is the response's HTTP status code.
	Status int
	// Daily is a secondary day-long window (HubSpot daily); its Reset is
	// left zero because the provider does not state it.
	Daily Quota
	// Secondly is a secondary one-second window (HubSpot secondly).
	Secondly Quota
	// Malformed counts header values that were present but unparseable.
	// They are ignored, never fatal.
	Malformed int
}

// Known reports whether the response carried any rate-limit information: a
// quota window, a Retry-After, or a throttling status. The breaker uses it
// to tell "no news" from "plenty left".
func (s Signal) Known() bool {
	return s.Limit >= 0 || s.Remaining >= 0 || !s.Reset.IsZero() ||
		s.RetryAfter > 0 || s.Throttled || s.Daily.Known() || s.Secondly.Known()
}

// Primary returns the primary window as a Quota.
func (s Signal) Primary() Quota {
	return Quota{Limit: s.Limit, Remaining: s.Remaining, Reset: s.Reset, Window: s.Window}
}

// UsedFraction returns (Limit-Remaining)/Limit of the most constrained of
// the primary, Daily and Secondly windows, clamped to [0, 1]; ok is false
// when no window has both a positive Limit and a known Remaining.
func (s Signal) UsedFraction() (float64, bool) {
	best, ok := s.Primary().UsedFraction()
	for _, q := range [...]Quota{s.Daily, s.Secondly} {
		if f, fok := q.UsedFraction(); fok && (!ok || f > best) {
			best, ok = f, true
		}
	}
	return best, ok
}
