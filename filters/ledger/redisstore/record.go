package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loopguard/loopguard/filters/ledger"
)

// maxCASAttempts bounds the retries of one update under contention; each
// retry first waits a random moment of up to attempt × casBackoff, so
// concurrent writers of one record spread out. The store's Timeout bounds
// the whole update.
const (
	maxCASAttempts = 32
	casBackoff     = 200 * time.Microsecond
)

var errContention = errors.New("record changed concurrently too often")

// RecordWrite implements ledger.Store: read, State.ApplyWrite, set if
// unchanged (two round trips; more under contention).
func (s *Store) RecordWrite(ctx context.Context, k ledger.Key, w ledger.Write) error {
	if err := s.update(ctx, k, func(st *ledger.State) { st.ApplyWrite(&w) }); err != nil {
		return fmt.Errorf("redisstore: record write: %w", err)
	}
	return nil
}

// Accept implements ledger.Store like RecordWrite, with State.ApplyAccept.
func (s *Store) Accept(ctx context.Context, k ledger.Key, a ledger.Accept) error {
	if err := s.update(ctx, k, func(st *ledger.State) { st.ApplyAccept(&a) }); err != nil {
		return fmt.Errorf("redisstore: accept: %w", err)
	}
	return nil
}

func (s *Store) update(ctx context.Context, k ledger.Key, change func(*ledger.State)) error {
	key := s.recordKey(k)
	octx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	for attempt := range maxCASAttempts {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(rand.Int64N(int64(attempt) * int64(casBackoff)))):
			case <-octx.Done():
				return octx.Err()
			}
		}
		old, err := s.client.Get(octx, key).Result()
		if err := s.observe(ctx, err); err != nil && !isWrongType(err) {
			return err
		}
		var st ledger.State
		s.decode(old, &st)
		change(&st)
		ok, err := s.cas(octx, key, old, &st)
		if err := s.observe(ctx, err); err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return errContention
}

// decode reads a fetched value into st, pruned by the store's clock; a
// missing or corrupt value reads as nothing known.
func (s *Store) decode(v string, st *ledger.State) {
	if v == "" || ledger.Decode([]byte(v), st) != nil {
		st.Reset()
		return
	}
	st.Prune(s.opts.Now(), s.opts.WriteTTL, s.opts.SeenTTL)
}

func (s *Store) cas(ctx context.Context, key, old string, st *ledger.State) (bool, error) {
	n, err := s.casScript.Run(ctx, s.client, []string{key}, old, ledger.Encode(nil, st), s.ttl(st)).Int()
	return n == 1, err
}

// ttl is how long the record must live, in ms: until its last update plus
// SeenTTL (writes expire sooner and are pruned on read).
func (s *Store) ttl(st *ledger.State) int64 {
	last := st.LastSeen
	if st.LastWrite.After(last) {
		last = st.LastWrite
	}
	return ttlMillis(last, s.opts.Now(), s.opts.SeenTTL)
}

// Get implements ledger.Store in one round trip.
func (s *Store) Get(ctx context.Context, k ledger.Key, st *ledger.State) (bool, error) {
	octx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	v, err := s.client.Get(octx, s.recordKey(k)).Result()
	if err := s.observe(ctx, err); err != nil {
		st.Reset()
		if isWrongType(err) {
			return false, fmt.Errorf("redisstore: get: %w", errCorrupt)
		}
		return false, fmt.Errorf("redisstore: get: %w", err)
	}
	return s.load(v, st)
}

// load decodes and prunes a fetched record; ok is false when nothing is
// known. A corrupt record leaves st empty and is reported.
func (s *Store) load(v string, st *ledger.State) (bool, error) {
	if v == "" {
		st.Reset()
		return false, nil
	}
	if err := ledger.Decode([]byte(v), st); err != nil {
		st.Reset()
		return false, fmt.Errorf("redisstore: get: %w", errCorrupt)
	}
	st.Prune(s.opts.Now(), s.opts.WriteTTL, s.opts.SeenTTL)
	return st.Known(), nil
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
	vals, err := s.getMany(ctx, keys)
	if err != nil {
		for i := range sts {
			sts[i].Reset()
		}
		return nil, fmt.Errorf("redisstore: get many (%d keys): %w", len(keys), err)
	}
	var errs []error
	for i, v := range vals {
		ok, err := s.load(v, &sts[i])
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

// getMany fetches the raw values of keys in one pipelined round trip ("" for
// a missing key or one of another type).
func (s *Store) getMany(ctx context.Context, keys []ledger.Key) ([]string, error) {
	octx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := s.client.Pipelined(octx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(octx, s.recordKey(k))
		}
		return nil
	})
	if err := s.observe(ctx, pipelineErr(err, cmds)); err != nil && !isWrongType(err) {
		return nil, err
	}
	vals := make([]string, len(keys))
	for i, c := range cmds {
		if c.Err() == nil {
			vals[i] = c.Val()
		}
	}
	return vals, nil
}

// AcceptMany is Accept for several records (accs[i] for keys[i]): one
// pipelined read and one pipelined compare-and-set for the whole delivery;
// records changed in between are retried one by one.
func (s *Store) AcceptMany(ctx context.Context, keys []ledger.Key, accs []ledger.Accept) error {
	if len(keys) != len(accs) {
		return fmt.Errorf("redisstore: accept many: %d keys but %d acceptances", len(keys), len(accs))
	}
	if len(keys) == 0 {
		return nil
	}
	olds, err := s.getMany(ctx, keys)
	if err != nil {
		return fmt.Errorf("redisstore: accept many (%d records): %w", len(keys), err)
	}
	// Several acceptances of one record in a delivery apply in order to
	// one state.
	type rec struct {
		key string
		old string
		st  ledger.State
		ks  []int
	}
	byKey := map[string]*rec{}
	var order []*rec
	for i, k := range keys {
		key := s.recordKey(k)
		r := byKey[key]
		if r == nil {
			r = &rec{key: key, old: olds[i]}
			s.decode(r.old, &r.st)
			byKey[key] = r
			order = append(order, r)
		}
		r.st.ApplyAccept(&accs[i])
		r.ks = append(r.ks, i)
	}
	octx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	cmds := make([]*redis.Cmd, len(order))
	run := func(eval bool) error {
		_, err := s.client.Pipelined(octx, func(p redis.Pipeliner) error {
			for j, r := range order {
				args := []any{r.old, ledger.Encode(nil, &r.st), s.ttl(&r.st)}
				if eval {
					cmds[j] = s.casScript.Eval(octx, p, []string{r.key}, args...)
				} else {
					cmds[j] = s.casScript.EvalSha(octx, p, []string{r.key}, args...)
				}
			}
			return nil
		})
		return err
	}
	err = run(false)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		err = run(true) // first use on this server: send the script itself
	}
	if err := s.observe(ctx, err); err != nil {
		return fmt.Errorf("redisstore: accept many (%d records): %w", len(keys), err)
	}
	var errs []error
	for j, r := range order {
		if n, _ := cmds[j].Int(); n == 1 {
			continue
		}
		for _, i := range r.ks { // changed in between: one by one
			if err := s.Accept(ctx, keys[i], accs[i]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
