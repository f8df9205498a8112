package filters

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/tidwall/gjson"
)

// pullAccount is the account every pulled record of these tests belongs to.
const pullAccount = "acct"

// newPullHarness is a harness over testdata/pull/loopguard.yaml: providers
// with read routes, and the built-in profiles whose reads the fixtures use.
func newPullHarness(t testing.TB, provider string) *harness {
	t.Helper()
	return newPullHarnessStore(t, provider, nil)
}

// newPullHarnessStore is newPullHarness over store (nil: a fresh ledger).
func newPullHarnessStore(t testing.TB, provider string, store ledger.Store) *harness {
	t.Helper()
	clock := newFakeClock()
	if store == nil {
		m, err := ledger.NewMemory(ledger.Options{Shards: 16, MaxSizeMB: 16, Now: clock.Now})
		if err != nil {
			t.Fatalf("ledger: %v", err)
		}
		t.Cleanup(func() { _ = m.Close() })
		store = m
	}
	l, err := configs.LoadBytes("testdata/pull/loopguard.yaml", readFixture(t, "pull/loopguard.yaml"), nil)
	if err != nil {
		t.Fatalf("load pull config: %v", err)
	}
	eng, err := New(l.Providers, store, Options{Agent: testAgent, Now: clock.Now})
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	p, ok := eng.Provider(provider)
	if !ok {
		t.Fatalf("no provider %q in the pull config", provider)
	}
	return &harness{t: t, clock: clock, store: store, eng: eng, p: p}
}

// pull extracts a read response and decides each record, as the proxy does.
func (h *harness) pull(method, path string, body []byte) (*WebhookRoute, []Event, []Decision) {
	h.t.Helper()
	r, ps, ok := h.p.MatchRead(method, path)
	if !ok {
		h.t.Fatalf("no read route for %s %s", method, path)
	}
	evs, err := h.p.ExtractRead(r, &ps, pullAccount, body, http.Header{}, nil)
	if err != nil {
		h.t.Fatalf("ExtractRead: %v", err)
	}
	ds := make([]Decision, len(evs))
	for i := range evs {
		ds[i] = h.eng.Decide(context.Background(), h.p, &evs[i])
	}
	return r, evs, ds
}

