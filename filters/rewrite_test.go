package filters

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestRewrite(t *testing.T) {
	h := newHarness(t, "hubspotlike", harnessOpts{})
	cases := []struct {
		name, path, fixture string
		keep                []bool
		// outside is the text around the events array that must survive.
		prefix, suffix string
	}{
		{"root batch keeps 1 and 3", "/webhooks/hubspot", "hubspot_batch.json", []bool{true, false, true, false}, "[", "]\n"},
		{"root batch keeps the last", "/webhooks/hubspot", "hubspot_batch.json", []bool{false, false, false, true}, "[", "]\n"},
		{"root batch keeps none", "/webhooks/hubspot", "hubspot_batch.json", []bool{false, false, false, false}, "[", "]\n"},
		{"wrapped batch keeps the second", "/webhooks/hubspot/wrapped", "hubspot_wrapped.json", []bool{false, true},
			"  \n{\"events\": [", "], \"meta\": {\"count\": 2}}\n\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _ := h.p.MatchWebhook("POST", c.path)
			body := readFixture(t, c.fixture)
			evs, err := h.p.Extract(r, body, nil, nil)
			if err != nil || len(evs) != len(c.keep) {
				t.Fatalf("Extract: %d events, %v", len(evs), err)
			}
			out, err := h.p.Rewrite(r, body, evs, c.keep)
			if err != nil {
				t.Fatal(err)
			}
			if !gjson.ValidBytes(out) || !strings.HasPrefix(string(out), c.prefix) || !strings.HasSuffix(string(out), c.suffix) {
				t.Fatalf("rewritten body %q: invalid JSON or surroundings changed", out)
			}
			// Re-extracting gives exactly the kept events, byte for byte.
			again, err := h.p.Extract(r, out, nil, nil)
			if err != nil {
				t.Fatalf("re-extract: %v", err)
			}
			var want []Event
			for i, k := range c.keep {
				if k {
					want = append(want, evs[i])
				}
			}
			if len(again) != len(want) {
				t.Fatalf("re-extracted %d events, want %d", len(again), len(want))
			}
			for i := range want {
				got, exp := out[again[i].Start:again[i].End], body[want[i].Start:want[i].End]
				if string(got) != string(exp) || again[i].ID != want[i].ID {
					t.Fatalf("kept event %d changed:\n%s\n%s", i, got, exp)
				}
			}
		})
	}
	t.Run("single-event delivery is never rewritten", func(t *testing.T) {
		g := newHarness(t, "generic", harnessOpts{})
		r, _ := g.p.MatchWebhook("POST", "/webhooks/generic")
		body := readFixture(t, "generic_event.json")
		evs, _ := g.p.Extract(r, body, nil, nil)
		if out, err := g.p.Rewrite(r, body, evs, []bool{false}); err == nil || out != nil {
			t.Fatalf("Rewrite of a single event = %q, %v; want an error", out, err)
		}
	})
}
