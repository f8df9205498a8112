// Package ledgertest is the behaviour every ledger.Store must have, as
// tests any store runs against itself: the embedded store and the Redis
// store share one table instead of each keeping a copy.
package ledgertest

import (
	"sync"
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/ledger"
)

// The TTLs the behaviour table runs with.
const (
	writeTTL = 10 * time.Minute
	seenTTL  = 24 * time.Hour
)

// Options are what a store under test is built with.
type Options struct {
	Now               func() time.Time
	WriteTTL, SeenTTL time.Duration
}

// NewStore builds the store under test (closed at test end by the caller's
// cleanup).
type NewStore func(t *testing.T, o Options) ledger.Store

// Clock is a settable test clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts at a fixed instant.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type step struct {
	op     string // "write", "seen" or "advance"
	fields []ledger.Field
	fp     uint64
	d      time.Duration
}

type wantField struct {
	pending []uint64
	seen    uint64
	hasSeen bool
}

func write(fp uint64, fs ...ledger.Field) step { return step{op: "write", fields: fs, fp: fp} }
func seen(fs ...ledger.Field) step             { return step{op: "seen", fields: fs} }
func advance(d time.Duration) step             { return step{op: "advance", d: d} }
func f(name string, h uint64) ledger.Field     { return ledger.Field{Name: name, Hash: h} }

// Semantics runs the behaviour table: pending writes, genuine states, their
// expiry at the TTL boundaries, the pending cap, full-width hashes.
func Semantics(t *testing.T, newStore NewStore) {
	cases := []struct {
		name      string
		steps     []step
		known     bool
		fields    map[string]wantField
		writeFP   uint64
		lastWrite bool
		lastSeen  bool
	}{
		{name: "unknown record", known: false},
		{name: "a write is pending",
			steps: []step{write(99, f("a", 1), f("b", 2))},
			known: true, writeFP: 99, lastWrite: true,
			fields: map[string]wantField{"a": {pending: []uint64{1}}, "b": {pending: []uint64{2}}}},
		{name: "the same value twice is one pending write",
			steps: []step{write(1, f("a", 1)), write(1, f("a", 1))},
			known: true, writeFP: 1, lastWrite: true,
			fields: map[string]wantField{"a": {pending: []uint64{1}}}},
		{name: "writes in flight are kept oldest first",
			steps: []step{write(1, f("a", 1)), write(2, f("a", 2)), write(3, f("a", 3))},
			known: true, writeFP: 3, lastWrite: true,
			fields: map[string]wantField{"a": {pending: []uint64{1, 2, 3}}}},
		{name: "A B A in flight keeps both A writes",
			steps: []step{write(1, f("a", 1)), write(2, f("a", 2)), write(1, f("a", 1))},
			known: true, writeFP: 1, lastWrite: true,
			fields: map[string]wantField{"a": {pending: []uint64{1, 2, 1}}}},
		{name: "pending writes are capped at MaxPending, newest kept",
			steps: []step{write(1, f("a", 1)), write(2, f("a", 2)), write(3, f("a", 3)), write(4, f("a", 4)), write(5, f("a", 5)), write(6, f("a", 6))},
			known: true, writeFP: 6, lastWrite: true,
			fields: map[string]wantField{"a": {pending: []uint64{3, 4, 5, 6}}}},
		{name: "seen clears the pending writes of its fields only",
			steps: []step{write(7, f("a", 1), f("b", 2)), seen(f("a", 5))},
			known: true, writeFP: 7, lastWrite: true, lastSeen: true,
			fields: map[string]wantField{"a": {seen: 5, hasSeen: true}, "b": {pending: []uint64{2}}}},
		{name: "a write after seen keeps the seen value",
			steps: []step{seen(f("a", 5)), write(8, f("a", 1))},
			known: true, writeFP: 8, lastWrite: true, lastSeen: true,
			fields: map[string]wantField{"a": {pending: []uint64{1}, seen: 5, hasSeen: true}}},
		{name: "seen replaces an older seen value",
			steps: []step{seen(f("a", 5)), seen(f("a", 6))},
			known: true, lastSeen: true,
			fields: map[string]wantField{"a": {seen: 6, hasSeen: true}}},
		{name: "a write is still pending at exactly WriteTTL",
			steps: []step{write(1, f("a", 1)), advance(writeTTL)},
			known: true, writeFP: 1, lastWrite: true,
			fields: map[string]wantField{"a": {pending: []uint64{1}}}},
		{name: "a write expires one nanosecond after WriteTTL",
			steps: []step{write(1, f("a", 1)), advance(writeTTL + time.Nanosecond)},
			known: false},
		{name: "a write expires after WriteTTL",
			steps: []step{write(1, f("a", 1)), advance(writeTTL + time.Second)},
			known: false},
		{name: "an expired write leaves the seen state",
			steps: []step{seen(f("b", 7)), write(1, f("a", 1), f("b", 2)), advance(writeTTL + time.Second)},
			known: true, lastSeen: true,
			fields: map[string]wantField{"b": {seen: 7, hasSeen: true}}},
		{name: "seen state expires after SeenTTL",
			steps: []step{seen(f("a", 5)), advance(seenTTL + time.Second)},
			known: false},
		{name: "seen expires while a newer write stays pending",
			steps: []step{seen(f("a", 5)), advance(seenTTL - time.Minute), write(3, f("a", 1)), advance(2 * time.Minute)},
			known: true, writeFP: 3, lastWrite: true,
			fields: map[string]wantField{"a": {pending: []uint64{1}}}},
		{name: "writing again after expiry starts afresh",
			steps: []step{write(1, f("a", 1)), advance(writeTTL + time.Second), write(2, f("a", 2))},
			known: true, writeFP: 2, lastWrite: true,
			fields: map[string]wantField{"a": {pending: []uint64{2}}}},
		{name: "writing at exactly WriteTTL appends",
			steps: []step{write(1, f("a", 1)), advance(writeTTL), write(2, f("a", 2))},
			known: true, writeFP: 2, lastWrite: true,
			fields: map[string]wantField{"a": {pending: []uint64{1, 2}}}},
		{name: "seen after its state expired starts afresh",
			steps: []step{seen(f("a", 5), f("b", 6)), advance(seenTTL + time.Second), seen(f("a", 7))},
			known: true, lastSeen: true,
			fields: map[string]wantField{"a": {seen: 7, hasSeen: true}}},
		{name: "full-width hashes survive",
			steps: []step{write(^uint64(0), f("a", ^uint64(0)), f("b", 1<<63)), seen(f("c", 1<<63|1))},
			known: true, writeFP: ^uint64(0), lastWrite: true, lastSeen: true,
			fields: map[string]wantField{"a": {pending: []uint64{^uint64(0)}}, "b": {pending: []uint64{1 << 63}}, "c": {seen: 1<<63 | 1, hasSeen: true}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := NewClock()
			s := newStore(t, Options{Now: clock.Now, WriteTTL: writeTTL, SeenTTL: seenTTL})
			k := ledger.Key{Provider: "generic", Object: "contacts", Record: "c1"}
			for _, st := range c.steps {
				var err error
				switch st.op {
				case "write":
					err = s.RecordWrite(t.Context(), k, st.fields, st.fp, clock.Now())
				case "seen":
					err = s.RecordSeen(t.Context(), k, st.fields, clock.Now())
				case "advance":
					clock.Advance(st.d)
				}
				if err != nil {
					t.Fatalf("%s: %v", st.op, err)
				}
			}
			var st ledger.State
			known, err := s.Get(t.Context(), k, &st)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if known != c.known {
				t.Fatalf("known = %v, want %v (state %+v)", known, c.known, st)
			}
			if st.WriteFP != c.writeFP || st.LastWrite.IsZero() == c.lastWrite || st.LastSeen.IsZero() == c.lastSeen {
				t.Fatalf("record state %+v: want writeFP %d lastWrite %v lastSeen %v", st, c.writeFP, c.lastWrite, c.lastSeen)
			}
			if c.lastWrite && !st.LastWrite.Equal(lastStepTime(c.steps, "write")) {
				t.Fatalf("LastWrite %s, want the last write's time", st.LastWrite)
			}
			if len(st.Fields) != len(c.fields) {
				t.Fatalf("fields %+v, want %d fields", st.Fields, len(c.fields))
			}
			for name, w := range c.fields {
				fs, ok := st.Field(name)
				if !ok {
					t.Fatalf("field %s missing from %+v", name, st.Fields)
				}
				if !equalU64(fs.Pending, w.pending) || fs.HasSeen != w.hasSeen || fs.Seen != w.seen {
					t.Fatalf("field %s = %+v, want pending %v seen %d hasSeen %v", name, *fs, w.pending, w.seen, w.hasSeen)
				}
			}
		})
	}
}

