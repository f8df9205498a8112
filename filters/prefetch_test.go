package filters

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/loopguard/loopguard/filters/ledger"
)

// batchStore is the in-memory ledger with batch reads, counting calls, so
// Prefetch can be tested without Redis.
type batchStore struct {
	*ledger.Memory
	gets, seens, batches atomic.Int64
	singleWrites         atomic.Int64
	fail                 bool
}

func (b *batchStore) Accept(ctx context.Context, k ledger.Key, a ledger.Accept) error {
	b.singleWrites.Add(1)
	return b.Memory.Accept(ctx, k, a)
}

func (b *batchStore) MarkEvent(ctx context.Context, id string) error {
	b.singleWrites.Add(1)
	return b.Memory.MarkEvent(ctx, id)
}

func (b *batchStore) AcceptMany(ctx context.Context, keys []ledger.Key, accs []ledger.Accept) error {
	b.batches.Add(1)
	for i, k := range keys {
		if err := b.Memory.Accept(ctx, k, accs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (b *batchStore) MarkEvents(ctx context.Context, ids []string) error {
	b.batches.Add(1)
	for _, id := range ids {
		if err := b.Memory.MarkEvent(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func (b *batchStore) Get(ctx context.Context, k ledger.Key, st *ledger.State) (bool, error) {
	b.gets.Add(1)
	return b.Memory.Get(ctx, k, st)
}

func (b *batchStore) EventSeen(ctx context.Context, id string) (bool, error) {
	b.seens.Add(1)
	return b.Memory.EventSeen(ctx, id)
}

func (b *batchStore) GetMany(ctx context.Context, keys []ledger.Key, sts []ledger.State) ([]bool, error) {
	b.batches.Add(1)
	if b.fail {
		return nil, errors.New("batch read failed")
	}
	oks := make([]bool, len(keys))
	for i, k := range keys {
		ok, err := b.Memory.Get(ctx, k, &sts[i])
		if err != nil {
			return nil, err
		}
		oks[i] = ok
	}
	return oks, nil
}

func (b *batchStore) EventsSeen(ctx context.Context, ids []string) ([]bool, error) {
	b.batches.Add(1)
	if b.fail {
		return nil, errors.New("batch read failed")
	}
	out := make([]bool, len(ids))
	for i, id := range ids {
		out[i], _ = b.Memory.EventSeen(ctx, id)
	}
	return out, nil
}

// TestPrefetchSameDecisionsOneRoundTrip: with a batch store, a delivery's
// events are decided exactly as one by one, with one batch read for the
// dedup ids and one for the records instead of a store call per event per
// layer; a failed batch read makes every ledger layer abstain (forward).
func TestPrefetchSameDecisionsOneRoundTrip(t *testing.T) {
	clock := newFakeClock()
	mem, err := ledger.NewMemory(ledger.Options{Shards: 16, MaxSizeMB: 16, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	bs := &batchStore{Memory: mem}
	h := newHarness(t, "generic", harnessOpts{store: bs})
	var bodies [][]byte
	for i := range 6 {
		w := h.write("PATCH", fmt.Sprintf("/v1/contacts/p%d", i), jsonCT, fmt.Sprintf(`{"name":"N%d","email":"e%d@example.com"}`, i, i))
		rec := echoRecord(t, w, fmt.Sprint("p", i))
		if i%2 == 1 { // a genuine change of the same record
			rec = rawJSON(fmt.Sprintf(`{"id":"p%d","name":"Human %d","email":"e%d@example.com"}`, i, i, i))
		}
		bodies = append(bodies, genericEvent(t, map[string]any{"id": fmt.Sprint("evt_", i), "actor": nil, "change_agent": nil, "record": rec}))
	}
	// A redelivery of an accepted event, for the dedup layer.
	evs0, ds0 := h.deliver("/webhooks/generic", bodies[1], nil)
	h.accept(evs0, ds0)
	bodies = append(bodies, bodies[1])
	extract := func() []Event {
		r, _ := h.p.MatchWebhook("POST", "/webhooks/generic")
		var evs []Event
		for _, b := range bodies {
			if evs, err = h.p.Extract(r, b, nil, evs); err != nil {
				t.Fatal(err)
			}
		}
		return evs
	}
	plain := extract()
	want := make([]Decision, len(plain))
	for i := range plain {
		want[i] = h.eng.Decide(t.Context(), h.p, &plain[i])
	}
	bs.gets.Store(0)
	bs.seens.Store(0)
	batched := extract()
	h.eng.Prefetch(t.Context(), batched)
	for i := range batched {
		got := h.eng.Decide(t.Context(), h.p, &batched[i])
		if got.Action != want[i].Action || got.Layer != want[i].Layer || got.Reason != want[i].Reason {
			t.Errorf("event %d: prefetched %s/%s/%s, one by one %s/%s/%s", i, got.Action.String(), got.Layer, got.Reason.String(),
				want[i].Action.String(), want[i].Layer, want[i].Reason.String())
		}
	}
	if bs.gets.Load() != 0 || bs.seens.Load() != 0 || bs.batches.Load() != 2 {
		t.Fatalf("store calls with prefetch: %d gets, %d event checks, %d batch reads; want 0, 0, 2",
			bs.gets.Load(), bs.seens.Load(), bs.batches.Load())
	}
	// Accepting the delivery: one batch write per kind, none per event; the
	// accepted ids are then redeliveries.
	bs.batches.Store(0)
	bs.singleWrites.Store(0)
	if err := h.eng.Accepted(t.Context(), h.p, batched, want); err != nil {
		t.Fatal(err)
	}
	if bs.batches.Load() != 2 || bs.singleWrites.Load() != 0 {
		t.Fatalf("Accepted: %d batch writes, %d single writes; want 2 and 0", bs.batches.Load(), bs.singleWrites.Load())
	}
	if _, d := h.deliverOne(bodies[3], nil); d.Layer != "dedup" || d.Action != Drop {
		t.Fatalf("accepted event 3 redelivered: %+v", d)
	}
	if want[len(want)-1].Layer != "dedup" || want[0].Action != Drop || want[3].Action != Forward || want[3].Layer != "fingerprint" {
		t.Fatalf("the fixture does not exercise the layers: %+v", want)
	}
	// A failed batch read: nothing is dropped on the ledger's word.
	bs.fail = true
	failed := extract()
	h.eng.Prefetch(t.Context(), failed)
	for i := range failed {
		d := h.eng.Decide(t.Context(), h.p, &failed[i])
		if d.Action == Drop && (d.Layer == "fingerprint" || d.Layer == "dedup") {
			t.Fatalf("event %d dropped by %s although the store could not be read", i, d.Layer)
		}
	}
}
