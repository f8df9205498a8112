package breaker

import (
	"strconv"
	"time"
)

// Unknown is the value of a Limit or Remaining that is not known. It is
// explicit because 0 is a real value ("no requests left").
const Unknown int64 = -1

// Key identifies one quota: an account at a provider. Keys are independent;
// tripping one never affects another.
type Key struct {
	// Provider is the configured provider name (e.g. "hubspot").
	Provider string
	// Account is the provider-side account (portal, org, shop) the quota
	// belongs to.
	Account string
}

// String returns "provider/account" for logs.
func (k Key) String() string { return k.Provider + "/" + k.Account }

// State is a breaker's position.
type State int

// The breaker states. The zero value is Closed so that an unknown key reads
// as closed.
const (
	// Closed lets every write through.
	Closed State = iota
	// Open rejects every write until Status.OpenUntil.
	Open
	// HalfOpen lets a single probe through to test the upstream.
	HalfOpen
)

// String returns "closed", "open" or "half-open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText encodes the state as its String so that admin JSON shows names.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reason says why a breaker is (or was last) open.
type Reason int

// The reasons a breaker opens.
const (
	// None is the reason of a closed breaker.
	None Reason = iota
	// QuotaThreshold means the used quota fraction reached Config.Threshold.
	QuotaThreshold
	// Upstream429 means the upstream throttled us.
	Upstream429
	// BurnRate means the call rate jumped above the rolling baseline.
	BurnRate
	// LoopDetected means the loop detector tripped the breaker.
	LoopDetected
	// Manual means an operator tripped the breaker.
	Manual
)

// String returns the reason in snake_case ("quota_threshold", ...), the form
// used in logs and metric labels.
func (r Reason) String() string {
	switch r {
	case None:
		return "none"
	case QuotaThreshold:
		return "quota_threshold"
	case Upstream429:
		return "upstream_429"
	case BurnRate:
		return "burn_rate"
	case LoopDetected:
		return "loop_detected"
	case Manual:
		return "manual"
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// MarshalText encodes the reason as its String so that admin JSON shows names.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Observation is what one upstream response said about the quota. The
// outbound proxy maps the rate-limit parser's result into it.
type Observation struct {
	// Limit is the quota window's capacity; Unknown (-1) when not stated.
	// Values <= 0 are treated as unknown.
	Limit int64
	// Remaining is what is left in the window; Unknown (-1) when not
	// stated. It is clamped to Limit.
	Remaining int64
	// Reset is when the window resets; zero when unknown.
	Reset time.Time
	// RetryAfter is the upstream's Retry-After; 0 when absent.
	RetryAfter time.Duration
	// Throttled is true when the upstream throttled the call (a 429).
	Throttled bool
	// StatusCode is the response's HTTP status; 0 when unknown, which is
	// treated as a success. A 429 implies Throttled. A probe succeeds only
	// with a 2xx (or 0), no throttling and usage under the threshold; a
	// transport error should be reported with a 5xx such as 502.
	StatusCode int
}

// throttled reports whether the upstream told us to back off.
func (o Observation) throttled() bool { return o.Throttled || o.StatusCode == 429 }

// succeeded reports whether the status is a success for probe purposes.
func (o Observation) succeeded() bool {
	return o.StatusCode == 0 || (o.StatusCode >= 200 && o.StatusCode < 300)
}

// Status is a snapshot of one breaker, for the proxy's 429 answer, logs,
// metrics and the admin API.
type Status struct {
	// Key is the breaker's key.
	Key Key
	// State is the breaker's position.
	State State
	// Reason is why it is (or, when half-open, was) open; None when closed.
	Reason Reason
	// Detail is a human-readable explanation of Reason.
	Detail string
	// Limit is the last known quota capacity; Unknown when not known.
	Limit int64
	// Remaining is the last known remaining quota; Unknown when not known.
	Remaining int64
	// UsedFraction is (Limit-Remaining)/Limit, 1 when Remaining is 0 with
	// no Limit, and -1 when not known.
	UsedFraction float64
	// Reset is when the last known quota window resets; zero when unknown.
	Reset time.Time
	// OpenUntil is when an open breaker turns half-open; zero when closed.
	OpenUntil time.Time
	// CallsPerMin is the call rate over the last minute (sliding estimate).
	CallsPerMin float64
	// BaselinePerMin is the rolling baseline call rate; 0 until there is
	// enough history.
	BaselinePerMin float64
	// Since is when the breaker entered State; zero for a key never tripped.
	Since time.Time
}

// closedStatus is the status of a key the package knows nothing about.
func closedStatus(k Key) Status {
	return Status{Key: k, State: Closed, Limit: Unknown, Remaining: Unknown, UsedFraction: -1}
}

// usedFraction computes Status.UsedFraction from a limit and a remaining.
func usedFraction(limit, remaining int64) float64 {
	switch {
	case limit > 0 && remaining >= 0:
		if remaining >= limit {
			return 0
		}
		return float64(limit-remaining) / float64(limit)
	case remaining == 0:
		return 1
	}
	return -1
}
