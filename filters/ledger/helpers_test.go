package ledger

import (
	"sync"
	"testing"
	"time"
)

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

// testOptions are small caches on a fake clock with the default TTLs.
func testOptions(c *fakeClock) Options {
	return Options{Shards: 8, MaxSizeMB: 8, Now: c.Now}
}

func newTestMemory(t testing.TB, opts Options) *Memory {
	t.Helper()
	m, err := NewMemory(opts)
	if err != nil {
		t.Fatalf("NewMemory: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

// mustGet loads the state of k, failing the test on a store error.
func mustGet(t *testing.T, m *Memory, k Key) (State, bool) {
	t.Helper()
	var st State
	ok, err := m.Get(t.Context(), k, &st)
	if err != nil {
		t.Fatalf("Get(%s): %v", k, err)
	}
	return st, ok
}
