package filters

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/loopguard/loopguard/tagging"
	"github.com/tidwall/gjson"
)

// checkSpans asserts that each event's span is exactly the bytes of the
// matching element of the batch array at arrPath ("" for a root array).
func checkSpans(t testing.TB, body []byte, arrPath string, evs []Event) {
	t.Helper()
	arr := gjson.ParseBytes(body)
	if arrPath != "" {
		arr = arr.Get(arrPath)
	}
	elems := arr.Array()
	if len(elems) != len(evs) {
		t.Fatalf("%d events for %d array elements", len(evs), len(elems))
	}
	prevEnd := 0
	for i, ev := range evs {
		if ev.Start < prevEnd || ev.End <= ev.Start || ev.End > len(body) {
			t.Fatalf("event %d span [%d,%d) out of order or range (body %d bytes)", i, ev.Start, ev.End, len(body))
		}
		span := string(body[ev.Start:ev.End])
		if span != elems[i].Raw {
			t.Fatalf("event %d span %q, want element %q", i, span, elems[i].Raw)
		}
		if !gjson.Valid(span) || span[0] != '{' || span[len(span)-1] != '}' {
			t.Fatalf("event %d span is not one JSON object: %q", i, span)
		}
		prevEnd = ev.End
	}
}

func TestExtractHubSpotBatch(t *testing.T) {
	h := newHarness(t, "hubspotlike", harnessOpts{})
	r, ok := h.p.MatchWebhook("POST", "/webhooks/hubspot")
	if !ok {
		t.Fatal("no route")
	}
	body := readFixture(t, "hubspot_batch.json")
	evs, err := h.p.Extract(r, body, http.Header{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkSpans(t, body, "", evs)
	firstname, _ := h.p.FP.Property("firstname", gjson.Parse(`"Ada"`))
	email, _ := h.p.FP.Property("email", gjson.Parse(`"ada@example.com"`))
	cases := []struct {
		id, record, actor string
		occurred          time.Time
		field             string
		hash              uint64
		sentinel          string
		sentinelChange    bool
	}{
		{"77:1001", "501", "userId:9", time.UnixMilli(1764237600000), "firstname", firstname.Hash, "", false},
		{"77:1002", "501", "4242", time.UnixMilli(1764237600001), "email", email.Hash, "", false},
		{"78:1003", "502", "userId:9", time.UnixMilli(1764237600002), "", 0, "", false},
		{"79:1004", "501", "4242", time.UnixMilli(1764237600003), "", 0, "loopguard:0123456789ab", true},
	}
	for i, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			ev := evs[i]
			if ev.ID != c.id || ev.Record != c.record || ev.Actor != c.actor || ev.Object != "contacts" ||
				ev.Account != "62515" || ev.Provider != "hubspotlike" || ev.Source != SourceWebhook || !ev.Partial {
				t.Fatalf("event = %+v", ev)
			}
			if !ev.OccurredAt.Equal(c.occurred) {
				t.Fatalf("OccurredAt = %v, want %v", ev.OccurredAt, c.occurred)
			}
			if c.field == "" && len(ev.Fields) != 0 {
				t.Fatalf("untracked property produced fields %v", ev.Fields)
			}
			if c.field != "" && (len(ev.Fields) != 1 || ev.Fields[0].Name != c.field || ev.Fields[0].Hash != c.hash) {
				t.Fatalf("fields = %v, want %s=%x", ev.Fields, c.field, c.hash)
			}
			if ev.Sentinel != c.sentinel || ev.SentinelChange != c.sentinelChange {
				t.Fatalf("sentinel %q change %v, want %q %v", ev.Sentinel, ev.SentinelChange, c.sentinel, c.sentinelChange)
			}
		})
	}
}

func TestExtractWrappedBatchWithWhitespace(t *testing.T) {
	h := newHarness(t, "hubspotlike", harnessOpts{})
	r, _ := h.p.MatchWebhook("POST", "/webhooks/hubspot/wrapped")
	body := readFixture(t, "hubspot_wrapped.json")
	if body[0] != ' ' {
		t.Fatal("fixture must start with whitespace")
	}
	prior := []Event{{ID: "kept"}}
	evs, err := h.p.Extract(r, body, nil, prior)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || evs[0].ID != "kept" {
		t.Fatalf("Extract did not append to dst: %d events", len(evs))
	}
	checkSpans(t, body, "events", evs[1:])
	// contact.creation has no property: a skinny event of a mapped object.
	if ev := evs[2]; !ev.Skinny() || ev.Object != "contacts" || ev.Record != "503" || ev.ID != "5:2" {
		t.Fatalf("creation event = %+v", ev)
	}
}

