package redisstore

import (
	"testing"

	"github.com/loopguard/loopguard/filters/ledger"
)

// TestRecordSeenManyMatchesRecordSeen: the batch form leaves each record
// as RecordSeen would, including the first call after the server lost its
// script cache (NOSCRIPT → the script is sent again).
func TestRecordSeenManyMatchesRecordSeen(t *testing.T) {
	clock := newFakeClock()
	s := newTestStore(t, Options{Now: clock.Now})
	ctx := t.Context()
	k1, k2 := ledger.Key{Provider: "p", Object: "o", Record: "1"}, ledger.Key{Provider: "p", Object: "o", Record: "2"}
	for _, k := range []ledger.Key{k1, k2} {
		if err := s.RecordWrite(ctx, k, []ledger.Field{f("a", 1), f("b", 2)}, 9, clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Client().ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordSeenMany(ctx, []ledger.Key{k1, k2}, [][]ledger.Field{{f("a", 5)}, {f("b", 6)}}, clock.Now()); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		k            ledger.Key
		seenField    string
		seen         uint64
		pendingField string
		stillPending uint64
	}{
		{k1, "a", 5, "b", 2},
		{k2, "b", 6, "a", 1},
	}
	for _, c := range cases {
		t.Run(c.k.Record, func(t *testing.T) {
			var st ledger.State
			if ok, err := s.Get(ctx, c.k, &st); err != nil || !ok {
				t.Fatalf("get: %v %v", ok, err)
			}
			fs, _ := st.Field(c.seenField)
			if !fs.HasSeen || fs.Seen != c.seen || len(fs.Pending) != 0 {
				t.Fatalf("%s: %+v, want seen %d and no pending", c.seenField, fs, c.seen)
			}
			other, _ := st.Field(c.pendingField)
			if len(other.Pending) != 1 || other.Pending[0] != c.stillPending {
				t.Fatalf("%s: %+v, want pending [%d]", c.pendingField, other, c.stillPending)
			}
		})
	}
	if err := s.RecordSeenMany(ctx, []ledger.Key{k1}, nil, clock.Now()); err == nil {
		t.Fatal("mismatched lengths accepted")
	}
}
