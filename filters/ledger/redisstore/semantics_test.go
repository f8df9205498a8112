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

func TestConcurrent(t *testing.T) { ledgertest.Concurrent(t, newRedis) }

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
		if err := s.RecordWrite(t.Context(), k, ledger.Write{Fields: []ledger.Field{f("x", uint64(i+1))}, At: clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	for i, k := range keys {
		st, ok := mustGet(t, s, k)
		if !ok || len(st.Writes) != 1 || !st.Holds([]ledger.Field{f("x", uint64(i+1))}) {
			t.Fatalf("key %v: got %+v", k, st)
		}
	}
}

func TestGetReusesState(t *testing.T) {
	clock := newFakeClock()
	s := newTestStore(t, Options{Now: clock.Now})
	k1, k2 := ledger.Key{Provider: "p", Object: "o", Record: "1"}, ledger.Key{Provider: "p", Object: "o", Record: "2"}
	if err := s.RecordWrite(t.Context(), k1, ledger.Write{Fields: []ledger.Field{f("a", 1), f("b", 2), f("c", 3)}, At: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.Accept(t.Context(), k2, ledger.Accept{Fields: []ledger.Field{f("z", 9)}, At: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	var st ledger.State
	if ok, err := s.Get(t.Context(), k1, &st); err != nil || !ok || len(st.App) != 3 || len(st.Writes) != 1 {
		t.Fatalf("Get k1: %v %v %+v", ok, err, st)
	}
	if ok, err := s.Get(t.Context(), k2, &st); err != nil || !ok {
		t.Fatalf("Get k2: %v %v", ok, err)
	}
	if len(st.App) != 1 || st.App[0].Name != "z" || len(st.Writes) != 0 || !st.LastWrite.IsZero() {
		t.Fatalf("Get k2 into a used State left stale data: %+v", st)
	}
	if ok, err := s.Get(t.Context(), ledger.Key{Provider: "p", Object: "o", Record: "missing"}, &st); err != nil || ok || len(st.App) != 0 || !st.LastSeen.IsZero() {
		t.Fatalf("Get missing into a used State: ok %v err %v %+v", ok, err, st)
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
