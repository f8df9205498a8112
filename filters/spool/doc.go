// Package spool is the durable hold for inbound webhook deliveries.
//
// When the inbound proxy cannot hand a delivery to the app right now (a
// per-account breaker is open, the record is quarantined, or the app is down
// for a provider that never redelivers such as GitHub, Pipedrive or Asana) it
// appends the delivery to a Spool and answers the provider 200. A Replayer
// later sends held deliveries to the app in arrival order per queue and
// removes each one only after the app answered 2xx. Nothing is dropped
// silently: when a bound would be exceeded Append returns ErrFull and the
// proxy answers 503 so the provider retries instead.
//
// # Verification and budgets
//
// Every item records whether its delivery's signature verified
// (Item.Verification). Untrusted items (unverified, or unknown: held by an
// earlier release) count against a small budget of their own
// (Options.UnverifiedMaxBytes/Items), so a flood of forged deliveries can
// never take the space of genuine ones; trusted items count against
// MaxBytes/MaxItems. Both budgets count queued items and dead letters.
// MaxItemBytes bounds one item.
//
// # Dead letters
//
// An item the app keeps refusing (DeadPolicy: a 4xx at once, a 5xx after
// MaxAttempts, anything but "no answer" after MaxAge) is moved, in one
// transaction, out of its queue into the dead letters, and the queue goes
// on in order. Dead letters stay (and keep their space) until an operator
// requeues (at the end of its queue) or deletes them.
//
// # Storage layout
//
// The spool is one bbolt file:
//
//	meta            bucket: "format" = 1 byte format version (1),
//	                        "items"  = uint64 big-endian count of queued items,
//	                        "bytes"  = uint64 big-endian sum of their record sizes,
//	                        "u_items", "u_bytes" = untrusted items, queued and dead,
//	                        "d_items", "d_bytes" = dead letters (absent keys read 0);
//	                        the bucket's bbolt sequence is the last Seq handed out.
//	queues          bucket holding one nested bucket per queue name;
//	  <queue>       key = Seq as 8-byte big-endian (cursor order = arrival order),
//	                value = one encoded record (below).
//	dead            key = the dead letter's Seq, value = a dead record (see dead.go).
//	deadcount       key = provider, value = uint64 big-endian dead letters.
//
// Counters and the sequence change in the same transaction as the records,
// so they survive a crash consistently and Seq is never reused.
//
// # Record encoding (version 2)
//
// A record is compact binary; Queue and Seq are not stored in it because they
// are the bucket name and key.
//
//	offset 0   1 byte    version (2)
//	offset 1   4 bytes   Attempts, uint32 big-endian (fixed so MarkAttempt can patch it)
//	offset 5   8 bytes   HeldAt, Unix nanoseconds, int64 big-endian
//	offset 13  1 byte    Verification
//	offset 14  strings   Provider, Account, Record, Reason, Method, Path,
//	                     each uvarint length + bytes
//	           header    uvarint key count; per key (sorted): uvarint length + key,
//	                     uvarint value count, per value uvarint length + bytes
//	           body      uvarint length + bytes
//	last 4     4 bytes   CRC-32C (Castagnoli) of everything before it, big-endian
//
// Version-1 records (earlier releases) lack the Verification byte: they read
// as VerifyUnknown and stay counted in the main budget, where they were
// counted when held.
//
// A record that fails the checksum, has an unknown version or does not parse
// is reported as a *CorruptError naming the queue and seq; it is never
// silently dropped and never causes a panic. The size a record counts
// against Options.MaxBytes is its encoded length (body, headers and the few
// metadata bytes), i.e. what it occupies on disk before bbolt overhead.
package spool
