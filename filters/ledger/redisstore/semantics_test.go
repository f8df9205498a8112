package redisstore

import (
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/ledger/ledgertest"
)

func newRedis(t *testing.T, o ledgertest.Options) ledger.Store {
	return newTestStore(t, Options{Now: o.Now, WriteTTL: o.WriteTTL, SeenTTL: o.SeenTTL})
}

// The shared behaviour every ledger.Store must have (ledger.Memory runs the
// same suite).
func TestSemantics(t *testing.T)  { ledgertest.Semantics(t, newRedis) }
func TestCustomTTLs(t *testing.T) { ledgertest.CustomTTLs(t, newRedis) }

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