func TestExtractSingle(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{})
	r, _ := h.p.MatchWebhook("POST", "/webhooks/generic")
	body := readFixture(t, "generic_event.json")
	evs, err := h.p.Extract(r, body, http.Header{"X-Change-Agent": {"someone"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := evs[0]
	if len(evs) != 1 || ev.Start != 0 || ev.End != len(body) {
		t.Fatalf("single event span [%d,%d) of %d bytes", ev.Start, ev.End, len(body))
	}
	want := Event{Source: SourceWebhook, Provider: "generic", Account: "globex", Object: "contacts", Record: "c1", ID: "evt_1", Actor: "user_42"}
	if ev.Source != want.Source || ev.Provider != want.Provider || ev.Account != want.Account || ev.Object != want.Object ||
		ev.Record != want.Record || ev.ID != want.ID || ev.Actor != want.Actor || ev.Partial {
		t.Fatalf("event = %+v", ev)
	}
	if !ev.OccurredAt.Equal(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("OccurredAt = %v", ev.OccurredAt)
	}
	// Tracked fields only (name, email; phone absent, updated_at untracked).
	if len(ev.Fields) != 2 || ev.Fields[0].Name != "email" || ev.Fields[1].Name != "name" {
		t.Fatalf("fields = %v", ev.Fields)
	}
	// Markers: header first, then body field, as in the profile.
	if len(ev.Marks) != 2 || ev.Marks[0] != "someone" || ev.Marks[1] != "" {
		t.Fatalf("marks = %q", ev.Marks)
	}
}

func TestExtractMissingPieces(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{})
	r, _ := h.p.MatchWebhook("POST", "/webhooks/generic")
	cases := []struct {
		name  string
		body  string
		check func(t *testing.T, ev Event)
	}{
		{"no event id", `{"object":"contacts","record":{"id":"c1","name":"A"}}`, func(t *testing.T, ev Event) {
			if ev.ID != "" || ev.Record != "c1" {
				t.Fatalf("%+v", ev)
			}
		}},
		{"numeric record id and epoch seconds", `{"id":7,"occurred_at":1764237600,"record":{"id":42}}`, func(t *testing.T, ev Event) {
			if ev.ID != "7" || ev.Record != "42" || !ev.OccurredAt.Equal(time.Unix(1764237600, 0)) {
				t.Fatalf("%+v", ev)
			}
		}},
		{"bad time is zero", `{"occurred_at":"yesterday","record":{"id":"c1"}}`, func(t *testing.T, ev Event) {
			if !ev.OccurredAt.IsZero() {
				t.Fatalf("OccurredAt = %v", ev.OccurredAt)
			}
		}},
		{"record not an object", `{"record":"c1"}`, func(t *testing.T, ev Event) {
			if len(ev.Fields) != 0 || ev.Record != "" {
				t.Fatalf("%+v", ev)
			}
		}},
		{"null values", `{"id":null,"actor":null,"record":{"id":"c1","name":null,"sync_source":null}}`, func(t *testing.T, ev Event) {
			if ev.ID != "" || ev.Actor != "" || ev.Sentinel != "" || len(ev.Fields) != 1 {
				t.Fatalf("%+v", ev)
			}
		}},
		{"non-string sentinel is ignored", `{"record":{"id":"c1","sync_source":123}}`, func(t *testing.T, ev Event) {
			if ev.Sentinel != "" {
				t.Fatalf("sentinel %q", ev.Sentinel)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs, err := h.p.Extract(r, []byte(c.body), nil, nil)
			if err != nil || len(evs) != 1 {
				t.Fatalf("Extract: %d events, %v", len(evs), err)
			}
			c.check(t, evs[0])
		})
	}
}

func TestExtractMalformed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "malformed", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no malformed fixtures: %v", err)
	}
	h := newHarness(t, "hubspotlike", harnessOpts{})
	g := newHarness(t, "generic", harnessOpts{})
	routes := []struct {
		name string
		p    *Provider
		path string
		// ok lists fixtures that are fine for this route.
		ok map[string]bool
	}{
		{"single", g.p, "/webhooks/generic", map[string]bool{"batch_not_array.json": true}},
		{"root batch", h.p, "/webhooks/hubspot", map[string]bool{}},
		{"wrapped batch", h.p, "/webhooks/hubspot/wrapped", map[string]bool{}},
	}
	for _, rt := range routes {
		r, ok := rt.p.MatchWebhook("POST", rt.path)
		if !ok {
			t.Fatalf("no route %s", rt.path)
		}
		for _, f := range files {
			t.Run(rt.name+"/"+filepath.Base(f), func(t *testing.T) {
				body, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				prior := []Event{{ID: "kept"}}
				evs, err := rt.p.Extract(r, body, nil, prior)
				if rt.ok[filepath.Base(f)] {
					if err != nil || len(evs) != 2 {
						t.Fatalf("Extract(%q) = %d events, %v; want one more event", body, len(evs), err)
					}
					return
				}
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Extract(%q) err = %v, want ErrMalformed", body, err)
				}
				if len(evs) != 1 || evs[0].ID != "kept" {
					t.Fatalf("a malformed delivery returned events: %d", len(evs))
				}
			})
		}
	}
	// Shapes that are valid JSON but wrong for a route.
	shapes := []struct {
		name, path, body string
		p                *Provider
	}{
		{"single route, root array", "/webhooks/generic", `[{"id":"e"}]`, g.p},
		{"batch route, root object", "/webhooks/hubspot", `{"eventId":1}`, h.p},
		{"wrapped route, root array", "/webhooks/hubspot/wrapped", `[{"eventId":1}]`, h.p},
		{"wrapped route, events missing", "/webhooks/hubspot/wrapped", `{"other":[]}`, h.p},
		{"wrapped route, nested arrays", "/webhooks/hubspot/wrapped", `{"events":[[{"eventId":1}]]}`, h.p},
	}
	for _, c := range shapes {
		t.Run(c.name, func(t *testing.T) {
			r, _ := c.p.MatchWebhook("POST", c.path)
			evs, err := c.p.Extract(r, []byte(c.body), nil, nil)
			if !errors.Is(err, ErrMalformed) || len(evs) != 0 {
				t.Fatalf("Extract(%s) = %d events, %v; want ErrMalformed", c.body, len(evs), err)
			}
		})
	}
	t.Run("empty batch is no events, no error", func(t *testing.T) {
		r, _ := h.p.MatchWebhook("POST", "/webhooks/hubspot")
		evs, err := h.p.Extract(r, []byte(" [ ] "), nil, nil)
		if err != nil || len(evs) != 0 {
			t.Fatalf("empty batch: %d events, %v", len(evs), err)
		}
	})
}

