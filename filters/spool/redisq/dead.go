package redisq

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loopguard/loopguard/filters/spool"
)

var _ spool.DeadLetters = (*Queue)(nil)

func (q *Queue) deadSet() string           { return q.keyPrefix + "dead" }
func (q *Queue) deadHash(id uint64) string { return q.keyPrefix + "d:" + strconv.FormatUint(id, 10) }
func (q *Queue) deadPerProvider() string   { return q.keyPrefix + "deadp" }
func notFound(op string, id uint64) error {
	return fmt.Errorf("redisq: %s %d: %w", op, id, spool.ErrNotFound)
}
func wrapDead(op string, id uint64, err error) error {
	return fmt.Errorf("redisq: %s %d: %w", op, id, err)
}

// Bury moves one queued item into the dead letters, in one script.
func (q *Queue) Bury(queue string, seq uint64, info spool.DeadInfo) error {
	if info.At.IsZero() {
		info.At = q.opts.Now()
	}
	answers, err := json.Marshal(info.Answers)
	if err != nil {
		return fmt.Errorf("redisq: dead-letter queue %q seq %d: answers: %w", queue, seq, err)
	}
	k := q.keysFor(queue)
	ctx, cancel := q.ctx()
	defer cancel()
	n, err := q.burySc.Run(ctx, q.client,
		[]string{q.meta, q.queues, k.stream, k.info, k.lease, q.deadSet(), q.deadHash(seq), q.deadPerProvider()},
		q.owner, q.opts.Lease.Milliseconds(), seq, k.id, queue, string(info.Reason), info.At.UnixNano(),
		info.Attempts, info.LastStatus, info.LastError, answers).Int64()
	if err == nil && n == 0 {
		err = spool.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("redisq: dead-letter queue %q seq %d: %w", queue, seq, err)
	}
	if n == removedLast {
		q.mu.Lock()
		delete(q.leased, queue)
		q.mu.Unlock()
	}
	return nil
}

// listFields are the dead-letter hash fields a listing reads (no header,
// body or answers).
var listFields = []string{deadQueue, fieldHeldAt, fieldProvider, fieldAccount, fieldRecord, fieldReason, fieldMethod,
	fieldPath, fieldVerify, deadSize, deadReason, deadAt, deadAttempts, deadStatus, deadError}

