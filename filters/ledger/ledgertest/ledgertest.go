// Package ledgertest is the behaviour every ledger.Store must have, as
// tests any store runs against itself: the embedded store and the Redis
// store share one table instead of each keeping a copy.
package ledgertest

import (
	"fmt"
	"slices"
	"strings"
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
	op       string // "write", "accept", "settle" or "advance"
	fields   []ledger.Field
	response []ledger.Field
	seq      uint32
	upto     uint32
	at       int64
	nonce    uint64
	d        time.Duration
}

func write(fs ...ledger.Field) step { return step{op: "write", fields: fs} }
func writeResp(fs []ledger.Field, resp ...ledger.Field) step {
	return step{op: "write", fields: fs, response: resp}
}
func sentinelWrite(nonce uint64, fs ...ledger.Field) step {
	return step{op: "write", fields: fs, nonce: nonce}
}
func accept(fs ...ledger.Field) step             { return step{op: "accept", fields: fs} }
func acceptAt(at int64, fs ...ledger.Field) step { return step{op: "accept", fields: fs, at: at} }
func settle(seq uint32, fs ...ledger.Field) step { return step{op: "settle", fields: fs, seq: seq} }
func advance(d time.Duration) step               { return step{op: "advance", d: d} }
func f(name string, h uint64) ledger.Field       { return ledger.Field{Name: name, Hash: h} }

// render is a compact, comparable form of a state: the app's values, then
// each unsettled write as seq[flags]{expected}.
func render(st *ledger.State) string {
	var b strings.Builder
	b.WriteString("app{")
	for i, v := range st.App {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", v.Name, v.Hash)
		if v.At != 0 {
			fmt.Fprintf(&b, "@%d", v.At)
		}
	}
	b.WriteString("}")
	for _, w := range st.Writes {
		fmt.Fprintf(&b, " w%d", w.Seq)
		if w.NoOp {
			b.WriteString("[noop]")
		}
		if w.Nonce != 0 {
			fmt.Fprintf(&b, "[n%d]", w.Nonce)
		}
		b.WriteByte('{')
		for i, e := range w.Expected {
			if i > 0 {
				b.WriteByte(' ')
			}
			mark := ""
			if w.Written&(1<<min(i, 63)) != 0 {
				mark = "*"
			}
			fmt.Fprintf(&b, "%s%s=%d", mark, e.Name, e.Hash)
		}
		b.WriteByte('}')
	}
	return b.String()
}

