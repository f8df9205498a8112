package filters

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tidwall/gjson"
)

// fuzzRoute is one webhook route the fuzzers feed.
type fuzzRoute struct {
	p      *Provider
	r      *WebhookRoute
	batch  string // "" single, "@this" root array, else the array path
	harn   *harness
	header http.Header
}

// fuzzRoutes builds the generic single route and the HubSpot-like root and
// wrapped batch routes.
func fuzzRoutes(tb testing.TB) []fuzzRoute {
	g := newHarness(tb, "generic", harnessOpts{})
	h := newHarness(tb, "hubspotlike", harnessOpts{})
	var out []fuzzRoute
	for _, c := range []struct {
		h     *harness
		path  string
		batch string
	}{{g, "/webhooks/generic", ""}, {h, "/webhooks/hubspot", "@this"}, {h, "/webhooks/hubspot/wrapped", "events"}} {
		r, ok := c.h.p.MatchWebhook("POST", c.path)
		if !ok {
			tb.Fatalf("no route %s", c.path)
		}
		out = append(out, fuzzRoute{p: c.h.p, r: r, batch: c.batch, harn: c.h, header: http.Header{"X-Change-Agent": {"x"}}})
	}
	return out
}

// addSeeds adds every delivery fixture in testdata as a seed.
func addSeeds(f *testing.F) {
	n := 0
	for _, pattern := range []string{"*.json", "malformed/*"} {
		files, err := filepath.Glob(filepath.Join("testdata", pattern))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
			n++
		}
	}
	if n < 5 {
		f.Fatalf("only %d seed fixtures", n)
	}
	f.Add([]byte(`[{"eventId":1,"objectId":501,"propertyName":"loopguard_sync","propertyValue":"loopguard:0123456789ab"}]`))
	f.Add([]byte(`{"events":[{"objectId":501,"propertyName":"email","propertyValue":null,"sourceId":"4242"}]}`))
}

// checkExtract asserts Extract's contract for one route.
func checkExtract(t *testing.T, rt fuzzRoute, body []byte) ([]Event, error) {
	t.Helper()
	evs, err := rt.p.Extract(rt.r, body, rt.header, nil)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v is not ErrMalformed", err)
		}
		if len(evs) != 0 {
			t.Fatalf("malformed delivery yielded %d events", len(evs))
		}
		return nil, err
	}
	if rt.batch == "" {
		if len(evs) != 1 {
			t.Fatalf("single route: %d events", len(evs))
		}
		if evs[0].Start != 0 || evs[0].End != len(body) {
			t.Fatalf("single route: span [%d,%d) of %d bytes", evs[0].Start, evs[0].End, len(body))
		}
		return evs, nil
	}
	prev := 0
	for i, ev := range evs {
		if ev.Start <= prev || ev.End <= ev.Start || ev.End > len(body) {
			t.Fatalf("event %d span [%d,%d) invalid (prev end %d, body %d)", i, ev.Start, ev.End, prev, len(body))
		}
		span := body[ev.Start:ev.End]
		if span[0] != '{' || span[len(span)-1] != '}' || !gjson.ValidBytes(span) {
			t.Fatalf("event %d span is not a JSON object: %q", i, span)
		}
		prev = ev.End
	}
	path := ""
	if rt.batch != "@this" {
		path = rt.batch
	}
	checkSpans(t, body, path, evs)
	return evs, nil
}

func FuzzExtract(f *testing.F) {
	addSeeds(f)
	routes := fuzzRoutes(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, rt := range routes {
			_, _ = checkExtract(t, rt, body)
		}
	})
}

// echoReasons are the reasons a drop may give.
var echoReasons = []Reason{ReasonRedelivery, ReasonIntegrationUser, ReasonChangeAgent, ReasonSentinelMatch,
	ReasonSentinelChange, ReasonPendingWrite, ReasonNoChange, ReasonSkinnyRecentWrite}

func FuzzDecide(f *testing.F) {
	addSeeds(f)
	routes := fuzzRoutes(f)
	// Warm the ledgers: our writes to the fixtures' records and a genuine
	// accepted state.
	g, h := routes[0].harn, routes[1].harn
	g.write("PATCH", "/v1/contacts/c1", jsonCT, `{"name":"Ada","email":"ada@example.com"}`)
	h.write("PATCH", "/crm/v3/objects/contacts/501", jsonCT, `{"properties":{"firstname":"Ada","email":"ada@example.com"}}`)
	evs, ds := g.deliver("/webhooks/generic", genericEvent(f, map[string]any{"id": "evt_0", "record.id": "c2"}), nil)
	g.accept(evs, ds)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, rt := range routes {
			evs, err := checkExtract(t, rt, body)
			if err != nil {
				// A malformed delivery is forwarded whole: nothing to decide.
				continue
			}
			ds := make([]Decision, len(evs))
			chain := rt.p.Chain()
			for i := range evs {
				d := rt.harn.eng.Decide(ctx, rt.p, &evs[i])
				if d.Layer == "" || d.Reason.String() == "unknown" || d.Action > Hold {
					t.Fatalf("decision does not name layer and reason: %+v", d)
				}
				switch d.Action {
				case Forward:
				case Drop:
					if !slices.Contains(chain, d.Layer) || !slices.Contains(echoReasons, d.Reason) {
						t.Fatalf("drop by %s for %s", d.Layer, d.Reason)
					}
				default:
					t.Fatalf("Decide returned %s", d.Action)
				}
				ds[i] = d
			}
			if err := rt.harn.eng.Accepted(ctx, rt.p, evs, ds); err != nil {
				t.Fatalf("Accepted: %v", err)
			}
		}
	})
}
