package filters

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/loopguard/loopguard/tagging"
	"github.com/tidwall/gjson"
)

func TestMatchWrite(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{})
	hs := newHarness(t, "hubspotlike", harnessOpts{})
	cases := []struct {
		name         string
		p            *Provider
		method, path string
		ok           bool
		object, id   string
		fields       string
	}{
		{"generic PATCH", h.p, "PATCH", "/v1/contacts/c1", true, "contacts", "c1", ""},
		{"generic PUT", h.p, "PUT", "/v1/deals/d9/", true, "deals", "d9", ""},
		{"generic create", h.p, "POST", "/v1/contacts", true, "contacts", "", ""},
		{"generic GET is not a write", h.p, "GET", "/v1/contacts/c1", false, "", "", ""},
		{"generic POST to a record is not a route", h.p, "POST", "/v1/contacts/c1", false, "", "", ""},
		{"generic DELETE", h.p, "DELETE", "/v1/contacts/c1", false, "", "", ""},
		{"other path", h.p, "PATCH", "/v2/contacts/c1", false, "", "", ""},
		{"hubspot PATCH", hs.p, "PATCH", "/crm/v3/objects/contacts/501", true, "contacts", "501", "properties"},
		{"hubspot create", hs.p, "POST", "/crm/v3/objects/contacts", true, "contacts", "", "properties"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, ps, ok := c.p.MatchWrite(c.method, c.path)
			if ok != c.ok {
				t.Fatalf("MatchWrite(%s %s) ok = %v", c.method, c.path, ok)
			}
			if !ok {
				return
			}
			w := c.p.Tag(context.Background(), r, &ps, "acct", http.Header{}, nil, "")
			if w.Object != c.object || w.Record != c.id || r.Fields != c.fields {
				t.Fatalf("write object %q record %q fields %q", w.Object, w.Record, r.Fields)
			}
		})
	}
	if !h.p.HasWrites() {
		t.Fatal("HasWrites = false")
	}
}

