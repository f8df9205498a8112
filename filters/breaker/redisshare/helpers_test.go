package redisshare

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// testTimeout is generous for a loaded CI machine under the race detector.
const testTimeout = 2 * time.Second

// newTestShare builds a Share on the test Redis (or opts.URL), closed at
// test end.
func newTestShare(t testing.TB, opts Options) *Share {
	t.Helper()
	if opts.Client == nil && opts.URL == "" {
		opts.URL = redistest.URL(t)
	}
	if opts.Timeout == 0 {
		opts.Timeout = testTimeout
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// recorder collects the statuses Run applies.
type recorder struct {
	mu  sync.Mutex
	got []breaker.Status
	ch  chan breaker.Status
}

func newRecorder() *recorder { return &recorder{ch: make(chan breaker.Status, 64)} }

func (r *recorder) apply(st breaker.Status) {
	r.mu.Lock()
	r.got = append(r.got, st)
	r.mu.Unlock()
	r.ch <- st
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// next waits up to within for the next applied status.
func (r *recorder) next(t *testing.T, within time.Duration) (breaker.Status, time.Duration) {
	t.Helper()
	start := time.Now()
	select {
	case st := <-r.ch:
		return st, time.Since(start)
	case <-time.After(within):
		t.Fatalf("no status applied within %v", within)
		return breaker.Status{}, 0
	}
}

// run starts s.Run until the test ends.
func run(t *testing.T, s *Share, apply func(breaker.Status)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx, apply)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// openStatus is an open breaker for acme until now+d, at ms precision.
func openStatus(account string, d time.Duration) breaker.Status {
	now := time.Now().Truncate(time.Millisecond)
	return breaker.Status{
		Key: breaker.Key{Provider: "hubspot", Account: account}, State: breaker.Open,
		Reason: breaker.Upstream429, Detail: "upstream throttled (status 429)",
		OpenUntil: now.Add(d), Since: now, Limit: breaker.Unknown, Remaining: breaker.Unknown, UsedFraction: -1,
	}
}

// waitSubscribers waits until n clients listen on s's change channel (a
// Run subscribes asynchronously).
func waitSubscribers(t *testing.T, s *Share, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		subs, err := s.client.PubSubNumSub(t.Context(), s.channel).Result()
		if err == nil && subs[s.channel] >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers on %s after 5s (%v), want %d", subs[s.channel], s.channel, err, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pollCounter counts the polls Run makes on a Share's client (each reads
// the index of open breakers once).
type pollCounter struct{ n atomic.Int64 }

func countPolls(s *Share) *pollCounter {
	c := &pollCounter{}
	s.client.AddHook(c)
	return c
}

func (c *pollCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *pollCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "zrangebyscore" {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (c *pollCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// waitPolls waits until Run has begun two more polls than it had when
// called, so one whole poll ran after the call (polls never overlap).
func (c *pollCounter) waitPolls(t *testing.T) {
	t.Helper()
	want := c.n.Load() + 2
	deadline := time.Now().Add(3*DefaultPollInterval + 5*time.Second)
	for c.n.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("Run polled %d times, want %d", c.n.Load(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
