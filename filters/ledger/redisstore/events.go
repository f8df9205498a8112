package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// EventSeen implements ledger.Store. An entry whose value does not decode
// reads as not seen, as in ledger.Memory.
func (s *Store) EventSeen(ctx context.Context, id string) (bool, error) {
	octx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	cmd := s.client.Get(octx, s.eventKey(id))
	if err := s.observe(ctx, cmd.Err()); err != nil && !isWrongType(err) {
		return false, fmt.Errorf("redisstore: event seen: %w", err)
	}
	return s.unexpired(cmd), nil
}

// EventsSeen reports for each id whether it was forwarded and accepted
// within the dedup window, in one pipelined round trip. On a transport
// error or timeout the result is nil.
func (s *Store) EventsSeen(ctx context.Context, ids []string) ([]bool, error) {
	seen := make([]bool, len(ids))
	if len(ids) == 0 {
		return seen, nil
	}
	octx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	cmds := make([]*redis.StringCmd, len(ids))
	_, err := s.client.Pipelined(octx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Get(octx, s.eventKey(id))
		}
		return nil
	})
	if err := s.observe(ctx, pipelineErr(err, cmds)); err != nil {
		return nil, fmt.Errorf("redisstore: events seen (%d ids): %w", len(ids), err)
	}
	for i, c := range cmds {
		seen[i] = s.unexpired(c)
	}
	return seen, nil
}

// unexpired reports whether a fetched dedup entry (its value is the expiry
// stamp) is still within the window by the store's clock.
func (s *Store) unexpired(c *redis.StringCmd) bool {
	if c.Err() != nil {
		return false
	}
	exp, err := decTime(c.Val())
	return err == nil && s.opts.Now().Before(exp)
}

// pipelineErr reduces a pipeline's outcome to the failure that makes the
// whole batch unanswerable. Pipelined reports the first failed command,
// which may be a mere missing key (redis.Nil) or one corrupt key
// (WRONGTYPE, handled per key by the caller) hiding a real failure further
// on, so every command is checked.
func pipelineErr[C interface{ Err() error }](err error, cmds []C) error {
	if err == nil {
		return nil
	}
	for _, c := range cmds {
		if e := c.Err(); e != nil && !errors.Is(e, redis.Nil) && !isWrongType(e) {
			return e
		}
	}
	return nil
}

// MarkEvent implements ledger.Store.
func (s *Store) MarkEvent(ctx context.Context, id string) error {
	octx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	exp := s.opts.Now().Add(s.opts.DedupWindow)
	if err := s.observe(ctx, s.client.Set(octx, s.eventKey(id), encTime(exp), s.opts.DedupWindow).Err()); err != nil {
		return fmt.Errorf("redisstore: mark event: %w", err)
	}
	return nil
}

// MarkEvents remembers several forwarded, accepted event ids in one
// pipelined round trip.
func (s *Store) MarkEvents(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	octx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	val := encTime(s.opts.Now().Add(s.opts.DedupWindow))
	_, err := s.client.Pipelined(octx, func(p redis.Pipeliner) error {
		for _, id := range ids {
			p.Set(octx, s.eventKey(id), val, s.opts.DedupWindow)
		}
		return nil
	})
	if err := s.observe(ctx, err); err != nil {
		return fmt.Errorf("redisstore: mark events (%d ids): %w", len(ids), err)
	}
	return nil
}
