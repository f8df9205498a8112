// Package redisq is a spool.Queue on Redis Streams, so that webhook
// deliveries held by one replica (breaker open, record quarantined, app
// down) are replayed by another when that replica dies.
//
// It keeps the bbolt Spool's semantics: per-queue FIFO in arrival order, a
// seq per item that only grows, bounds on the items and bytes held (all
// replicas together; Append then fails with spool.ErrFull and stores
// nothing, without consuming a seq), spool.ErrNotFound from Remove and
// MarkAttempt, every Item field (header and body bytes included) round
// trips, Attempts counts failed replays, and an undecodable entry is
// skipped by Peek and reported as a *spool.CorruptError naming queue and
// seq. Item.Size is what counts against MaxBytes, as in the bbolt spool.
//
// # Layout
//
// Every key starts with the prefix and the {spool} Cluster hash tag (all
// spool keys in one slot, so one Lua script updates an item and its
// counters atomically); queue names, which hold account ids, are hashed
// (redisconn.HashID) in key names:
//
//	<prefix>{spool}:meta        hash: seq (last handed out), items, bytes (queued),
//	                            u_items, u_bytes (untrusted, queued and dead),
//	                            d_items, d_bytes (dead letters)
//	<prefix>{spool}:queues      hash: n:<id> queue name, c:<id> items, b:<id> bytes
//	<prefix>{spool}:s:<id>      stream: one entry per item, id "<seq>-0"
//	<prefix>{spool}:i:<id>      hash: seq → "<size> <attempts>", plus " u" for an
//	                            untrusted item (entries are immutable)
//	<prefix>{spool}:l:<id>      string: replay lease owner, with a TTL
//	<prefix>{spool}:dead, d:<seq>, deadp   dead letters (see dead_scripts.go)
//
// Entries carry the item's verification (field "v"); entries of earlier
// releases lack it and read as spool.VerifyUnknown (treated as unverified,
// still counted in the main budget).
//
// Spool keys have no TTL on purpose: a held delivery must never vanish
// silently; MaxItems and MaxBytes bound them instead, and an emptied queue
// deletes its keys.
//
// # Replicas
//
// Every replica may Append. Replay is coordinated by a lease per queue:
// Peek claims the queue for Options.Lease (renewed by Peek, Remove and
// MarkAttempt), and returns nothing to other instances meanwhile, so two
// replicas never send the same item at the same time and order holds.
// Close releases the claims at once; a dead replica's claims expire after
// Lease. Delivery stays at-least-once, as with the bbolt spool: a replica
// dying between the app's 2xx and Remove leaves the item to be sent again.
//
// # Durability
//
// Redis acknowledges an Append once the item is in memory. For held events
// to survive a Redis crash, run Redis with AOF (appendfsync everysec loses
// at most about a second) and a replica; without persistence a restart of
// Redis loses the held events (the bbolt spool fsyncs every commit).
package redisq
