// Package breaker is loopguard's last line of defence against a runaway
// sync loop. It holds two independent, pure-logic components that the
// proxies feed; neither does any I/O and both take an injectable clock so
// that tests (and replays) are deterministic.
//
// Breakers is a quota tracker plus circuit breaker per (provider, account).
// The outbound proxy calls Allow before every write it forwards and Observe
// with the rate-limit signal of every upstream response (reads included, so
// that the burn-rate baseline sees all traffic). A breaker opens when the
// account's used quota fraction reaches Config.Threshold, when the upstream
// answers 429, or when the call rate over the last minute jumps far above
// the account's rolling baseline; while open, the proxy answers writes
// locally with 429 and Retry-After instead of burning the quota. Once the
// open period ends the breaker is half-open and lets exactly one probe
// through; the probe's outcome closes or reopens it.
//
// Loops is a per-record loop detector for the inbound proxy: a write by the
// app followed by a webhook event for the same record is one round trip,
// and Threshold round trips within Window quarantine the record (its events
// are to be dropped) until it is released by an admin or by time.
//
// Both types are safe for concurrent use. Callbacks registered with
// OnChange, OnQuarantine and OnRelease run synchronously in the calling
// goroutine, after every internal lock has been released, so they may call
// back into the package; they should be quick (log, bump a metric, signal a
// channel).
package breaker
