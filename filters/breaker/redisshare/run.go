package redisshare

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loopguard/loopguard/filters/breaker"
)

// Run applies other replicas' breaker changes until ctx is done: it
// listens to the change channel and, as a fallback for lost messages (pub/sub
// is fire-and-forget, and a reconnect loses what was sent meanwhile), reads
// every open breaker each PollInterval. apply is called from Run's goroutine
// with each remote change: an Open status (trip the local breaker until its
// OpenUntil) or a Closed one (reset it); see ApplyTo. Changes this Share
// published itself are never applied. Run also publishes what Notify
// queued. Redis being down only delays all this: Run keeps retrying.
func (s *Share) Run(ctx context.Context, apply func(breaker.Status)) {
	sub := s.client.Subscribe(ctx, s.channel)
	defer func() { _ = sub.Close() }()
	msgs := sub.Channel()
	tick := time.NewTicker(s.opts.PollInterval)
	defer tick.Stop()
	r := runner{s: s, apply: apply, open: make(map[string]wire)}
	r.poll(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok { // closed client: keep polling until ctx ends
				msgs = nil
				continue
			}
			w, err := decodeWire([]byte(m.Payload))
			if err != nil {
				s.report(err)
				continue
			}
			r.handle(w)
		case <-tick.C:
			r.poll(ctx)
		case <-s.kick:
			s.flush(ctx)
		}
	}
}

// flush publishes what Notify queued.
func (s *Share) flush(ctx context.Context) {
	s.mu.Lock()
	batch := maps.Clone(s.pending)
	clear(s.pending)
	s.mu.Unlock()
	for _, st := range batch {
		if err := s.Publish(ctx, st); err != nil {
			s.report(err)
		}
	}
}

func (s *Share) report(err error) {
	if s.opts.OnError != nil {
		s.opts.OnError(err)
	}
}

// runner is Run's state; only Run's goroutine touches it.
type runner struct {
	s     *Share
	apply func(breaker.Status)
	open  map[string]wire // member → remote open record last applied
}

// handle applies one remote record unless it is ours or already applied.
func (r *runner) handle(w wire) {
	if w.Origin == r.s.origin {
		return
	}
	m := member(w.key())
	st := w.status()
	if prev, ok := r.open[m]; ok && st.State == breaker.Open && prev.Until == w.Until && prev.Reason == w.Reason {
		return
	}
	if st.State == breaker.Open {
		r.open[m] = w
	} else {
		delete(r.open, m)
	}
	r.s.mu.Lock()
	r.s.remote[m] = remoteState{state: st.State, until: w.Until, at: r.s.opts.Now()}
	r.s.mu.Unlock()
	r.apply(st) // outside the lock: apply's OnChange calls Notify
}

// poll reads every open breaker and applies what changed; a remote breaker
// that vanished well before its end was closed by a message this Share
// missed.
func (r *runner) poll(ctx context.Context) {
	recs, err := r.s.openRecords(ctx)
	if err != nil {
		r.s.report(err)
		return
	}
	present := make(map[string]bool, len(recs))
	for _, w := range recs {
		present[member(w.key())] = true
		r.handle(w)
	}
	now := r.s.opts.Now()
	for m, w := range r.open {
		if present[m] {
			continue
		}
		if fromNano(w.Until).After(now.Add(closeGrace)) {
			closed := w
			closed.State, closed.Reason, closed.Detail, closed.Until = breaker.Closed.String(), breaker.None.String(), "closed by another replica", 0
			r.handle(closed)
			continue
		}
		delete(r.open, m) // expired: the local breaker turns half-open by itself
	}
	r.s.forgetRemote(now)
}

// forgetRemote drops echo-suppression entries that can no longer matter:
// open periods that ended, closes applied long ago.
func (s *Share) forgetRemote(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for m, rs := range s.remote {
		if (rs.state == breaker.Open && fromNano(rs.until).Before(now)) || now.Sub(rs.at) > remoteMemory {
			delete(s.remote, m)
		}
	}
}

// openRecords loads every breaker open at now: the index, then the records
// (two round trips, both within one Cluster slot).
func (s *Share) openRecords(ctx context.Context) ([]wire, error) {
	octx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	now := s.opts.Now().UnixMilli()
	members, err := s.client.ZRangeByScore(octx, s.index, &redis.ZRangeBy{Min: fmt.Sprintf("(%d", now), Max: "+inf"}).Result()
	if err != nil {
		return nil, fmt.Errorf("redisshare: poll index: %w", err)
	}
	if len(members) == 0 {
		return nil, nil
	}
	keys := make([]string, len(members))
	for i, m := range members {
		keys[i] = s.keyPrefix + m
	}
	vals, err := s.client.MGet(octx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("redisshare: poll records: %w", err)
	}
	out := make([]wire, 0, len(vals))
	for _, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue // expired between the two reads
		}
		w, err := decodeWire([]byte(str))
		if err != nil {
			s.report(err)
			continue
		}
		out = append(out, w)
	}
	return out, nil
}