func TestHubSpotEchoesInABatch(t *testing.T) {
	h := newHarness(t, "hubspotlike", harnessOpts{})
	w := h.write("PATCH", "/crm/v3/objects/contacts/501", jsonCT, `{"properties":{"firstname":"Ada","email":" Ada@Example.com"}}`)
	sentinel := gjson.GetBytes(w.Body, "properties.loopguard_sync").String()
	if _, _, ok := tagging.ParseSentinel(sentinel, testAgent); !ok {
		t.Fatalf("write body has no sentinel: %s", w.Body)
	}
	h.clock.Advance(time.Second)
	ev := func(id int, prop, value, source string) string {
		s := `{"eventId":` + strconv.Itoa(id) + `,"subscriptionId":1,"portalId":62515,"subscriptionType":"contact.propertyChange","objectId":501,"propertyName":"` +
			prop + `","propertyValue":` + strconv.Quote(value)
		if source != "" {
			s += `,"sourceId":"` + source + `"`
		}
		return s + `}`
	}
	body := []byte("[" + ev(1, "firstname", "Ada", "") + ",\n " + ev(2, "email", "ada@example.com", "") + ", " +
		ev(3, "loopguard_sync", sentinel, "") + "," + ev(4, "lastname", "Lovelace", "userId:9") + "," +
		ev(5, "firstname", "Augusta", "userId:9") + "," + ev(6, "email", "ada@example.com", "4242") + "]")
	evs, ds := h.deliver("/webhooks/hubspot", body, nil)
	checkSpans(t, body, "", evs)
	want := []struct {
		action Action
		layer  string
		reason Reason
	}{
		{Drop, "fingerprint", ReasonPendingWrite},
		// The first property settled the write (filters.After): the
		// second is what the app holds.
		{Drop, "fingerprint", ReasonNoChange},
		{Drop, "sentinel", ReasonSentinelChange},
		{Forward, "fingerprint", ReasonNewValue},
		{Forward, "fingerprint", ReasonNewValue},
		{Drop, "actor", ReasonIntegrationUser},
	}
	for i, w := range want {
		t.Run(evs[i].ID, func(t *testing.T) { wantDecision(t, ds[i], w.action, w.layer, w.reason) })
	}
	// The echoes settled our write; the app accepts the forwarded events,
	// and the human's firstname is now what the app holds.
	h.accept(evs, ds)
	st := h.stateOf(t, "501")
	if len(st.Writes) != 0 {
		t.Fatalf("writes left unsettled after their echoes: %+v", st.Writes)
	}
	aug, _ := h.p.FP.Property("firstname", gjson.Parse(`"Augusta"`))
	if v, ok := st.AppValue("firstname"); !ok || v.Hash != aug.Hash {
		t.Fatalf("firstname after accept = %+v, want Augusta", v)
	}
}