// Semantics runs the behaviour table: the ordered history (writes with
// their expected states, settling, what the app holds), expiry at the TTL
// boundaries, the write cap and full-width hashes.
func Semantics(t *testing.T, newStore NewStore) {
	cases := []struct {
		name  string
		steps []step
		known bool
		want  string // render(state); "" when unknown
	}{
		{name: "unknown record", want: ""},
		{name: "a write expects its fields and the app holds them",
			steps: []step{write(f("a", 1), f("b", 2))},
			known: true, want: "app{a=1 b=2} w1{*a=1 *b=2}"},
		{name: "a partial write's expected state is the known state overlaid",
			steps: []step{accept(f("a", 5), f("b", 6)), write(f("a", 1))},
			known: true, want: "app{a=1 b=6} w1{*a=1 b=6}"},
		{name: "the response's record is the expected state",
			steps: []step{writeResp([]ledger.Field{f("a", 1)}, f("a", 1), f("b", 9), f("c", 3))},
			known: true, want: "app{a=1} w1{*a=1 b=9 c=3}"},
		{name: "a response showing a change the app has not seen is not a no-op",
			steps: []step{accept(f("a", 5), f("b", 6)), writeResp([]ledger.Field{f("a", 5)}, f("a", 5), f("b", 7))},
			known: true, want: "app{a=5 b=6} w1{*a=5 b=7}"},
		{name: "a write of what the app holds is a no-op",
			steps: []step{accept(f("a", 5)), write(f("a", 5))},
			known: true, want: "app{a=5} w1[noop]{*a=5}"},
		{name: "writes in flight are kept in order, A B A included",
			steps: []step{write(f("a", 1)), write(f("a", 2)), write(f("a", 1))},
			known: true, want: "app{a=1} w1{*a=1} w2{*a=2} w3{*a=1}"},
		{name: "writes are capped at MaxWrites, newest kept",
			steps: []step{write(f("a", 1)), write(f("a", 2)), write(f("a", 3)), write(f("a", 4)), write(f("a", 5)),
				write(f("a", 6)), write(f("a", 7)), write(f("a", 8)), write(f("a", 9)), write(f("a", 10))},
			known: true, want: "app{a=10} w3{*a=3} w4{*a=4} w5{*a=5} w6{*a=6} w7{*a=7} w8{*a=8} w9{*a=9} w10{*a=10}"},
		{name: "an echo settles its write and every earlier one",
			steps: []step{write(f("a", 1)), write(f("a", 2)), write(f("a", 3)), settle(2, f("a", 2))},
			known: true, want: "app{a=3} w3{*a=3}"},
		{name: "a genuine event becomes what the app holds and leaves unrelated writes",
			steps: []step{write(f("a", 1)), accept(f("a", 7))},
			known: true, want: "app{a=7} w1{*a=1}"},
		{name: "a genuine event leaves no-op writes (never matched; their exact echo still counts as ours)",
			steps: []step{accept(f("a", 5)), write(f("a", 5)), accept(f("a", 6))},
			known: true, want: "app{a=6} w1[noop]{*a=5}"},
		{name: "a write recorded after the event was decided is not superseded by it, and learns what it did not write",
			steps: []step{write(f("a", 1)), {op: "accept", fields: []ledger.Field{f("a", 1), f("b", 2)}, seq: 0, upto: 1}},
			known: true, want: "app{a=1 b=2} w1{*a=1 b=2}"},
		{name: "an unsettled write takes a genuine event's values for the fields it did not write",
			steps: []step{accept(f("a", 5), f("b", 5)), write(f("a", 1)), accept(f("a", 5), f("b", 6))},
			known: true, want: "app{a=5 b=6} w1{*a=1 b=6}"},
		{name: "a no-op write only learns fields it did not know",
			steps: []step{accept(f("a", 5)), write(f("a", 5)), accept(f("a", 6), f("b", 1))},
			known: true, want: "app{a=6 b=1} w1[noop]{*a=5 b=1}"},
		{name: "a genuine event that shows our write applied settles it",
			steps: []step{write(f("a", 1)), write(f("b", 2)), accept(f("a", 1), f("b", 2), f("c", 9))},
			known: true, want: "app{a=1 b=2 c=9}"},
		{name: "a genuine event older than the held state does not move it back",
			steps: []step{acceptAt(200, f("a", 5)), acceptAt(100, f("a", 4), f("b", 1))},
			known: true, want: "app{a=5@200 b=1@100}"},
		{name: "an echo teaches the held value its provider time",
			steps: []step{write(f("a", 1)), {op: "settle", seq: 1, fields: []ledger.Field{f("a", 1)}, at: 300}},
			known: true, want: "app{a=1@300}"},
		{name: "the sentinel nonce is kept with its write",
			steps: []step{sentinelWrite(77, f("a", 1))},
			known: true, want: "app{a=1} w1[n77]{*a=1}"},
		{name: "a write is unsettled at exactly WriteTTL",
			steps: []step{write(f("a", 1)), advance(writeTTL)},
			known: true, want: "app{a=1} w1{*a=1}"},
		{name: "a write expires one nanosecond after WriteTTL; the app's value stays",
			steps: []step{write(f("a", 1)), advance(writeTTL + time.Nanosecond)},
			known: true, want: "app{a=1}"},
		{name: "everything expires SeenTTL after the last update",
			steps: []step{accept(f("a", 5)), write(f("b", 1)), advance(seenTTL + time.Second)},
			known: false, want: ""},
		{name: "a later write keeps the record alive",
			steps: []step{accept(f("a", 5)), advance(seenTTL - time.Minute), write(f("b", 1)), advance(2 * time.Minute)},
			known: true, want: "app{a=5 b=1} w1{a=5 *b=1}"},
		{name: "writing after expiry starts afresh",
			steps: []step{write(f("a", 1)), advance(seenTTL + time.Second), write(f("a", 2))},
			known: true, want: "app{a=2} w1{*a=2}"},
		{name: "full-width hashes survive",
			steps: []step{write(f("a", ^uint64(0)), f("b", 1<<63)), accept(f("c", 1<<63|1))},
			known: true, want: fmt.Sprintf("app{a=%d b=%d c=%d} w1{*a=%d *b=%d c=%d}", ^uint64(0), uint64(1<<63), uint64(1<<63|1), ^uint64(0), uint64(1<<63), uint64(1<<63|1))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := NewClock()
			s := newStore(t, Options{Now: clock.Now, WriteTTL: writeTTL, SeenTTL: seenTTL})
			k := ledger.Key{Provider: "generic", Object: "contacts", Record: "c1"}
			run(t, s, k, clock, c.steps)
			var st ledger.State
			known, err := s.Get(t.Context(), k, &st)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if known != c.known {
				t.Fatalf("known = %v, want %v (state %s)", known, c.known, render(&st))
			}
			got := ""
			if known {
				got = render(&st)
			}
			if got != c.want {
				t.Fatalf("state\n got %s\nwant %s", got, c.want)
			}
			// The same steps applied to a State in memory give the same
			// history: the store adds persistence, not rules.
			if known {
				var ref ledger.State
				refClock := NewClock()
				for _, s := range c.steps {
					apply(&ref, refClock, s)
				}
				ref.Prune(refClock.Now(), writeTTL, seenTTL)
				if render(&ref) != got {
					t.Fatalf("store %s differs from State rules %s", got, render(&ref))
				}
			}
		})
	}
}

