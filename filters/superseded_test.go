package filters

import (
	"testing"

	"github.com/loopguard/loopguard/filters/spool"
)

// TestSupersededByLaterHeld: in a quarantined record's queue, a held
// whole-record state is not replayed when
// a delivery held after it in its queue carries a newer whole state of the
// same record — newer by provider times where both have one, else by hold
// order on a provider that delivers in order, and then not for a later
// event that is a redelivery (its id the held one's, or already handled:
// simulator seed 3237). A change list is never replaced; an untrusted delivery never is.
func TestSupersededByLaterHeld(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{})
	jg := NewJudge(h.eng, JudgeOptions{})
	r, ok := h.p.MatchWebhook("POST", "/webhooks/generic")
	if !ok {
		t.Fatal("no generic route")
	}
	ev := func(sets map[string]any) Delivery {
		return Delivery{Provider: h.p, Route: r, Body: genericEvent(t, sets), Verification: spool.Verified}
	}
	noID := func(name, at string) Delivery {
		return ev(map[string]any{"id": nil, "record.name": name, "occurred_at": at})
	}
	now := h.clock.Now()
	recQ := QueueRecord + ":generic/globex/contacts/c1"
	if jg.Superseded(t.Context(), QueueApp+":generic/*", noID("A", "2026-11-27T10:00:00Z"), now, noID("B", "2026-11-27T10:00:05Z")) {
		t.Fatal("a delivery held while the app was down was coalesced: only a quarantined record's queue is")
	}
	if err := h.eng.Store().MarkEvent(t.Context(), DedupKey(h.p.Name, "evt_handled")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		held  Delivery
		later []Delivery
		want  bool
	}{
		{"newer by time", noID("A", "2026-11-27T10:00:00Z"), []Delivery{noID("B", "2026-11-27T10:00:05Z")}, true},
		{"older by time", noID("A", "2026-11-27T10:00:05Z"), []Delivery{noID("B", "2026-11-27T10:00:00Z")}, false},
		{"another record", noID("A", "2026-11-27T10:00:00Z"), []Delivery{ev(map[string]any{"id": nil, "record.id": "c2", "occurred_at": "2026-11-27T10:00:05Z"})}, false},
		{"later has a new id, no times: hold order", ev(map[string]any{"id": nil, "occurred_at": nil}), []Delivery{ev(map[string]any{"id": "evt_new", "occurred_at": nil})}, true},
		{"later is a redelivery of the held one", ev(map[string]any{"id": "evt_same", "occurred_at": nil}), []Delivery{ev(map[string]any{"id": "evt_same", "occurred_at": nil, "record.name": "B"})}, false},
		{"later is a redelivery of a handled event", ev(map[string]any{"id": nil, "occurred_at": nil}), []Delivery{ev(map[string]any{"id": "evt_handled", "occurred_at": nil})}, false},
		{"no ids, no times: hold order", ev(map[string]any{"id": nil, "occurred_at": nil}), []Delivery{ev(map[string]any{"id": nil, "occurred_at": nil, "record.name": "B"})}, true},
		{"nothing later", noID("A", "2026-11-27T10:00:00Z"), nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := jg.Superseded(t.Context(), recQ, c.held, now, c.later...); got != c.want {
				t.Fatalf("Superseded = %v, want %v", got, c.want)
			}
		})
	}
	// A replaced event's id is marked: its redelivery is a duplicate.
	withID := ev(map[string]any{"id": "evt_old", "record.name": "A", "occurred_at": "2026-11-27T10:00:00Z"})
	if !jg.Superseded(t.Context(), recQ, withID, now, noID("B", "2026-11-27T10:00:05Z")) {
		t.Fatal("not superseded")
	}
	if seen, err := h.eng.Store().EventSeen(t.Context(), DedupKey(h.p.Name, "evt_old")); err != nil || !seen {
		t.Fatalf("the replaced event's id is not marked for dedup (%v)", err)
	}
	held := noID("A", "2026-11-27T10:00:00Z")
	held.Verification = spool.Unverified
	if jg.Superseded(t.Context(), recQ, held, now, noID("B", "2026-11-27T10:00:05Z")) {
		t.Fatal("an untrusted held delivery was superseded")
	}
}
