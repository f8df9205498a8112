package ledger

import (
	"testing"
	"time"
)

// TestGetIntoReusedStateAfterPrune: a Get that prunes fields must not leave
// two slots of the caller's State sharing one Pending array, or the next Get
// into the same State overwrites one field's hashes with another's.
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
	must(m.RecordWrite(ctx, k3, []Field{{"a", 1}, {"b", 2}}, 1, clock.Now()))
	must(m.RecordSeen(ctx, k3, []Field{{"b", 3}}, clock.Now()))
	must(m.RecordWrite(ctx, k3, []Field{{"b", 4}}, 1, clock.Now()))
	clock.Advance(defaultWriteTTL + time.Second)
	must(m.RecordWrite(ctx, k4, []Field{{"a", 10}, {"b", 20}}, 1, clock.Now()))
	var st State
	if ok, err := m.Get(ctx, k3, &st); err != nil || !ok {
		t.Fatalf("get k3: %v %v", ok, err)
	}
	if ok, err := m.Get(ctx, k4, &st); err != nil || !ok {
		t.Fatalf("get k4: %v %v", ok, err)
	}
	a, _ := st.Field("a")
	b, _ := st.Field("b")
	if len(a.Pending) != 1 || a.Pending[0] != 10 || len(b.Pending) != 1 || b.Pending[0] != 20 {
		t.Fatalf("k4 read into a reused State: a=%v b=%v", a.Pending, b.Pending)
	}
}