func TestTag(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{})
	hs := newHarness(t, "hubspotlike", harnessOpts{})
	idem := newHarness(t, "generic_idem", harnessOpts{})
	jsonFP := func(p *Provider, rec string) uint64 { return tagging.Combine(p.FP.FromJSON(nil, gjson.Parse(rec))) }
	cases := []struct {
		name      string
		p         *Provider
		path      string
		ct        string
		body      string
		nilBody   bool
		untagged  string // passed in
		wantUntag string
		wantFP    uint64
		// sentinelAt is the JSON path (or form key, prefixed "form:") where
		// the sentinel must be; "" means the body is left untouched.
		sentinelAt string
		nfields    int
	}{
		{name: "JSON record", p: h.p, path: "/v1/contacts/c1", ct: "application/json; charset=utf-8",
			body: `{"name":"Ada","email":"ADA@example.com","updated_at":"x"}`, wantFP: jsonFP(h.p, `{"email":"ada@example.com","name":"Ada"}`),
			sentinelAt: "sync_source", nfields: 2},
		{name: "vendor +json type", p: h.p, path: "/v1/contacts/c1", ct: "application/vnd.api+json",
			body: `{"name":"Ada"}`, wantFP: jsonFP(h.p, `{"name":"Ada"}`), sentinelAt: "sync_source", nfields: 1},
		{name: "JSON without content type", p: h.p, path: "/v1/contacts/c1", ct: "",
			body: `{"name":"Ada"}`, wantFP: jsonFP(h.p, `{"name":"Ada"}`), sentinelAt: "sync_source", nfields: 1},
		{name: "form body fingerprints like JSON", p: h.p, path: "/v1/contacts/c1", ct: "application/x-www-form-urlencoded",
			body: "name=Ada&email=ada%40example.com&amount=100", wantFP: jsonFP(h.p, `{"email":"ada@example.com","name":"Ada"}`),
			sentinelAt: "form:sync_source", nfields: 2},
		{name: "nested properties", p: hs.p, path: "/crm/v3/objects/contacts/501", ct: "application/json",
			body: `{"properties":{"firstname":"Ada","hs_x":"1"}}`, wantFP: jsonFP(hs.p, `{"firstname":"Ada"}`),
			sentinelAt: "properties.loopguard_sync", nfields: 1},
		{name: "properties not an object", p: hs.p, path: "/crm/v3/objects/contacts/501", ct: "application/json",
			body: `{"properties":[1]}`, wantUntag: "not_an_object"},
		{name: "root array", p: h.p, path: "/v1/contacts/c1", ct: "application/json", body: `[{"name":"Ada"}]`, wantUntag: "not_an_object"},
		{name: "invalid JSON", p: h.p, path: "/v1/contacts/c1", ct: "application/json", body: `{"name":`, wantUntag: "malformed_json", nfields: 0},
		// Issue 13 case 5: what `curl -d '{...}'` sends. The body is JSON
		// whatever the header says; form pairs are never appended to it.
		{name: "JSON sent as form data is tagged as JSON", p: h.p, path: "/v1/contacts/c1", ct: "application/x-www-form-urlencoded",
			body: `{"name":"Ada"}`, wantFP: jsonFP(h.p, `{"name":"Ada"}`), sentinelAt: "sync_source", nfields: 1},
		{name: "broken JSON sent as form data is left untouched", p: h.p, path: "/v1/contacts/c1", ct: "application/x-www-form-urlencoded",
			body: ` {"name":"Ada"`, wantUntag: "malformed_json"},
		{name: "a JSON array sent as form data is left untouched", p: h.p, path: "/v1/contacts/c1", ct: "application/x-www-form-urlencoded",
			body: `[{"name":"Ada"}]`, wantUntag: "not_an_object"},
		{name: "body not buffered", p: h.p, path: "/v1/contacts/c1", ct: "application/json", nilBody: true, wantUntag: "no_body"},
		{name: "oversize passed in", p: h.p, path: "/v1/contacts/c1", ct: "application/json", body: `{"name":"Ada"}`, untagged: "oversize", wantUntag: "oversize"},
		{name: "other content type", p: h.p, path: "/v1/contacts/c1", ct: "text/plain", body: "name=Ada", wantUntag: "content_type"},
		{name: "malformed form", p: h.p, path: "/v1/contacts/c1", ct: "application/x-www-form-urlencoded", body: "name=%zz", wantUntag: "malformed_form"},
		{name: "idempotency key", p: idem.p, path: "/v1/contacts/c1", ct: "application/json",
			body: `{"name":"Ada"}`, wantFP: jsonFP(idem.p, `{"name":"Ada"}`), sentinelAt: "sync_source", nfields: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, ps, ok := c.p.MatchWrite("PATCH", c.path)
			if !ok {
				t.Fatalf("no route for %s", c.path)
			}
			hdr := http.Header{}
			if c.ct != "" {
				hdr.Set("Content-Type", c.ct)
			}
			var body []byte
			if !c.nilBody {
				body = []byte(c.body)
			}
			w := c.p.Tag(context.Background(), r, &ps, "acct", hdr, body, c.untagged)
			if w.Untagged != c.wantUntag {
				t.Fatalf("Untagged = %q, want %q", w.Untagged, c.wantUntag)
			}
			// Headers are stamped whether or not the body could be tagged.
			if want := c.p.Profile.Tagging.Headers["X-Change-Agent"]; want != "" && hdr.Get("X-Change-Agent") != testAgent {
				t.Fatalf("X-Change-Agent = %q", hdr.Get("X-Change-Agent"))
			}
			if string(body) != c.body && !c.nilBody {
				t.Fatal("Tag modified the caller's body")
			}
			if c.sentinelAt == "" {
				if w.Body != nil {
					t.Fatalf("untagged write has a body: %s", w.Body)
				}
				return
			}
			if w.FP != c.wantFP || len(w.Fields) != c.nfields {
				t.Fatalf("FP %x (%d fields), want %x (%d fields)", w.FP, len(w.Fields), c.wantFP, c.nfields)
			}
			var got string
			if key, ok := strings.CutPrefix(c.sentinelAt, "form:"); ok {
				vals, err := url.ParseQuery(string(w.Body))
				if err != nil || !strings.HasPrefix(string(w.Body), c.body+"&") {
					t.Fatalf("form body %q: want the sentinel appended", w.Body)
				}
				got = vals.Get(key)
			} else {
				got = gjson.GetBytes(w.Body, c.sentinelAt).String()
			}
			checkSentinel(t, c.p, w, got)
			if c.p == idem.p {
				if k := hdr.Get("Idempotency-Key"); !regexp.MustCompile(`^loopguard-[0-9a-f]{32}$`).MatchString(k) {
					t.Fatalf("Idempotency-Key = %q", k)
				}
			}
		})
	}
}

