package proxy

import "time"

// WithClock makes every part of the sidecar that reads the time read now
// instead of time.Now: the engine and its layers, the ledger's TTLs and
// dedup window, the breakers (cool-downs, upstream reset times), the loop
// detector (window, quarantine), the spool (held and dead-letter times,
// dead-letter ages, replay backoff), Retry-After answers and the admin
// API's ages. Tests drive it (filters/clocktest) instead of sleeping.
//
// Timers, tickers and socket deadlines stay on the wall clock: the limits'
// read and idle timeouts, the store health check, the replayer's poll
// interval and the console's series step. Latency metrics measure wall
// time too.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// clock is the configured clock, time.Now by default.
func (o options) clock() func() time.Time {
	if o.now == nil {
		return time.Now
	}
	return o.now
}
