package redisq

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loopguard/loopguard/filters/spool"
)

// Append holds it and returns its seq (increasing across all replicas,
// never reused while Redis keeps its data). it.Seq is ignored; a zero
// HeldAt becomes now. It returns an error wrapping spool.ErrFull, and
// stores nothing, when MaxItems or MaxBytes would be exceeded. Durability
// is Redis's: configure AOF (appendfsync everysec or always) and replicas
// for held events to survive a Redis crash.
func (q *Queue) Append(it spool.Item) (uint64, error) {
	if it.HeldAt.IsZero() {
		it.HeldAt = q.opts.Now()
	}
	if err := validate(&it); err != nil {
		return 0, fmt.Errorf("redisq: append: %w", err)
	}
	k := q.keysFor(it.Queue)
	size := it.Size()
	if int64(size) > q.budget.MaxItemBytes {
		return 0, fmt.Errorf("redisq: append to queue %q: %w: %d bytes, MaxItemBytes %d", it.Queue, spool.ErrTooLarge, size, q.budget.MaxItemBytes)
	}
	untrusted := !it.Verification.Trusted()
	flag := "0"
	if untrusted {
		flag = "1"
	}
	args := make([]any, 0, 9+2*entryFields)
	args = append(args, q.budget.MaxItems, q.budget.MaxBytes, size, k.id, it.Queue, it.Attempts, flag,
		q.budget.UnverifiedMaxItems, q.budget.UnverifiedMaxBytes)
	args = entryArgs(args, &it)
	ctx, cancel := q.ctx()
	defer cancel()
	res, err := q.appendSc.Run(ctx, q.client, []string{q.meta, q.queues, k.stream, k.info}, args...).Int64Slice()
	if err != nil {
		return 0, fmt.Errorf("redisq: append to queue %q: %w", it.Queue, err)
	}
	if len(res) != 2 {
		return 0, fmt.Errorf("redisq: append to queue %q: unexpected reply %v", it.Queue, res)
	}
	items, bytes, maxItems, maxBytes := "MaxItems", "MaxBytes", q.budget.MaxItems, q.budget.MaxBytes
	if untrusted {
		items, bytes, maxItems, maxBytes = "UnverifiedMaxItems", "UnverifiedMaxBytes", q.budget.UnverifiedMaxItems, q.budget.UnverifiedMaxBytes
	}
	switch res[0] {
	case 1:
		return uint64(res[1]), nil
	case 0:
		return 0, fmt.Errorf("redisq: append to queue %q: %w: %d items held, %s %d", it.Queue, spool.ErrFull, res[1], items, maxItems)
	default:
		return 0, fmt.Errorf("redisq: append to queue %q: %w: %d bytes held + %d for this item exceeds %s %d",
			it.Queue, spool.ErrFull, res[1], size, bytes, maxBytes)
	}
}

// Peek returns up to n items of queue, oldest first, without removing them,
// and claims the queue for this instance's replay: while the claim (lease,
// Options.Lease, renewed by Peek, Remove and MarkAttempt) is held, Peek on
// other instances returns no items for the queue, so two replicas never
// send one item concurrently and per-queue order holds. Close releases the
// claims; a dead replica's expire. Use Inspect to look without claiming.
// Undecodable entries are skipped and reported as *spool.CorruptError
// values alongside the good items; an unknown queue yields nothing.
func (q *Queue) Peek(queue string, n int) ([]spool.Item, error) {
	return q.peek(queue, n, true)
}

// Inspect is Peek without claiming the queue, for admin views.
func (q *Queue) Inspect(queue string, n int) ([]spool.Item, error) {
	return q.peek(queue, n, false)
}

func (q *Queue) peek(queue string, n int, claim bool) ([]spool.Item, error) {
	if n <= 0 {
		return nil, fmt.Errorf("redisq: peek queue %q: n must be positive, got %d", queue, n)
	}
	k := q.keysFor(queue)
	claimArg := "0"
	if claim {
		claimArg = "1"
		q.mu.Lock()
		q.leased[queue] = true
		q.mu.Unlock()
	}
	ctx, cancel := q.ctx()
	defer cancel()
	res, err := q.peekSc.Run(ctx, q.client, []string{k.stream, k.info, k.lease}, n, q.owner, q.opts.Lease.Milliseconds(), claimArg).Slice()
	if err != nil {
		return nil, fmt.Errorf("redisq: peek queue %q: %w", queue, err)
	}
	if len(res) == 1 { // leased by another instance
		return nil, nil
	}
	entries, _ := res[1].([]any)
	infos, _ := res[2].([]any)
	if len(res) != 3 || len(entries) != len(infos) {
		return nil, fmt.Errorf("redisq: peek queue %q: unexpected reply shape", queue)
	}
	items := make([]spool.Item, 0, len(entries))
	var bad []error
	for i, e := range entries {
		it, seq, err := decodeItem(e, infos[i])
		if err != nil {
			bad = append(bad, &spool.CorruptError{Queue: queue, Seq: seq, Err: err})
			continue
		}
		it.Queue = queue
		items = append(items, it)
	}
	if len(bad) > 0 {
		return items, fmt.Errorf("redisq: peek queue %q: skipped %d unreadable record(s): %w", queue, len(bad), errors.Join(bad...))
	}
	return items, nil
}

