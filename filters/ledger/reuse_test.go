package ledger

import (
	"testing"
	"time"
)

// TestGetIntoReusedStateAfterPrune: a Get that prunes writes must not leave
// two slots of the caller's State sharing one Expected array, or the next
// Get into the same State overwrites one write's state with another's.
func TestGetIntoReusedStateAfterPrune(t *testing.T) {
	clock := newFakeClock()
	m, err := NewMemory(Options{Now: clock.Now, MaxSizeMB: 1, Shards: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := t.Context()
	k3, k4 := Key{"p", "o", "3"}, Key{"p", "o", "4"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(m.RecordWrite(ctx, k3, wr(clock.Now(), Field{"a", 1}, Field{"b", 2})))
	must(m.Accept(ctx, k3, Accept{Fields: []Field{{"b", 3}}, At: clock.Now()}))
	must(m.RecordWrite(ctx, k3, wr(clock.Now(), Field{"b", 4})))
	clock.Advance(defaultWriteTTL + time.Second)
	must(m.RecordWrite(ctx, k4, wr(clock.Now(), Field{"a", 10}, Field{"b", 20})))
	must(m.RecordWrite(ctx, k4, wr(clock.Now(), Field{"a", 11})))
	var st State
	if ok, err := m.Get(ctx, k3, &st); err != nil || !ok || len(st.Writes) != 0 {
		t.Fatalf("get k3: %v %v %+v", ok, err, st)
	}
	if ok, err := m.Get(ctx, k4, &st); err != nil || !ok {
		t.Fatalf("get k4: %v %v", ok, err)
	}
	if len(st.Writes) != 2 || st.Writes[0].Expected[0].Hash != 10 || st.Writes[1].Expected[0].Hash != 11 || st.Writes[1].Expected[1].Hash != 20 {
		t.Fatalf("k4 read into a reused State: %+v", st.Writes)
	}
}