func TestExtractRead(t *testing.T) {
	type rec struct{ record, object, actor string }
	cases := []struct {
		provider, method, path, fixture string
		want                            []rec
		// fields is the number of tracked fields of the first record.
		fields int
	}{
		{"generic", "GET", "/v1/contacts", "generic_page.json",
			[]rec{{"c1", "contacts", "u_human"}, {"c2", "contacts", "u_integration"}, {"c3", "contacts", ""}, {"c4", "contacts", ""}}, 2},
		{"hubspot", "POST", "/crm/v3/objects/contacts/search", "hubspot_search.json", []rec{{"501", "contacts", ""}, {"502", "contacts", ""}}, 3},
		{"hubspot", "GET", "/crm/v3/objects/deals", "hubspot_search.json", []rec{{"501", "deals", ""}, {"502", "deals", ""}}, 3},
		{"salesforce", "GET", "/services/data/v60.0/query", "salesforce_soql.json",
			[]rec{{"001000000000AAAAAA", "Account", "005000000000HUMAAA"}, {"003000000000AAAAAA", "Contact", "005000000000INTAAA"}}, 2},
		{"salesforce", "GET", "/services/data/v60.0/query/01gD0000002HU6KIAW-2000", "salesforce_soql.json",
			[]rec{{"001000000000AAAAAA", "Account", "005000000000HUMAAA"}, {"003000000000AAAAAA", "Contact", "005000000000INTAAA"}}, 2},
		{"salesforce", "GET", "/services/data/v60.0/queryAll", "salesforce_soql.json",
			[]rec{{"001000000000AAAAAA", "Account", "005000000000HUMAAA"}, {"003000000000AAAAAA", "Contact", "005000000000INTAAA"}}, 2},
		{"stripe", "GET", "/v1/customers", "stripe_list.json", []rec{{"cus_1", "customer", ""}, {"cus_2", "customer", ""}}, 2},
		{"stripe", "GET", "/v1/customers/search", "stripe_list.json", []rec{{"cus_1", "customer", ""}, {"cus_2", "customer", ""}}, 2},
		{"stripe", "GET", "/v1/events", "stripe_events.json", []rec{{"cus_1", "customer", ""}, {"cus_2", "customer", ""}}, 2},
		{"jira", "GET", "/rest/api/3/search/jql", "jira_search.json", []rec{{"10010", "issue", ""}, {"10011", "issue", ""}}, 2},
		{"jira", "POST", "/ex/jira/cloud-1/rest/api/2/search", "jira_search.json", []rec{{"10010", "issue", ""}, {"10011", "issue", ""}}, 2},
		{"pipedrive", "GET", "/api/v2/deals", "pipedrive_list.json", []rec{{"42", "deal", ""}, {"43", "deal", ""}}, 6},
		{"pipedrive", "GET", "/v1/deals", "pipedrive_list.json", []rec{{"42", "deal", ""}, {"43", "deal", ""}}, 6},
	}
	for _, c := range cases {
		t.Run(c.provider+" "+c.method+" "+c.path, func(t *testing.T) {
			h := newPullHarness(t, c.provider)
			body := readFixture(t, "pull/"+c.fixture)
			r, ps, ok := h.p.MatchRead(c.method, c.path)
			if !ok {
				t.Fatalf("no read route matches %s %s", c.method, c.path)
			}
			evs, err := h.p.ExtractRead(r, &ps, pullAccount, body, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != len(c.want) {
				t.Fatalf("%d records, want %d", len(evs), len(c.want))
			}
			elems := gjson.GetBytes(body, r.batch).Array()
			for i, w := range c.want {
				ev := evs[i]
				if ev.Source != SourcePull || ev.Account != pullAccount || ev.Provider != c.provider {
					t.Fatalf("record %d: source/account/provider = %s/%s/%s", i, ev.Source, ev.Account, ev.Provider)
				}
				if ev.Record != w.record || ev.Object != w.object || ev.Actor != w.actor {
					t.Errorf("record %d = %s/%s by %q, want %s/%s by %q", i, ev.Object, ev.Record, ev.Actor, w.object, w.record, w.actor)
				}
				if got := string(body[ev.Start:ev.End]); got != elems[i].Raw {
					t.Errorf("record %d span is %q, not the list element", i, got)
				}
			}
			if len(evs[0].Fields) != c.fields {
				t.Errorf("first record has %d tracked fields %v, want %d", len(evs[0].Fields), evs[0].Fields, c.fields)
			}
		})
	}
	t.Run("not read routes", func(t *testing.T) {
		for _, c := range []struct{ provider, method, path string }{
			{"generic", "PATCH", "/v1/contacts/c1"},
			{"hubspot", "GET", "/crm/v3/objects/contacts/501"},
			{"stripe", "POST", "/v1/customers"},
			{"salesforce", "GET", "/services/data/v60.0/sobjects/Account/001000000000AAAAAA"},
		} {
			if _, _, ok := newPullHarness(t, c.provider).p.MatchRead(c.method, c.path); ok {
				t.Errorf("%s %s %s matched a read route", c.provider, c.method, c.path)
			}
		}
	})
	t.Run("webhook route refused", func(t *testing.T) {
		h := newPullHarness(t, "generic")
		r, _ := h.p.MatchWebhook("POST", "/webhooks/generic")
		if _, err := h.p.ExtractRead(r, &Params{}, pullAccount, []byte(`{}`), nil, nil); err == nil {
			t.Fatal("ExtractRead accepted a webhook route")
		}
	})
	t.Run("malformed", func(t *testing.T) {
		h := newPullHarness(t, "generic")
		r, ps, _ := h.p.MatchRead("GET", "/v1/contacts")
		for _, body := range []string{`not json`, `{"results": {"id": "c1"}}`, `{"results": [1, 2]}`, `{"total": 0}`} {
			evs, err := h.p.ExtractRead(r, &ps, pullAccount, []byte(body), nil, nil)
			if err == nil || len(evs) != 0 {
				t.Errorf("%s: %d records, %v; want ErrMalformed", body, len(evs), err)
			}
		}
	})
	t.Run("stripe events carry the idempotency marker", func(t *testing.T) {
		h := newPullHarness(t, "stripe")
		_, evs, ds := h.pull("GET", "/v1/events", readFixture(t, "pull/stripe_events.json"))
		if evs[0].Marks[0] != "loopguard-4f1c" || evs[1].Marks[0] != "" {
			t.Fatalf("marks = %q, %q", evs[0].Marks, evs[1].Marks)
		}
		wantDecision(t, ds[0], Drop, "marker", ReasonChangeAgent)
		wantDecision(t, ds[1], Forward, "fingerprint", ReasonNewValue)
	})
}

// pullWant is one expected decision about a pulled record.
type pullWant struct {
	action Action
	layer  string
	reason Reason
}

func TestPullDecisions(t *testing.T) {
	page := readFixture(t, "pull/generic_page.json")
	const c4 = `{"name":"Di","email":"di@example.com"}`
	cases := []struct {
		name, provider string
		// setup runs before the poll.
		setup func(h *harness)
		want  []pullWant
		// observed lists the records reported as would-be drops.
		observed []bool
	}{
		{name: "actor, marker and our pending write are removed; the human's edit stays", provider: "generic",
			setup: func(h *harness) { h.write("PATCH", "/v1/contacts/c4", jsonCT, c4) },
			want: []pullWant{
				{Forward, "fingerprint", ReasonNewValue}, {Drop, "actor", ReasonIntegrationUser},
				{Drop, "marker", ReasonChangeAgent}, {Drop, "fingerprint", ReasonPendingWrite},
			}},
		{name: "a human edit after our write stays", provider: "generic",
			setup: func(h *harness) {
				h.write("PATCH", "/v1/contacts/c4", jsonCT, `{"name":"Dee","email":"di@example.com"}`)
			},
			want: []pullWant{
				{Forward, "fingerprint", ReasonNewValue}, {Drop, "actor", ReasonIntegrationUser},
				{Drop, "marker", ReasonChangeAgent}, {Forward, "fingerprint", ReasonNewValue},
			}},
		{name: "the last genuine state is no proof of our write", provider: "generic",
			setup: func(h *harness) {
				evs, ds := h.deliver("/webhooks/generic", genericEvent(h.t, map[string]any{
					"id": "evt_c4", "actor": "u_human", "record": rawJSON(`{"id":"c4","name":"Di","email":"di@example.com"}`),
				}), nil)
				h.accept(evs, ds)
			},
			want: []pullWant{
				{Forward, "fingerprint", ReasonNewValue}, {Drop, "actor", ReasonIntegrationUser},
				{Drop, "marker", ReasonChangeAgent}, {Forward, "fingerprint", ReasonNoChange},
			}},
		{name: "the actor is overruled when the record holds a value we did not write", provider: "generic",
			setup: func(h *harness) { h.write("PATCH", "/v1/contacts/c2", jsonCT, `{"name":"Bo"}`) },
			want: []pullWant{
				{Forward, "fingerprint", ReasonNewValue}, {Forward, "actor", ReasonUnaccounted},
				{Drop, "marker", ReasonChangeAgent}, {Forward, "fingerprint", ReasonNewValue},
			}},
		{name: "the actor stands when every value is ours", provider: "generic",
			setup: func(h *harness) {
				h.write("PATCH", "/v1/contacts/c2", jsonCT, `{"name":"Bo","email":"bo@example.com"}`)
			},
			want: []pullWant{
				{Forward, "fingerprint", ReasonNewValue}, {Drop, "actor", ReasonIntegrationUser},
				{Drop, "marker", ReasonChangeAgent}, {Forward, "fingerprint", ReasonNewValue},
			}},
		{name: "observe removes nothing and reports would-be removals", provider: "generic_observe",
			setup: func(h *harness) { h.write("PATCH", "/v1/contacts/c4", jsonCT, c4) },
			want: []pullWant{
				{Forward, "fingerprint", ReasonNewValue}, {Forward, "actor", ReasonIntegrationUser},
				{Forward, "fingerprint", ReasonNewValue}, {Forward, "fingerprint", ReasonPendingWrite},
			},
			observed: []bool{false, true, false, true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newPullHarness(t, c.provider)
			c.setup(h)
			h.clock.Advance(2 * time.Second)
			_, evs, ds := h.pull("GET", "/v1/contacts", page)
			if len(ds) != len(c.want) {
				t.Fatalf("%d decisions, want %d", len(ds), len(c.want))
			}
			for i, w := range c.want {
				if ds[i].Source != SourcePull || ds[i].Record != evs[i].Record {
					t.Fatalf("decision %d: source %s record %s", i, ds[i].Source, ds[i].Record)
				}
				wantDecision(t, ds[i], w.action, w.layer, w.reason)
				if obs := c.observed != nil && c.observed[i]; ds[i].Observed != obs {
					t.Errorf("decision %d observed = %v, want %v", i, ds[i].Observed, obs)
				}
			}
			// Deciding records recorded nothing: a poll is not "accepted".
			var st ledger.State
			if ok, err := h.store.Get(context.Background(), ledger.Key{Provider: c.provider, Object: "contacts", Record: "c1"}, &st); ok || err != nil {
				t.Fatalf("the poll recorded c1: %+v %v", st, err)
			}
		})
	}
}

func TestPullStoreDownKeepsActorRecords(t *testing.T) {
	h := newPullHarnessStore(t, "generic", failingStore{})
	_, _, ds := h.pull("GET", "/v1/contacts", readFixture(t, "pull/generic_page.json"))
	// c2's actor cannot be checked against the ledger: kept, as a doubt.
	wantDecision(t, ds[1], Forward, "fingerprint", ReasonStoreError)
	// c3's marker needs no ledger.
	wantDecision(t, ds[2], Drop, "marker", ReasonChangeAgent)
}

func TestPullSkipsDedupAndSkinny(t *testing.T) {
	t.Run("skinny: time proximity never removes a pulled record", func(t *testing.T) {
		h := newPullHarness(t, "generic_skinny")
		h.write("PATCH", "/v1/contacts/c4", jsonCT, `{"name":"Di"}`)
		h.clock.Advance(time.Second)
		// The same valueless change drops as a webhook event...
		skinny := genericEvent(t, map[string]any{"id": "evt_skinny", "actor": nil, "change_agent": nil, "record": rawJSON(`{"id":"c4"}`)})
		_, d := h.deliverOne(skinny, nil)
		wantDecision(t, d, Drop, "skinny", ReasonSkinnyRecentWrite)
		// ...and stays as a pulled record.
		_, _, ds := h.pull("GET", "/v1/contacts", []byte(`{"results": [{"id": "c4", "updated_at": "2026-11-27T10:00:01Z"}]}`))
		wantDecision(t, ds[0], Forward, "chain", ReasonSkinny)
	})
	t.Run("dedup: a record seen before is not a redelivery", func(t *testing.T) {
		h := newPullHarness(t, "generic")
		must := func(err error) {
			if err != nil {
				t.Fatal(err)
			}
		}
		must(h.store.MarkEvent(context.Background(), DedupKey("generic", "evt_seen")))
		_, evs, _ := h.pull("GET", "/v1/contacts", readFixture(t, "pull/generic_page.json"))
		ev := evs[0]
		ev.ID = "evt_seen"
		wantDecision(t, h.eng.Decide(context.Background(), h.p, &ev), Forward, "fingerprint", ReasonNewValue)
		ev.Source = SourceWebhook
		wantDecision(t, h.eng.Decide(context.Background(), h.p, &ev), Drop, "dedup", ReasonRedelivery)
	})
}

func TestReadRewrite(t *testing.T) {
	cases := []struct {
		name, provider, method, path, fixture string
		keep                                  []bool
		// outside are paths outside the list that must keep their raw bytes.
		outside []string
	}{
		{"generic keeps the first and last", "generic", "GET", "/v1/contacts", "generic_page.json", []bool{true, false, false, true}, []string{"total", "paging"}},
		{"generic keeps none", "generic", "GET", "/v1/contacts", "generic_page.json", []bool{false, false, false, false}, []string{"total", "paging"}},
		{"salesforce keeps the second", "salesforce", "GET", "/services/data/v60.0/query", "salesforce_soql.json", []bool{false, true}, []string{"totalSize", "done", "nextRecordsUrl"}},
		{"hubspot keeps the first", "hubspot", "POST", "/crm/v3/objects/contacts/search", "hubspot_search.json", []bool{true, false}, []string{"total", "paging"}},
		{"jira keeps the second", "jira", "GET", "/rest/api/3/search/jql", "jira_search.json", []bool{false, true}, []string{"nextPageToken", "isLast"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newPullHarness(t, c.provider)
			body := readFixture(t, "pull/"+c.fixture)
			r, ps, _ := h.p.MatchRead(c.method, c.path)
			evs, err := h.p.ExtractRead(r, &ps, pullAccount, body, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			out, err := h.p.Rewrite(r, body, evs, c.keep)
			if err != nil {
				t.Fatal(err)
			}
			if !gjson.ValidBytes(out) {
				t.Fatalf("rewritten response is not JSON: %s", out)
			}
			for _, p := range c.outside {
				if got, want := gjson.GetBytes(out, p).Raw, gjson.GetBytes(body, p).Raw; got != want || want == "" {
					t.Errorf("%s = %s, want %s as sent", p, got, want)
				}
			}
			// Everything before the list is byte for byte the same.
			list := gjson.GetBytes(body, r.batch)
			if !strings.HasPrefix(string(out), string(body[:list.Index])) {
				t.Errorf("bytes before the list changed:\n%s", out)
			}
			again, err := h.p.ExtractRead(r, &ps, pullAccount, out, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			var want []Event
			for i, k := range c.keep {
				if k {
					want = append(want, evs[i])
				}
			}
			if len(again) != len(want) {
				t.Fatalf("%d records after the rewrite, want %d", len(again), len(want))
			}
			for i := range want {
				if got, exp := out[again[i].Start:again[i].End], body[want[i].Start:want[i].End]; string(got) != string(exp) {
					t.Errorf("kept record %d changed:\n%s\n%s", i, got, exp)
				}
			}
		})
	}
}

func TestParseTimeForms(t *testing.T) {
	want := time.Date(2026, 11, 27, 10, 0, 5, 0, time.UTC)
	for _, s := range []string{`"2026-11-27T10:00:05Z"`, `"2026-11-27T10:00:05.000+0000"`, `"2026-11-27T11:00:05.000+0100"`, `"2026-11-27 10:00:05"`, `1795773605`, `1795773605000`} {
		t.Run(s, func(t *testing.T) {
			if got := parseTime(gjson.Parse(s)); !got.Equal(want) {
				t.Fatalf("parseTime(%s) = %v, want %v", s, got, want)
			}
		})
	}
	if got := parseTime(gjson.Parse(`"yesterday"`)); !got.IsZero() {
		t.Fatalf("parseTime(yesterday) = %v, want zero", got)
	}
}