// Dead lists up to limit dead letters, oldest id first, without headers
// and bodies, in two round trips.
func (q *Queue) Dead(limit int) ([]spool.DeadLetter, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("redisq: list dead letters: limit must be positive, got %d", limit)
	}
	ctx, cancel := q.ctx()
	defer cancel()
	ids, err := q.client.ZRange(ctx, q.deadSet(), 0, int64(limit-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("redisq: list dead letters: %w", err)
	}
	cmds := make([]*redis.SliceCmd, len(ids))
	_, err = q.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, s := range ids {
			id, _ := strconv.ParseUint(s, 10, 64)
			cmds[i] = p.HMGet(ctx, q.deadHash(id), listFields...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redisq: list dead letters: %w", err)
	}
	out := make([]spool.DeadLetter, 0, len(ids))
	var bad []error
	for i, c := range cmds {
		id, _ := strconv.ParseUint(ids[i], 10, 64)
		m := map[string]string{}
		for j, v := range c.Val() {
			if s, ok := v.(string); ok {
				m[listFields[j]] = s
			}
		}
		d, err := deadFromFields(id, m, false)
		if err != nil {
			bad = append(bad, &spool.CorruptError{Queue: "dead", Seq: id, Err: err})
			continue
		}
		out = append(out, d)
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("redisq: list dead letters: skipped %d unreadable: %w", len(bad), errors.Join(bad...))
	}
	return out, nil
}

// DeadItem returns one dead letter whole.
func (q *Queue) DeadItem(id uint64) (spool.DeadLetter, error) {
	ctx, cancel := q.ctx()
	defer cancel()
	m, err := q.client.HGetAll(ctx, q.deadHash(id)).Result()
	if err != nil {
		return spool.DeadLetter{}, wrapDead("dead letter", id, err)
	}
	if len(m) == 0 {
		return spool.DeadLetter{}, notFound("dead letter", id)
	}
	d, err := deadFromFields(id, m, true)
	if err != nil {
		return spool.DeadLetter{}, wrapDead("dead letter", id, &spool.CorruptError{Queue: "dead", Seq: id, Err: err})
	}
	return d, nil
}

// deadFromFields rebuilds a dead letter from its hash fields; whole also
// reads the header, body and answers.
func deadFromFields(id uint64, m map[string]string, whole bool) (spool.DeadLetter, error) {
	var d spool.DeadLetter
	d.Seq, d.Queue = id, m[deadQueue]
	if d.Queue == "" || m[fieldMethod] == "" {
		return d, errors.New("dead letter lacks its queue or method")
	}
	d.Provider, d.Account, d.Record, d.Reason = m[fieldProvider], m[fieldAccount], m[fieldRecord], m[fieldReason]
	d.Method, d.Path = m[fieldMethod], m[fieldPath]
	d.HeldAt = heldAt(m[fieldHeldAt])
	if v, ok := m[fieldVerify]; ok {
		n, err := strconv.ParseUint(v, 10, 8)
		if err != nil || spool.Verification(n).String() == "invalid" {
			return d, fmt.Errorf("verification %q unknown", v)
		}
		d.Verification = spool.Verification(n)
	}
	d.Size = counter(m[deadSize])
	d.Info.Reason = spool.DeadReason(m[deadReason])
	if ns := counter(m[deadAt]); ns != 0 {
		d.Info.At = time.Unix(0, ns)
	}
	d.Info.Attempts = int(counter(m[deadAttempts]))
	d.Info.LastStatus = int(counter(m[deadStatus]))
	d.Info.LastError = m[deadError]
	d.Attempts = d.Info.Attempts
	if !whole {
		return d, nil
	}
	h, err := decodeHeader(m[fieldHeader])
	if err != nil {
		return d, err
	}
	d.Header, d.Body = h, []byte(m[fieldBody])
	if a := m[deadAnswers]; a != "" {
		if err := json.Unmarshal([]byte(a), &d.Info.Answers); err != nil {
			return d, fmt.Errorf("answers: %w", err)
		}
	}
	return d, nil
}

// Requeue moves a dead letter back to the end of its queue.
func (q *Queue) Requeue(id uint64) (uint64, error) {
	for range 3 { // the queue name is read first: retry if it changed meanwhile
		ctx, cancel := q.ctx()
		name, err := q.client.HGet(ctx, q.deadHash(id), deadQueue).Result()
		cancel()
		if errors.Is(err, redis.Nil) {
			return 0, notFound("requeue dead letter", id)
		}
		if err != nil {
			return 0, wrapDead("requeue dead letter", id, err)
		}
		k := q.keysFor(name)
		ctx, cancel = q.ctx()
		res, err := q.requeueSc.Run(ctx, q.client,
			[]string{q.meta, q.queues, k.stream, k.info, q.deadSet(), q.deadHash(id), q.deadPerProvider()},
			id, k.id, name, q.opts.Now().UnixNano()).Int64Slice()
		cancel()
		if err != nil {
			return 0, wrapDead("requeue dead letter", id, err)
		}
		switch {
		case len(res) == 2 && res[0] == 1:
			return uint64(res[1]), nil
		case len(res) == 1 && res[0] == 0:
			return 0, notFound("requeue dead letter", id)
		}
	}
	return 0, wrapDead("requeue dead letter", id, errors.New("its queue kept changing"))
}

// DeleteDead discards a dead letter and frees its space.
func (q *Queue) DeleteDead(id uint64) error {
	ctx, cancel := q.ctx()
	defer cancel()
	n, err := q.deleteDeadSc.Run(ctx, q.client, []string{q.meta, q.deadSet(), q.deadHash(id), q.deadPerProvider()}, id).Int64()
	if err != nil {
		return wrapDead("delete dead letter", id, err)
	}
	if n == 0 {
		return notFound("delete dead letter", id)
	}
	return nil
}

// DeadByProvider counts dead letters per provider (all replicas).
func (q *Queue) DeadByProvider() (map[string]int, error) {
	ctx, cancel := q.ctx()
	defer cancel()
	all, err := q.client.HGetAll(ctx, q.deadPerProvider()).Result()
	if err != nil {
		return nil, fmt.Errorf("redisq: dead letters per provider: %w", err)
	}
	out := make(map[string]int, len(all))
	for p, n := range all {
		if c := counter(n); c > 0 {
			out[p] = int(c)
		}
	}
	return out, nil
}

// Stats reports queued, dead and untrusted counts (all replicas).
func (q *Queue) Stats() (spool.Stats, error) {
	ctx, cancel := q.ctx()
	defer cancel()
	v, err := q.client.HMGet(ctx, q.meta, "items", "bytes", "d_items", "d_bytes", "u_items", "u_bytes").Result()
	if err != nil || len(v) != 6 {
		return spool.Stats{}, fmt.Errorf("redisq: stats: %w", err)
	}
	return spool.Stats{Items: int(counter(v[0])), Bytes: counter(v[1]), DeadItems: int(counter(v[2])), DeadBytes: counter(v[3]),
		UnverifiedItems: int(counter(v[4])), UnverifiedBytes: counter(v[5])}, nil
}
