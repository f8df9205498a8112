package filters

import (
	"testing"
)

func TestAccepted(t *testing.T) {
	cases := []struct {
		name string
		// decide turns the event's own decision into the one passed to
		// Accepted.
		decide   func(h *harness, ev *Event, d Decision) Decision
		body     map[string]any
		wantSeen bool // the record's name became the last genuine state
		wantMark bool // the event id is remembered for dedup
	}{
		{"forwarded genuine change", func(_ *harness, _ *Event, d Decision) Decision { return d },
			map[string]any{"record.name": "Grace"}, true, true},
		{"dropped echo is not a genuine state; its id is marked (its redelivery is the same echo)", func(_ *harness, _ *Event, d Decision) Decision { return d },
			map[string]any{"actor": "u_integration"}, false, true},
		{"held event is not recorded", func(_ *harness, _ *Event, d Decision) Decision { d.Action = Hold; return d },
			map[string]any{"record.name": "Grace"}, false, false},
		{"unverified delivery is neither a genuine state nor a dedup id", func(h *harness, ev *Event, _ Decision) Decision {
			return h.eng.Unverified(h.p, ev, "bad signature")
		}, map[string]any{"record.name": "Grace"}, false, false},
		{"event without a record id", func(_ *harness, _ *Event, d Decision) Decision { return d },
			map[string]any{"record": rawJSON(`{"name":"Grace"}`)}, false, true},
		{"event without an id is still a genuine state", func(_ *harness, _ *Event, d Decision) Decision { return d },
			map[string]any{"id": nil, "record.name": "Grace"}, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, "generic", harnessOpts{})
			ev, d := h.deliverOne(genericEvent(t, c.body), nil)
			d = c.decide(h, &ev, d)
			h.accept([]Event{ev}, []Decision{d})
			st := h.stateOf(t, ev.Record)
			_, ok := st.AppValue("name")
			if seen := ok && !st.LastSeen.IsZero(); seen != c.wantSeen {
				t.Fatalf("name seen = %v, want %v (state %+v)", seen, c.wantSeen, st)
			}
			if ev.ID != "" {
				marked, err := h.store.EventSeen(t.Context(), DedupKey(h.p.Name, ev.ID))
				if err != nil || marked != c.wantMark {
					t.Fatalf("event id marked = %v (%v), want %v", marked, err, c.wantMark)
				}
			}
		})
	}
}

func TestEngineLookups(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{})
	if h.eng.Agent() != testAgent || h.eng.Store() != h.store || !h.eng.Now().Equal(h.clock.Now()) {
		t.Fatal("engine accessors do not reflect its options")
	}
	names := []string{}
	for _, p := range h.eng.Providers() {
		names = append(names, p.Name)
	}
	want := []string{"generic", "generic_skinny", "generic_observe", "generic_idem", "hubspotlike"}
	if len(names) != len(want) {
		t.Fatalf("providers %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("providers %v, want %v (configuration order)", names, want)
		}
	}
	if _, ok := h.eng.Provider("nope"); ok {
		t.Fatal("unknown provider found")
	}
	if p, _ := h.eng.Provider("generic_observe"); !p.Observe() || h.p.Observe() {
		t.Fatal("Observe() does not follow the profile")
	}
	if _, ok := h.p.MatchWebhook("GET", "/webhooks/generic"); ok {
		t.Fatal("webhook route matched the wrong method")
	}
}