// decodeItem rebuilds one item from an XRANGE entry and its info value.
func decodeItem(e, info any) (spool.Item, uint64, error) {
	pair, _ := e.([]any)
	if len(pair) != 2 {
		return spool.Item{}, 0, errors.New("malformed stream entry")
	}
	id, _ := pair[0].(string)
	seq, err := parseID(id)
	if err != nil {
		return spool.Item{}, 0, err
	}
	kv, _ := pair[1].([]any)
	var it spool.Item
	if err := decodeEntry(kv, &it); err != nil {
		return spool.Item{}, seq, err
	}
	s, _ := info.(string)
	if _, it.Attempts, err = parseInfo(s); err != nil {
		return spool.Item{}, seq, err
	}
	it.Seq = seq
	return it, seq, nil
}

// removedLast is removeScript's answer when the queue is now empty.
const removedLast = 2

// Remove deletes one item (after the app accepted it), freeing its space;
// an emptied queue disappears from Queues. It returns an error wrapping
// spool.ErrNotFound when the queue holds no such item. It works on
// undecodable entries too.
func (q *Queue) Remove(queue string, seq uint64) error {
	k := q.keysFor(queue)
	ctx, cancel := q.ctx()
	defer cancel()
	n, err := q.removeSc.Run(ctx, q.client, []string{q.meta, q.queues, k.stream, k.info, k.lease},
		q.owner, q.opts.Lease.Milliseconds(), seq, k.id).Int64()
	if err == nil && n == 0 {
		err = spool.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("redisq: remove queue %q seq %d: %w", queue, seq, err)
	}
	if n == removedLast { // its lease went with it
		q.mu.Lock()
		delete(q.leased, queue)
		q.mu.Unlock()
	}
	return nil
}

// MarkAttempt records one failed replay of an item by incrementing its
// Attempts (saturating at MaxUint32). It returns an error wrapping
// spool.ErrNotFound when the queue holds no such item.
func (q *Queue) MarkAttempt(queue string, seq uint64) error {
	k := q.keysFor(queue)
	ctx, cancel := q.ctx()
	defer cancel()
	n, err := q.markSc.Run(ctx, q.client, []string{k.info, k.lease}, q.owner, q.opts.Lease.Milliseconds(), seq, maxAttempts).Int64()
	if err == nil && n == 0 {
		err = spool.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("redisq: mark attempt queue %q seq %d: %w", queue, seq, err)
	}
	return nil
}

// Queues returns one QueueStat per non-empty queue (all replicas), sorted
// by name, in two round trips: the counters, then each queue's oldest item.
func (q *Queue) Queues() ([]spool.QueueStat, error) {
	ctx, cancel := q.ctx()
	defer cancel()
	all, err := q.client.HGetAll(ctx, q.queues).Result()
	if err != nil {
		return nil, fmt.Errorf("redisq: list queues: %w", err)
	}
	var stats []spool.QueueStat
	var ids []string
	for field, name := range all {
		id, ok := strings.CutPrefix(field, "n:")
		if !ok {
			continue
		}
		st := spool.QueueStat{Queue: name, Count: int(counter(all["c:"+id])), Bytes: counter(all["b:"+id])}
		if st.Count > 0 {
			stats = append(stats, st)
			ids = append(ids, id)
		}
	}
	if len(stats) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.XMessageSliceCmd, len(stats))
	_, err = q.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.XRangeN(ctx, q.keyPrefix+"s:"+id, "-", "+", 1)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redisq: list queues: oldest items: %w", err)
	}
	for i, c := range cmds {
		if msgs := c.Val(); len(msgs) == 1 {
			stats[i].Oldest = heldAt(msgs[0].Values[fieldHeldAt])
		}
	}
	slices.SortFunc(stats, func(a, b spool.QueueStat) int { return strings.Compare(a.Queue, b.Queue) })
	return stats, nil
}

// heldAt reads an entry's held-at field; unreadable is the zero time.
func heldAt(v any) time.Time {
	s, _ := v.(string)
	ns := counter(s)
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
