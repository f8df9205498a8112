package breaker

import (
	"sync"
	"testing"
	"time"
)

// t0 is the fake clock's start, on a minute boundary.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a manually advanced clock safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newBreakers builds Breakers on a fake clock or fails the test.
func newBreakers(t testing.TB, cfg Config) (*Breakers, *fakeClock) {
	t.Helper()
	clk := newClock()
	b, err := New(cfg, clk.Now)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return b, clk
}

// newLoops builds Loops on a fake clock or fails the test.
func newLoops(t testing.TB, cfg LoopConfig) (*Loops, *fakeClock) {
	t.Helper()
	clk := newClock()
	l, err := NewLoops(cfg, clk.Now)
	if err != nil {
		t.Fatalf("NewLoops(%+v): %v", cfg, err)
	}
	return l, clk
}

// quota is an observation of a window of limit with used calls used.
func quota(limit, used int64, reset time.Time) Observation {
	return Observation{Limit: limit, Remaining: limit - used, Reset: reset, StatusCode: 200}
}

// ok200 is a successful response without quota information.
var ok200 = Observation{Limit: Unknown, Remaining: Unknown, StatusCode: 200}

// mustStatus returns k's status or fails the test.
func mustStatus(t *testing.T, b *Breakers, k Key) Status {
	t.Helper()
	st, ok := b.Status(k)
	if !ok {
		t.Fatalf("Status(%v): unknown key", k)
	}
	return st
}

// transitions records OnChange calls.
type transitions struct {
	mu  sync.Mutex
	got []Status
}

func (tr *transitions) add(st Status) {
	tr.mu.Lock()
	tr.got = append(tr.got, st)
	tr.mu.Unlock()
}

func (tr *transitions) states() []State {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make([]State, len(tr.got))
	for i, st := range tr.got {
		out[i] = st.State
	}
	return out
}
