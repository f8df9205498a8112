// Package redisstore is the ledger.Store on Redis (or Valkey, or a Redis
// Cluster, or a Sentinel-managed primary), for deployments where several app
// replicas each run a loopguard sidecar: a write leaving through replica A
// and its echo webhook arriving at replica B must meet in one ledger.
//
// # Semantics
//
// The store behaves exactly like ledger.Memory: at most ledger.MaxPending
// pending value hashes per field (a value equal to the newest is not added
// twice), a seen value per field that clears its pending writes, expiry
// decided by the store's clock (Options.Now) with WriteTTL, SeenTTL and
// DedupWindow, and event-id dedup. Every update is one Lua script, so
// replicas updating one record concurrently never lose each other's
// writes. Get, GetMany, EventSeen and EventsSeen are one round trip each
// (GetMany and EventsSeen pipeline a whole inbound batch); the only
// difference a caller can see is that State.Fields come back sorted by name.
//
// # Key layout
//
// Every key starts with Options.Prefix (default "loopguard:"), and every
// identifier is hashed (redisconn.HashID: SHA-256, 128 bits, base64url), so account
// ids, record ids and event ids never appear in key names:
//
//	<prefix>r:<HashID(ledger.Key.String())>   hash: w, s (time stamps), f (write
//	                                          fingerprint), p:<field> (pending hashes),
//	                                          v:<field> (seen hash)
//	<prefix>e:<HashID(event id)>              string: expiry time stamp
//
// Every key has a TTL: a record lives as long as its longest-lived part
// (WriteTTL after the last write, SeenTTL after the last genuine state), an
// event id for DedupWindow. The TTLs only reclaim memory; expiry as seen by
// the filters follows the store's clock exactly as in ledger.Memory. The
// hashes are unkeyed: they keep identifiers out of key listings and
// monitoring, but someone who can read the Redis and guess an id can
// confirm it.
//
// # Failure behaviour
//
// Each operation is bounded by Options.Timeout (default 50ms), connection
// wait included. When Redis is unreachable, slow or returns an error, the
// operation returns an error naming it and Healthy reports false; the
// filter engine then abstains in the layers that need the store (the event
// is forwarded: a genuine change is never dropped) while tagging, which
// needs no store, carries on. Nothing is retried beyond one immediate retry
// on a fresh connection. When Redis comes back the next operation (or
// go-redis's background dial probe, once a second) reconnects and Healthy
// turns true again; scripts are reloaded automatically. A Redis restarted
// without persistence has forgotten the ledger: until new writes are
// recorded, echoes of older writes are forwarded (fail-open).
package redisstore
