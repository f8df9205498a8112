// Package redisshare shares per-account breaker state between loopguard
// replicas through Redis, so that a breaker opened by one replica (quota
// threshold, upstream 429, burn rate, loop detector, operator) stops writes
// for that account on every replica within a second.
//
// Wiring, per replica:
//
//	share, _ := redisshare.New(redisshare.Options{Client: rdb})
//	breakers.OnChange(share.Notify)           // local change → Redis
//	go share.Run(ctx, redisshare.ApplyTo(breakers)) // Redis → local breaker
//
// # Protocol
//
// An open breaker is stored as a small JSON record under
// <prefix>{brk}:b:<hash of provider and account> with a TTL ending at its
// OpenUntil, indexed in the sorted set <prefix>{brk}:index (score: OpenUntil
// in ms; it expires with its latest entry), and every change (open or
// closed) is published on <prefix>{brk}:events. The braces are a Cluster
// hash tag: all breaker keys live in one slot so that one Lua script can
// update record, index and channel atomically. Run applies messages at once
// and re-reads the index every PollInterval (1s), which catches messages
// lost to a reconnect and replicas that start while breakers are open.
//
// Half-open is not shared: each replica turns half-open by itself at the
// shared OpenUntil and lets its own probe through (so up to one probe per
// replica). The first probe that succeeds closes the breaker and its close
// is published, closing it everywhere; a failed probe reopens and publishes
// a new open period. When two replicas open the same breaker, the later end
// wins, as in Breakers.Trip. A replica never re-publishes a change it just
// applied from another, so changes do not echo around.
//
// Quota readings are not shared: every replica sees the upstream's own
// rate-limit headers, which already count all replicas' calls. The burn
// rate baseline stays per replica.
//
// OpenUntil is an absolute time, so replica clocks (and Redis's, which
// expires the record) must be NTP-synchronised; skew shifts the end of an
// open period by the skew.
package redisshare