func TestTagKeepsAppIdempotencyKey(t *testing.T) {
	h := newHarness(t, "generic_idem", harnessOpts{})
	r, ps, _ := h.p.MatchWrite("PATCH", "/v1/contacts/c1")
	hdr := http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"app-key-1"}}
	h.p.Tag(context.Background(), r, &ps, "a", hdr, []byte(`{"name":"x"}`), "")
	if got := hdr.Values("Idempotency-Key"); len(got) != 1 || got[0] != "app-key-1" {
		t.Fatalf("Idempotency-Key = %v", got)
	}
}

func TestCreateThenRecord(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{})
	r, ps, ok := h.p.MatchWrite("POST", "/v1/contacts")
	if !ok {
		t.Fatal("no create route")
	}
	w := h.p.Tag(context.Background(), r, &ps, "a", http.Header{"Content-Type": {"application/json"}}, []byte(`{"name":"Ada"}`), "")
	if w.Record != "" {
		t.Fatalf("create has a record id %q before the response", w.Record)
	}
	// Without a record id nothing is recorded (and nothing fails).
	if err := h.eng.RecordWrite(t.Context(), w, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ resp, want string }{
		{`{"id":"c9","name":"Ada"}`, "c9"},
		{`{"id":123}`, "123"},
		{`{"data":{}}`, ""},
		{`not json`, ""},
	} {
		if got := w.CreatedID([]byte(c.resp)); got != c.want {
			t.Fatalf("CreatedID(%s) = %q, want %q", c.resp, got, c.want)
		}
	}
	w.Record = w.CreatedID([]byte(`{"id":"c9"}`))
	if err := h.eng.RecordWrite(t.Context(), w, nil); err != nil {
		t.Fatal(err)
	}
	st := h.stateOf(t, "c9")
	if len(st.Writes) != 1 || !st.Writes[0].Created || st.Writes[0].Nonce != w.Nonce || st.Writes[0].FP != w.FP {
		t.Fatalf("created record state = %+v", st)
	}
	// And its echo is dropped.
	_, d := h.deliverOne(genericEvent(t, map[string]any{"actor": nil, "record": echoRecord(t, w, "c9")}), nil)
	wantDecision(t, d, Drop, "sentinel", ReasonSentinelMatch)
}

func TestAccountOf(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{})
	hs := newHarness(t, "hubspotlike", harnessOpts{})
	u := &url.URL{Path: "/v1/contacts/c1"}
	var ps Params
	a1 := h.p.AccountOf("api.example.com", u, http.Header{"Authorization": {"Bearer sk_live_secret"}}, &ps)
	a2 := h.p.AccountOf("api.example.com", u, http.Header{"Authorization": {"Bearer sk_live_other"}}, &ps)
	if !strings.HasPrefix(a1, "h:") || strings.Contains(a1, "secret") || a1 == a2 {
		t.Fatalf("header accounts %q / %q: want distinct hashes without the credential", a1, a2)
	}
	if again := h.p.AccountOf("x", u, http.Header{"Authorization": {"Bearer sk_live_secret"}}, &ps); again != a1 {
		t.Fatalf("header account not stable: %q vs %q", again, a1)
	}
	if got := h.p.AccountOf("x", u, http.Header{}, &ps); got != "unknown" {
		t.Fatalf("no credential: %q", got)
	}
	if got := hs.p.AccountOf("x", u, http.Header{}, &ps); got != "portal" {
		t.Fatalf("static account: %q", got)
	}
}

// checkSentinel verifies that got is w's keyed sentinel, bound to its
// record (or, for a create, to no record yet).
func checkSentinel(t *testing.T, p *Provider, w *Write, got string) {
	t.Helper()
	nonce, mac, ok := tagging.ParseSentinel(got, testAgent)
	if !ok || nonce != w.Nonce || nonce == 0 {
		t.Fatalf("sentinel %q: parse ok %v nonce %x, want the write's nonce %x", got, ok, nonce, w.Nonce)
	}
	rec := w.Record
	if w.Created {
		rec = ""
	}
	if !p.key.Verify(tagging.Binding{Provider: p.Name, Object: w.Object, Record: rec, Nonce: nonce, FP: w.FP}, mac) {
		t.Fatalf("sentinel %q does not verify for %s/%s/%q", got, p.Name, w.Object, rec)
	}
}