// lastStepTime replays the clock of steps to find when the last op ran.
func lastStepTime(steps []step, op string) time.Time {
	t := NewClock().Now()
	var at time.Time
	for _, s := range steps {
		switch s.op {
		case "advance":
			t = t.Add(s.d)
		case op:
			at = t
		}
	}
	return at
}

func equalU64(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// CustomTTLs checks that a store honours the TTLs it is built with.
func CustomTTLs(t *testing.T, newStore NewStore) {
	clock := NewClock()
	s := newStore(t, Options{Now: clock.Now, WriteTTL: time.Second, SeenTTL: time.Minute})
	k := ledger.Key{Provider: "p", Object: "o", Record: "r"}
	if err := s.RecordSeen(t.Context(), k, []ledger.Field{f("b", 2)}, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordWrite(t.Context(), k, []ledger.Field{f("a", 1)}, 1, clock.Now()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	var st ledger.State
	ok, err := s.Get(t.Context(), k, &st)
	if _, has := st.Field("a"); err != nil || !ok || has {
		t.Fatalf("after WriteTTL: known %v err %v, state %+v; want a gone, b kept", ok, err, st)
	}
	clock.Advance(time.Minute)
	if ok, err := s.Get(t.Context(), k, &st); err != nil || ok {
		t.Fatalf("after SeenTTL: known %v err %v: %+v", ok, err, st)
	}
}
