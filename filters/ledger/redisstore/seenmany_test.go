package redisstore

import (
	"testing"

	"github.com/loopguard/loopguard/filters/ledger"
)

// TestAcceptManyMatchesAccept: the batch form leaves each record as Accept
// would — two acceptances of one record in a delivery apply in order —
// including the first call after the server lost its script cache
// (NOSCRIPT → the script is sent again).
func TestAcceptManyMatchesAccept(t *testing.T) {
	clock := newFakeClock()
	s := newTestStore(t, Options{Now: clock.Now})
	ref := newTestStore(t, Options{Now: clock.Now})
	ctx := t.Context()
	k1, k2 := ledger.Key{Provider: "p", Object: "o", Record: "1"}, ledger.Key{Provider: "p", Object: "o", Record: "2"}
	for _, st := range []*Store{s, ref} {
		for _, k := range []ledger.Key{k1, k2} {
			if err := st.RecordWrite(ctx, k, ledger.Write{Fields: []ledger.Field{f("a", 1), f("b", 2)}, At: clock.Now()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Client().ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	keys := []ledger.Key{k1, k2, k1}
	accs := []ledger.Accept{
		{Fields: []ledger.Field{f("a", 1), f("b", 2)}, Settle: 1, At: clock.Now()},
		{Fields: []ledger.Field{f("b", 6)}, At: clock.Now()},
		{Fields: []ledger.Field{f("a", 5)}, At: clock.Now()},
	}
	if err := s.AcceptMany(ctx, keys, accs); err != nil {
		t.Fatal(err)
	}
	for i := range keys {
		if err := ref.Accept(ctx, keys[i], accs[i]); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []ledger.Key{k1, k2} {
		got, _ := mustGet(t, s, k)
		want, _ := mustGet(t, ref, k)
		if !sameState(&got, &want) {
			t.Fatalf("%s: AcceptMany left %+v, Accept %+v", k.Record, got, want)
		}
	}
	if err := s.AcceptMany(ctx, []ledger.Key{k1}, nil); err == nil {
		t.Fatal("mismatched lengths accepted")
	}
}