func run(t *testing.T, s ledger.Store, k ledger.Key, clock *Clock, steps []step) {
	t.Helper()
	for _, st := range steps {
		var err error
		switch st.op {
		case "write":
			err = s.RecordWrite(t.Context(), k, ledger.Write{Fields: st.fields, Response: st.response, At: clock.Now(), Nonce: st.nonce, FP: st.nonce})
		case "accept":
			err = s.Accept(t.Context(), k, ledger.Accept{Fields: st.fields, At: clock.Now(), ProviderAt: st.at, Upto: st.upto})
		case "settle":
			err = s.Accept(t.Context(), k, ledger.Accept{Fields: st.fields, At: clock.Now(), ProviderAt: st.at, Settle: st.seq})
		case "advance":
			clock.Advance(st.d)
		}
		if err != nil {
			t.Fatalf("%s: %v", st.op, err)
		}
	}
}

func apply(st *ledger.State, clock *Clock, s step) {
	switch s.op {
	case "write":
		st.Prune(clock.Now(), writeTTL, seenTTL)
		st.ApplyWrite(&ledger.Write{Fields: slices.Clone(s.fields), Response: slices.Clone(s.response), At: clock.Now(), Nonce: s.nonce, FP: s.nonce})
	case "accept", "settle":
		st.Prune(clock.Now(), writeTTL, seenTTL)
		st.ApplyAccept(&ledger.Accept{Fields: s.fields, At: clock.Now(), ProviderAt: s.at, Settle: s.seq, Upto: s.upto})
	case "advance":
		clock.Advance(s.d)
	}
}

// CustomTTLs checks that a store honours the TTLs it is built with.
func CustomTTLs(t *testing.T, newStore NewStore) {
	clock := NewClock()
	s := newStore(t, Options{Now: clock.Now, WriteTTL: time.Second, SeenTTL: time.Minute})
	k := ledger.Key{Provider: "p", Object: "o", Record: "r"}
	run(t, s, k, clock, []step{accept(f("b", 2)), write(f("a", 1))})
	clock.Advance(2 * time.Second)
	var st ledger.State
	ok, err := s.Get(t.Context(), k, &st)
	if err != nil || !ok || len(st.Writes) != 0 || !st.Holds([]ledger.Field{f("a", 1), f("b", 2)}) {
		t.Fatalf("after WriteTTL: known %v err %v, state %s; want the write gone, the app's values kept", ok, err, render(&st))
	}
	clock.Advance(time.Minute)
	if ok, err := s.Get(t.Context(), k, &st); err != nil || ok {
		t.Fatalf("after SeenTTL: known %v err %v: %s", ok, err, render(&st))
	}
}

// Concurrent checks that concurrent writes to one record are all kept
// (each store's read-modify-write is atomic).
func Concurrent(t *testing.T, newStore NewStore) {
	clock := NewClock()
	s := newStore(t, Options{Now: clock.Now, WriteTTL: writeTTL, SeenTTL: seenTTL})
	k := ledger.Key{Provider: "p", Object: "o", Record: "r"}
	const n = ledger.MaxWrites
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.RecordWrite(t.Context(), k, ledger.Write{Fields: []ledger.Field{f(fmt.Sprintf("f%02d", i), uint64(i+1))}, At: clock.Now()})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var st ledger.State
	if ok, err := s.Get(t.Context(), k, &st); err != nil || !ok || len(st.Writes) != n || len(st.App) != n {
		t.Fatalf("after %d concurrent writes: known %v err %v state %s", n, ok, err, render(&st))
	}
}
