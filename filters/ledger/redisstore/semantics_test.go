package redisstore

import (
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/ledger"
)

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

// implOptions are the settings both stores share.
type implOptions struct {
	now               func() time.Time
	writeTTL, seenTTL time.Duration
}

// storeImpls builds each Store implementation, so that every behaviour
// case runs against ledger.Memory (the reference) and this store.
func storeImpls() map[string]func(t *testing.T, o implOptions) ledger.Store {
	return map[string]func(t *testing.T, o implOptions) ledger.Store{
		"memory": func(t *testing.T, o implOptions) ledger.Store {
			m, err := ledger.NewMemory(ledger.Options{Shards: 8, MaxSizeMB: 8, Now: o.now, WriteTTL: o.writeTTL, SeenTTL: o.seenTTL})
			if err != nil {
				t.Fatalf("NewMemory: %v", err)
			}
			t.Cleanup(func() { _ = m.Close() })
			return m
		},
		"redis": func(t *testing.T, o implOptions) ledger.Store {
			return newTestStore(t, Options{Now: o.now, WriteTTL: o.writeTTL, SeenTTL: o.seenTTL})
		},
	}
}

// TestSemanticsMatchMemory is ledger.Memory's behaviour table, run against
// both stores.
func TestSemanticsMatchMemory(t *testing.T) {
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
			steps: []step{write(1, f("a", 1)), advance(DefaultWriteTTL)},
			known: true, writeFP: 1, lastWrite: true,
			fields: map[string]wantField{"a": {pending: []uint64{1}}}},
		{name: "a write expires one nanosecond after WriteTTL",
			steps: []step{write(1, f("a", 1)), advance(DefaultWriteTTL + time.Nanosecond)},
			known: false},
		{name: "a write expires after WriteTTL",
			steps: []step{write(1, f("a", 1)), advance(DefaultWriteTTL + time.Second)},
			known: false},
		{name: "an expired write leaves the seen state",
			steps: []step{seen(f("b", 7)), write(1, f("a", 1), f("b", 2)), advance(DefaultWriteTTL + time.Second)},
			known: true, lastSeen: true,
			fields: map[string]wantField{"b": {seen: 7, hasSeen: true}}},
		{name: "seen state expires after SeenTTL",
			steps: []step{seen(f("a", 5)), advance(DefaultSeenTTL + time.Second)},
			known: false},
		{name: "seen expires while a newer write stays pending",
			steps: []step{seen(f("a", 5)), advance(DefaultSeenTTL - time.Minute), write(3, f("a", 1)), advance(2 * time.Minute)},
			known: true, writeFP: 3, lastWrite: true,
			fields: map[string]wantField{"a": {pending: []uint64{1}}}},
		{name: "writing again after expiry starts afresh",
			steps: []step{write(1, f("a", 1)), advance(DefaultWriteTTL + time.Second), write(2, f("a", 2))},
			known: true, writeFP: 2, lastWrite: true,
			fields: map[string]wantField{"a": {pending: []uint64{2}}}},
		{name: "writing at exactly WriteTTL appends",
			steps: []step{write(1, f("a", 1)), advance(DefaultWriteTTL), write(2, f("a", 2))},
			known: true, writeFP: 2, lastWrite: true,
			fields: map[string]wantField{"a": {pending: []uint64{1, 2}}}},
		{name: "seen after its state expired starts afresh",
			steps: []step{seen(f("a", 5), f("b", 6)), advance(DefaultSeenTTL + time.Second), seen(f("a", 7))},
			known: true, lastSeen: true,
			fields: map[string]wantField{"a": {seen: 7, hasSeen: true}}},
		{name: "full-width hashes survive",
			steps: []step{write(^uint64(0), f("a", ^uint64(0)), f("b", 1<<63)), seen(f("c", 1<<63|1))},
			known: true, writeFP: ^uint64(0), lastWrite: true, lastSeen: true,
			fields: map[string]wantField{"a": {pending: []uint64{^uint64(0)}}, "b": {pending: []uint64{1 << 63}}, "c": {seen: 1<<63 | 1, hasSeen: true}}},
	}
	for impl, newStore := range storeImpls() {
		for _, c := range cases {
			t.Run(impl+"/"+c.name, func(t *testing.T) {
				clock := newFakeClock()
				s := newStore(t, implOptions{now: clock.Now})
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
}

// lastStepTime replays the clock of steps to find when the last op ran.
func lastStepTime(steps []step, op string) time.Time {
	t := newFakeClock().Now()
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

func TestCustomTTLs(t *testing.T) {
	for impl, newStore := range storeImpls() {
		t.Run(impl, func(t *testing.T) {
			clock := newFakeClock()
			s := newStore(t, implOptions{now: clock.Now, writeTTL: time.Second, seenTTL: time.Minute})
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
		})
	}
}

func TestKeysAreDistinct(t *testing.T) {
	clock := newFakeClock()
	s := newTestStore(t, Options{Now: clock.Now})
	keys := []ledger.Key{
		{Provider: "a|b", Object: "c", Record: "d"},
		{Provider: "a", Object: "b|c", Record: "d"},
		{Provider: "a", Object: "b", Record: "c|d"},
		{Provider: "a", Object: "b", Record: "c"},
		{Provider: "b", Object: "a", Record: "c"},
		{Provider: "a", Object: "b", Record: "c%7Cd"},
	}
	for i, k := range keys {
		if err := s.RecordWrite(t.Context(), k, []ledger.Field{f("x", uint64(i+1))}, 0, clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for i, k := range keys {
		st, ok := mustGet(t, s, k)
		fs, has := st.Field("x")
		if !ok || !has || !equalU64(fs.Pending, []uint64{uint64(i + 1)}) {
			t.Fatalf("key %v: got %+v", k, st)
		}
	}
}

func TestGetReusesState(t *testing.T) {
	clock := newFakeClock()
	s := newTestStore(t, Options{Now: clock.Now})
	k1, k2 := ledger.Key{Provider: "p", Object: "o", Record: "1"}, ledger.Key{Provider: "p", Object: "o", Record: "2"}
	if err := s.RecordWrite(t.Context(), k1, []ledger.Field{f("a", 1), f("b", 2), f("c", 3)}, 5, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordSeen(t.Context(), k2, []ledger.Field{f("z", 9)}, clock.Now()); err != nil {
		t.Fatal(err)
	}
	var st ledger.State
	if ok, err := s.Get(t.Context(), k1, &st); err != nil || !ok || len(st.Fields) != 3 {
		t.Fatalf("Get k1: %v %v %+v", ok, err, st)
	}
	if names := st.Fields[0].Name + st.Fields[1].Name + st.Fields[2].Name; names != "abc" {
		t.Fatalf("fields not sorted by name: %s", names)
	}
	if ok, err := s.Get(t.Context(), k2, &st); err != nil || !ok {
		t.Fatalf("Get k2: %v %v", ok, err)
	}
	if len(st.Fields) != 1 || st.Fields[0].Name != "z" || len(st.Fields[0].Pending) != 0 || st.WriteFP != 0 || !st.LastWrite.IsZero() {
		t.Fatalf("Get k2 into a used State left stale data: %+v", st)
	}
	if ok, err := s.Get(t.Context(), ledger.Key{Provider: "p", Object: "o", Record: "missing"}, &st); err != nil || ok || len(st.Fields) != 0 || !st.LastSeen.IsZero() {
		t.Fatalf("Get missing into a used State: ok %v err %v %+v", ok, err, st)
	}
	// Reusing a State across a pruning Get must not make two fields share
	// one Pending array: k3 drops its first field on read (writes expired,
	// only b was seen), then k4 with two pending fields is read into it.
	k3, k4 := ledger.Key{Provider: "p", Object: "o", Record: "3"}, ledger.Key{Provider: "p", Object: "o", Record: "4"}
	if err := s.RecordWrite(t.Context(), k3, []ledger.Field{f("a", 1), f("b", 2)}, 1, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordSeen(t.Context(), k3, []ledger.Field{f("b", 3)}, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordWrite(t.Context(), k3, []ledger.Field{f("b", 4)}, 1, clock.Now()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultWriteTTL + time.Second)
	if err := s.RecordWrite(t.Context(), k4, []ledger.Field{f("a", 10), f("b", 20)}, 1, clock.Now()); err != nil {
		t.Fatal(err)
	}
	st = ledger.State{}
	if ok, err := s.Get(t.Context(), k3, &st); err != nil || !ok || len(st.Fields) != 1 || st.Fields[0].Name != "b" {
		t.Fatalf("Get k3: %v %v %+v", ok, err, st)
	}
	if _, err := s.Get(t.Context(), k4, &st); err != nil {
		t.Fatal(err)
	}
	a, _ := st.Field("a")
	b, _ := st.Field("b")
	if a == nil || b == nil || !equalU64(a.Pending, []uint64{10}) || !equalU64(b.Pending, []uint64{20}) {
		t.Fatalf("k4 read into a reused State: %+v", st)
	}
}

func TestDedup(t *testing.T) {
	cases := []struct {
		name    string
		window  time.Duration
		mark    bool
		advance time.Duration
		want    bool
	}{
		{"unknown id", 0, false, 0, false},
		{"marked id", 0, true, 0, true},
		{"marked id just inside the default window", 0, true, DefaultDedupWindow - time.Second, true},
		{"marked id after the default window", 0, true, DefaultDedupWindow, false},
		{"custom window", time.Minute, true, 61 * time.Second, false},
		{"custom window, inside", time.Minute, true, 59 * time.Second, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := newFakeClock()
			s := newTestStore(t, Options{Now: clock.Now, DedupWindow: c.window})
			if c.mark {
				if err := s.MarkEvent(t.Context(), "generic\x00evt_1"); err != nil {
					t.Fatal(err)
				}
			}
			clock.Advance(c.advance)
			got, err := s.EventSeen(t.Context(), "generic\x00evt_1")
			if err != nil || got != c.want {
				t.Fatalf("EventSeen = %v, %v; want %v", got, err, c.want)
			}
			if other, err := s.EventSeen(t.Context(), "generic\x00evt_2"); other || err != nil {
				t.Fatalf("an unmarked id reads as seen (%v, %v)", other, err)
			}
			many, err := s.EventsSeen(t.Context(), []string{"generic\x00evt_2", "generic\x00evt_1"})
			if err != nil || len(many) != 2 || many[0] || many[1] != c.want {
				t.Fatalf("EventsSeen = %v, %v; want [false %v]", many, err, c.want)
			}
		})
	}
}
