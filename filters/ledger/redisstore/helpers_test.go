package redisstore

import (
	"os"
	"sync"
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// fakeClock is a settable clock for TTL tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testTimeout is generous: the race detector on two shared cores makes
// loopback round trips far slower than in production.
const testTimeout = 2 * time.Second

// newTestStore opens a store on the test Redis under a prefix of its own
// (unless opts names one) and closes it at test end.
func newTestStore(t testing.TB, opts Options) *Store {
	t.Helper()
	if opts.Client == nil && opts.URL == "" {
		opts.URL = redistest.URL(t)
	}
	if opts.Prefix == "" {
		opts.Prefix = redistest.Prefix(t)
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

// mustGet loads the state of k, failing the test on a store error.
func mustGet(t *testing.T, s *Store, k ledger.Key) (ledger.State, bool) {
	t.Helper()
	var st ledger.State
	ok, err := s.Get(t.Context(), k, &st)
	if err != nil {
		t.Fatalf("Get(%s): %v", k, err)
	}
	return st, ok
}

func f(name string, h uint64) ledger.Field { return ledger.Field{Name: name, Hash: h} }

// sameState compares two states by their encoding.
func sameState(a, b *ledger.State) bool {
	return string(ledger.Encode(nil, a)) == string(ledger.Encode(nil, b))
}
