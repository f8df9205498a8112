package ledger

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type step struct {
	op     string // "write", "seen" or "advance"
	fields []Field
	fp     uint64
	d      time.Duration
}

type wantField struct {
	pending []uint64
	seen    uint64
	hasSeen bool
}

func write(fp uint64, fs ...Field) step { return step{op: "write", fields: fs, fp: fp} }
func seen(fs ...Field) step             { return step{op: "seen", fields: fs} }
func advance(d time.Duration) step      { return step{op: "advance", d: d} }
func f(name string, h uint64) Field     { return Field{Name: name, Hash: h} }

func TestMemorySemantics(t *testing.T) {
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
			steps: []step{write(1, f("a", 1)), advance(defaultWriteTTL)},
			known: true, writeFP: 1, lastWrite: true,
			fields: map[string]wantField{"a": {pending: []uint64{1}}}},
		{name: "a write expires after WriteTTL",
			steps: []step{write(1, f("a", 1)), advance(defaultWriteTTL + time.Second)},
			known: false},
		{name: "an expired write leaves the seen state",
			steps: []step{seen(f("b", 7)), write(1, f("a", 1), f("b", 2)), advance(defaultWriteTTL + time.Second)},
			known: true, lastSeen: true,
			fields: map[string]wantField{"b": {seen: 7, hasSeen: true}}},
		{name: "seen state expires after SeenTTL",
			steps: []step{seen(f("a", 5)), advance(defaultSeenTTL + time.Second)},
			known: false},
		{name: "seen expires while a newer write stays pending",
			steps: []step{seen(f("a", 5)), advance(defaultSeenTTL - time.Minute), write(3, f("a", 1)), advance(2 * time.Minute)},
			known: true, writeFP: 3, lastWrite: true,
			fields: map[string]wantField{"a": {pending: []uint64{1}}}},
		{name: "writing again after expiry starts afresh",
			steps: []step{write(1, f("a", 1)), advance(defaultWriteTTL + time.Second), write(2, f("a", 2))},
			known: true, writeFP: 2, lastWrite: true,
			fields: map[string]wantField{"a": {pending: []uint64{2}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := newFakeClock()
			m := newTestMemory(t, testOptions(clock))
			k := Key{Provider: "generic", Object: "contacts", Record: "c1"}
			for _, s := range c.steps {
				var err error
				switch s.op {
				case "write":
					err = m.RecordWrite(t.Context(), k, s.fields, s.fp, clock.Now())
				case "seen":
					err = m.RecordSeen(t.Context(), k, s.fields, clock.Now())
				case "advance":
					clock.Advance(s.d)
				}
				if err != nil {
					t.Fatalf("%s: %v", s.op, err)
				}
			}
			st, known := mustGet(t, m, k)
			if known != c.known {
				t.Fatalf("known = %v, want %v (state %+v)", known, c.known, st)
			}
			if st.WriteFP != c.writeFP || st.LastWrite.IsZero() == c.lastWrite || st.LastSeen.IsZero() == c.lastSeen {
				t.Fatalf("record state %+v: want writeFP %d lastWrite %v lastSeen %v", st, c.writeFP, c.lastWrite, c.lastSeen)
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

func TestMemoryCustomTTLs(t *testing.T) {
	clock := newFakeClock()
	opts := testOptions(clock)
	opts.WriteTTL, opts.SeenTTL = time.Second, time.Minute
	m := newTestMemory(t, opts)
	k := Key{"p", "o", "r"}
	if err := m.RecordSeen(t.Context(), k, []Field{f("b", 2)}, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := m.RecordWrite(t.Context(), k, []Field{f("a", 1)}, 1, clock.Now()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	st, ok := mustGet(t, m, k)
	if _, has := st.Field("a"); !ok || has {
		t.Fatalf("after WriteTTL: known %v, state %+v; want a gone, b kept", ok, st)
	}
	clock.Advance(time.Minute)
	if st, ok := mustGet(t, m, k); ok {
		t.Fatalf("after SeenTTL: still known: %+v", st)
	}
}

func TestMemoryKeysAreDistinct(t *testing.T) {
	clock := newFakeClock()
	m := newTestMemory(t, testOptions(clock))
	keys := []Key{
		{"a|b", "c", "d"},
		{"a", "b|c", "d"},
		{"a", "b", "c|d"},
		{"a", "b", "c"},
		{"b", "a", "c"},
		{"a", "b", "c%7Cd"},
	}
	seenStr := map[string]bool{}
	for i, k := range keys {
		if seenStr[k.String()] {
			t.Fatalf("key %v renders like another: %s", k, k)
		}
		seenStr[k.String()] = true
		if err := m.RecordWrite(t.Context(), k, []Field{f("x", uint64(i+1))}, 0, clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for i, k := range keys {
		st, ok := mustGet(t, m, k)
		fs, has := st.Field("x")
		if !ok || !has || !equalU64(fs.Pending, []uint64{uint64(i + 1)}) {
			t.Fatalf("key %v: got %+v", k, st)
		}
	}
}

func TestMemoryGetReusesState(t *testing.T) {
	clock := newFakeClock()
	m := newTestMemory(t, testOptions(clock))
	k1, k2 := Key{"p", "o", "1"}, Key{"p", "o", "2"}
	if err := m.RecordWrite(t.Context(), k1, []Field{f("a", 1), f("b", 2), f("c", 3)}, 5, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := m.RecordSeen(t.Context(), k2, []Field{f("z", 9)}, clock.Now()); err != nil {
		t.Fatal(err)
	}
	var st State
	if ok, err := m.Get(t.Context(), k1, &st); err != nil || !ok || len(st.Fields) != 3 {
		t.Fatalf("Get k1: %v %v %+v", ok, err, st)
	}
	if ok, err := m.Get(t.Context(), k2, &st); err != nil || !ok {
		t.Fatalf("Get k2: %v %v", ok, err)
	}
	if len(st.Fields) != 1 || st.Fields[0].Name != "z" || len(st.Fields[0].Pending) != 0 || st.WriteFP != 0 || !st.LastWrite.IsZero() {
		t.Fatalf("Get k2 into a used State left stale data: %+v", st)
	}
	if ok, err := m.Get(t.Context(), Key{"p", "o", "missing"}, &st); err != nil || ok || len(st.Fields) != 0 || !st.LastSeen.IsZero() {
		t.Fatalf("Get missing into a used State: ok %v err %v %+v", ok, err, st)
	}
}

func TestMemoryDedup(t *testing.T) {
	cases := []struct {
		name    string
		window  time.Duration
		mark    bool
		advance time.Duration
		want    bool
	}{
		{"unknown id", 0, false, 0, false},
		{"marked id", 0, true, 0, true},
		{"marked id just inside the default window", 0, true, defaultDedupWindow - time.Second, true},
		{"marked id after the default window", 0, true, defaultDedupWindow, false},
		{"custom window", time.Minute, true, 61 * time.Second, false},
		{"custom window, inside", time.Minute, true, 59 * time.Second, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := newFakeClock()
			opts := testOptions(clock)
			opts.DedupWindow = c.window
			m := newTestMemory(t, opts)
			if c.mark {
				if err := m.MarkEvent(t.Context(), "generic\x00evt_1"); err != nil {
					t.Fatal(err)
				}
			}
			clock.Advance(c.advance)
			got, err := m.EventSeen(t.Context(), "generic\x00evt_1")
			if err != nil || got != c.want {
				t.Fatalf("EventSeen = %v, %v; want %v", got, err, c.want)
			}
			if other, _ := m.EventSeen(t.Context(), "generic\x00evt_2"); other {
				t.Fatal("an unmarked id reads as seen")
			}
		})
	}
}

func TestMemoryCorruptEntry(t *testing.T) {
	clock := newFakeClock()
	m := newTestMemory(t, testOptions(clock))
	k := Key{"p", "o", "r"}
	for _, garbage := range [][]byte{{}, {9, 9, 9}, make([]byte, 40), {codecVersion}} {
		if err := m.records.Set(k.String(), garbage); err != nil {
			t.Fatal(err)
		}
		var st State
		if ok, err := m.Get(t.Context(), k, &st); err == nil || ok {
			t.Fatalf("Get of corrupt entry %v: ok %v err %v, want an error", garbage, ok, err)
		}
	}
	// A write over a corrupt entry starts afresh instead of failing forever.
	if err := m.RecordWrite(t.Context(), k, []Field{f("a", 1)}, 1, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if st, ok := mustGet(t, m, k); !ok || len(st.Fields) != 1 {
		t.Fatalf("after rewrite: %v %+v", ok, st)
	}
}

func TestMemoryStats(t *testing.T) {
	clock := newFakeClock()
	m := newTestMemory(t, testOptions(clock))
	for i := range 5 {
		if err := m.RecordWrite(t.Context(), Key{"p", "o", fmt.Sprint(i)}, []Field{f("a", 1)}, 1, clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if err := m.MarkEvent(t.Context(), fmt.Sprint("e", i)); err != nil {
			t.Fatal(err)
		}
	}
	if s := m.Stats(); s.Entries != 5 || s.Events != 3 || s.Evictions != 0 {
		t.Fatalf("Stats = %+v, want 5 entries, 3 events, 0 evictions", s)
	}
}

func TestMemoryEvictsWhenFull(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a 1 MiB cache")
	}
	clock := newFakeClock()
	m := newTestMemory(t, Options{Shards: 1, MaxSizeMB: 1, Now: clock.Now})
	fields := []Field{f("name", 1), f("email", 2), f("phone", 3), f("company", 4)}
	for i := range 20000 {
		if err := m.RecordWrite(t.Context(), Key{"generic", "contacts", fmt.Sprintf("record-%06d", i)}, fields, 1, clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if s := m.Stats(); s.Evictions == 0 || s.Entries >= 20000 {
		t.Fatalf("Stats = %+v, want evictions once 1 MiB is full", s)
	}
}

func TestNewMemoryDefaults(t *testing.T) {
	m := newTestMemory(t, Options{Shards: 16})
	if m.opts.WriteTTL != defaultWriteTTL || m.opts.SeenTTL != defaultSeenTTL || m.opts.DedupWindow != defaultDedupWindow ||
		m.opts.MaxSizeMB != defaultMaxSizeMB || m.opts.Now == nil {
		t.Fatalf("defaults not applied: %+v", m.opts)
	}
	if _, err := NewMemory(Options{Shards: 3}); err == nil {
		t.Fatal("NewMemory accepted 3 shards (not a power of two)")
	}
}

func TestMemoryConcurrentWrites(t *testing.T) {
	clock := newFakeClock()
	m := newTestMemory(t, testOptions(clock))
	shared := Key{"p", "o", "shared"}
	const workers, writes = 8, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := Key{"p", "o", fmt.Sprint("own-", w)}
			var st State
			for i := range writes {
				h := uint64(w*1000 + i + 1)
				if err := m.RecordWrite(t.Context(), shared, []Field{f("a", h), f(fmt.Sprint("w", w), h)}, h, clock.Now()); err != nil {
					t.Error(err)
					return
				}
				if err := m.RecordWrite(t.Context(), own, []Field{f("a", h)}, h, clock.Now()); err != nil {
					t.Error(err)
					return
				}
				if i%10 == 0 {
					if err := m.RecordSeen(t.Context(), own, []Field{f("b", h)}, clock.Now()); err != nil {
						t.Error(err)
						return
					}
				}
				if _, err := m.Get(t.Context(), shared, &st); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st, ok := mustGet(t, m, shared)
	if !ok || len(st.Fields) != workers+1 {
		t.Fatalf("shared record: known %v, %d fields, want %d", ok, len(st.Fields), workers+1)
	}
	a, _ := st.Field("a")
	if len(a.Pending) != MaxPending {
		t.Fatalf("shared field a has %d pending, want %d", len(a.Pending), MaxPending)
	}
	for w := range workers {
		// Every worker's own field on the shared record kept its last
		// MaxPending writes in order: no update was lost.
		fs, ok := st.Field(fmt.Sprint("w", w))
		if !ok {
			t.Fatalf("field w%d lost", w)
		}
		want := []uint64{}
		for i := writes - MaxPending; i < writes; i++ {
			want = append(want, uint64(w*1000+i+1))
		}
		if !equalU64(fs.Pending, want) {
			t.Fatalf("field w%d pending %v, want %v", w, fs.Pending, want)
		}
		own, _ := mustGet(t, m, Key{"p", "o", fmt.Sprint("own-", w)})
		b, ok := own.Field("b")
		if !ok || !b.HasSeen || b.Seen != uint64(w*1000+41) {
			t.Fatalf("own-%d field b = %+v", w, b)
		}
	}
}
