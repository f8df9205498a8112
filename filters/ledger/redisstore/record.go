package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loopguard/loopguard/filters/ledger"
)

// fixedArgs is the number of script arguments before the field pairs.
const (
	fixedArgsWrite = 6
	fixedArgsSeen  = 5
)

// RecordWrite implements ledger.Store in one round trip (a Lua script).
func (s *Store) RecordWrite(ctx context.Context, k ledger.Key, fields []ledger.Field, fp uint64, at time.Time) error {
	now := s.opts.Now()
	args := make([]any, 0, fixedArgsWrite+2*len(fields))
	args = s.cutoffs(args, now)
	args = append(args, encTime(at), ttlMillis(at, now, s.opts.WriteTTL), encHash(fp), hashBytes*ledger.MaxPending)
	args = appendFields(args, fields)
	if err := s.runScript(ctx, s.write, k, args); err != nil {
		return fmt.Errorf("redisstore: record write: %w", err)
	}
	return nil
}

// RecordSeen implements ledger.Store in one round trip (a Lua script).
func (s *Store) RecordSeen(ctx context.Context, k ledger.Key, fields []ledger.Field, at time.Time) error {
	now := s.opts.Now()
	args := make([]any, 0, fixedArgsSeen+2*len(fields))
	args = s.cutoffs(args, now)
	args = append(args, encTime(at), ttlMillis(at, now, s.opts.SeenTTL), "")
	args = appendFields(args, fields)
	if err := s.runScript(ctx, s.seen, k, args); err != nil {
		return fmt.Errorf("redisstore: record seen: %w", err)
	}
	return nil
}

// cutoffs appends the write and seen expiry cut-offs at now: a stamp
// strictly older than its cut-off has expired (as in ledger.Memory, a write
// is still pending at exactly WriteTTL).
func (s *Store) cutoffs(args []any, now time.Time) []any {
	return append(args, encTime(now.Add(-s.opts.WriteTTL)), encTime(now.Add(-s.opts.SeenTTL)))
}

func appendFields(args []any, fields []ledger.Field) []any {
	for _, f := range fields {
		args = append(args, f.Name, encHash(f.Hash))
	}
	return args
}

func (s *Store) runScript(ctx context.Context, sc *redis.Script, k ledger.Key, args []any) error {
	octx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	return s.observe(ctx, sc.Run(octx, s.client, []string{s.recordKey(k)}, args...).Err())
}

// Get implements ledger.Store in one round trip. The fields come back
// sorted by name.
func (s *Store) Get(ctx context.Context, k ledger.Key, st *ledger.State) (bool, error) {
	octx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	m, err := s.client.HGetAll(octx, s.recordKey(k)).Result()
	if err := s.observe(ctx, err); err != nil {
		resetState(st)
		return false, fmt.Errorf("redisstore: get: %w", err)
	}
	ok, err := s.load(m, st)
	if err != nil {
		return false, fmt.Errorf("redisstore: get: %w", err)
	}
	return ok, nil
}

// GetMany loads the states of keys into sts (same length, slices reused)
// in one pipelined round trip, so an inbound batch costs one round trip
// for the ledger layers instead of one per event. On a transport error or
// timeout the result is nil. A record that cannot be decoded reads as
// unknown and is reported in the error while the other results stay valid.
func (s *Store) GetMany(ctx context.Context, keys []ledger.Key, sts []ledger.State) ([]bool, error) {
	if len(keys) != len(sts) {
		return nil, fmt.Errorf("redisstore: get many: %d keys but %d states", len(keys), len(sts))
	}
	oks := make([]bool, len(keys))
	if len(keys) == 0 {
		return oks, nil
	}
	octx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	cmds := make([]*redis.MapStringStringCmd, len(keys))
	_, err := s.client.Pipelined(octx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HGetAll(octx, s.recordKey(k))
		}
		return nil
	})
	if err := s.observe(ctx, pipelineErr(err, cmds)); err != nil {
		for i := range sts {
			resetState(&sts[i])
		}
		return nil, fmt.Errorf("redisstore: get many (%d keys): %w", len(keys), err)
	}
	var errs []error
	for i, c := range cmds {
		var ok bool
		err := c.Err()
		if err == nil {
			ok, err = s.load(c.Val(), &sts[i])
		} else {
			resetState(&sts[i])
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("key %d: %w", i, err))
		}
		oks[i] = ok
	}
	if len(errs) > 0 {
		return oks, fmt.Errorf("redisstore: get many: %w", errors.Join(errs...))
	}
	return oks, nil
}

// load decodes and prunes a fetched record; ok is false when nothing is
// known. A corrupt record leaves st empty.
func (s *Store) load(m map[string]string, st *ledger.State) (bool, error) {
	if len(m) == 0 {
		resetState(st)
		return false, nil
	}
	if err := decodeRecord(m, st); err != nil {
		resetState(st)
		return false, err
	}
	prune(st, s.opts.Now(), s.opts.WriteTTL, s.opts.SeenTTL)
	return known(st), nil
}

// RecordSeenMany is RecordSeen for several records (fields[i] of keys[i])
// in one pipelined round trip: the app's acceptance of a whole delivery.
func (s *Store) RecordSeenMany(ctx context.Context, keys []ledger.Key, fields [][]ledger.Field, at time.Time) error {
	if len(keys) != len(fields) {
		return fmt.Errorf("redisstore: record seen many: %d keys but %d field lists", len(keys), len(fields))
	}
	if len(keys) == 0 {
		return nil
	}
	now := s.opts.Now()
	octx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	run := func(eval bool) ([]redis.Cmder, error) {
		return s.client.Pipelined(octx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				args := make([]any, 0, fixedArgsSeen+2*len(fields[i]))
				args = s.cutoffs(args, now)
				args = append(args, encTime(at), ttlMillis(at, now, s.opts.SeenTTL), "")
				args = appendFields(args, fields[i])
				if eval {
					s.seen.Eval(octx, p, []string{s.recordKey(k)}, args...)
				} else {
					s.seen.EvalSha(octx, p, []string{s.recordKey(k)}, args...)
				}
			}
			return nil
		})
	}
	_, err := run(false)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		_, err = run(true) // first use on this server: send the script itself
	}
	if err := s.observe(ctx, err); err != nil {
		return fmt.Errorf("redisstore: record seen many (%d records): %w", len(keys), err)
	}
	return nil
}
