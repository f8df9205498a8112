package ledger

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func f(name string, h uint64) Field { return Field{Name: name, Hash: h} }

func wr(at time.Time, fs ...Field) Write { return Write{Fields: fs, At: at} }

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
		if err := m.RecordWrite(t.Context(), k, wr(clock.Now(), f("x", uint64(i+1)))); err != nil {
			t.Fatal(err)
		}
	}
	for i, k := range keys {
		st, ok := mustGet(t, m, k)
		v, has := st.AppValue("x")
		if !ok || !has || v.Hash != uint64(i+1) || len(st.Writes) != 1 {
			t.Fatalf("key %v: got %+v", k, st)
		}
	}
}

func TestMemoryGetReusesState(t *testing.T) {
	clock := newFakeClock()
	m := newTestMemory(t, testOptions(clock))
	k1, k2 := Key{"p", "o", "1"}, Key{"p", "o", "2"}
	if err := m.RecordWrite(t.Context(), k1, wr(clock.Now(), f("a", 1), f("b", 2), f("c", 3))); err != nil {
		t.Fatal(err)
	}
	if err := m.Accept(t.Context(), k2, Accept{Fields: []Field{f("z", 9)}, At: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	var st State
	if ok, err := m.Get(t.Context(), k1, &st); err != nil || !ok || len(st.App) != 3 || len(st.Writes) != 1 {
		t.Fatalf("Get k1: %v %v %+v", ok, err, st)
	}
	if ok, err := m.Get(t.Context(), k2, &st); err != nil || !ok {
		t.Fatalf("Get k2: %v %v", ok, err)
	}
	if len(st.App) != 1 || st.App[0].Name != "z" || len(st.Writes) != 0 || !st.LastWrite.IsZero() {
		t.Fatalf("Get k2 into a used State left stale data: %+v", st)
	}
	if ok, err := m.Get(t.Context(), Key{"p", "o", "missing"}, &st); err != nil || ok || len(st.App) != 0 || !st.LastSeen.IsZero() {
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
	if err := m.RecordWrite(t.Context(), k, wr(clock.Now(), f("a", 1))); err != nil {
		t.Fatal(err)
	}
	if st, ok := mustGet(t, m, k); !ok || len(st.App) != 1 {
		t.Fatalf("after rewrite: %v %+v", ok, st)
	}
}

func TestMemoryStats(t *testing.T) {
	clock := newFakeClock()
	m := newTestMemory(t, testOptions(clock))
	for i := range 5 {
		if err := m.RecordWrite(t.Context(), Key{"p", "o", fmt.Sprint(i)}, wr(clock.Now(), f("a", 1))); err != nil {
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
	fields := []Field{f("company", 4), f("email", 2), f("name", 1), f("phone", 3)}
	for i := range 20000 {
		if err := m.RecordWrite(t.Context(), Key{"generic", "contacts", fmt.Sprintf("record-%06d", i)}, Write{Fields: fields, At: clock.Now()}); err != nil {
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
			var st State
			for i := range writes {
				h := uint64(w*1000 + i + 1)
				if err := m.RecordWrite(t.Context(), shared, wr(clock.Now(), f(fmt.Sprint("w", w), h))); err != nil {
					t.Error(err)
					return
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
	if !ok || len(st.App) != workers || st.NextSeq != workers*writes || len(st.Writes) != MaxWrites {
		t.Fatalf("shared record: known %v, %d values, seq %d, %d writes", ok, len(st.App), st.NextSeq, len(st.Writes))
	}
	for w := range workers {
		// Every worker's field holds its last write: no update was lost.
		v, ok := st.AppValue(fmt.Sprint("w", w))
		if !ok || v.Hash != uint64(w*1000+writes) {
			t.Fatalf("field w%d = %+v", w, v)
		}
	}
}

// TestMemoryMemoFollowsDrops: the stripe memo answers a read of the entry
// just read or stored, but never one bigcache has dropped (full, expired,
// deleted): the drop retires it.
func TestMemoryMemoFollowsDrops(t *testing.T) {
	clock := newFakeClock()
	m := newTestMemory(t, testOptions(clock))
	k := Key{"p", "o", "memo"}
	if err := m.RecordWrite(t.Context(), k, wr(clock.Now(), f("a", 1))); err != nil {
		t.Fatal(err)
	}
	if st, ok := mustGet(t, m, k); !ok || len(st.App) != 1 {
		t.Fatalf("before the drop: known %v, %+v", ok, st)
	}
	i := m.stripe(k.String())
	if mm := &m.memos[i]; !mm.ok || string(mm.key) != k.String() {
		t.Fatalf("the read did not leave its entry in the stripe memo: %+v", mm)
	}
	if err := m.records.Delete(k.String()); err != nil {
		t.Fatal(err)
	}
	if st, ok := mustGet(t, m, k); ok || len(st.App) != 0 {
		t.Fatalf("after bigcache dropped the entry: known %v, %+v — read from a stale memo", ok, st)
	}
	// A write after the drop starts afresh and is read back.
	if err := m.Accept(t.Context(), k, Accept{Fields: []Field{f("b", 2)}, At: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if st, ok := mustGet(t, m, k); !ok || len(st.App) != 1 || st.App[0].Name != "b" {
		t.Fatalf("after a new write: known %v, %+v", ok, st)
	}
}
