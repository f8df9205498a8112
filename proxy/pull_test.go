package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tidwall/gjson"
)

// pullEnv is a fake API, a sidecar intercepting it, and the app's client.
type pullEnv struct {
	api *fakeAPI
	srv *httptest.Server
	s   *Sidecar
	c   *http.Client
}

// pullOpts fill the placeholders of a pull test configuration.
type pullOpts struct {
	observe, providerObserve bool
	maxBody                  string // default 16KiB
}

// newPullEnv starts api behind TLS and a sidecar from the configuration
// file cfg (testdata/pull.yaml or a built-in profile's test file).
func newPullEnv(t *testing.T, api *fakeAPI, cfg string, o pullOpts) *pullEnv {
	t.Helper()
	srv := httptest.NewTLSServer(api)
	t.Cleanup(srv.Close)
	raw, err := os.ReadFile(cfg)
	must(t, err)
	if o.maxBody == "" {
		o.maxBody = "16KiB"
	}
	s := startSidecar(t, string(raw), map[string]string{
		"upstream_ca": writePEM(t, srv), "upstream_host": hostOf(srv), "upstream_url": srv.URL,
		"observe": strconv.FormatBool(o.observe), "provider_observe": strconv.FormatBool(o.providerObserve), "max_body": o.maxBody,
	})
	return &pullEnv{api: api, srv: srv, s: s, c: proxiedClient(t, s)}
}

// TestSidecarReportsPullDecisions: a sidecar built by New keeps pull
// decisions in the ring GET /decisions serves.
func TestSidecarReportsPullDecisions(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/pull.yaml")
	must(t, err)
	s := startSidecar(t, string(raw), map[string]string{
		"upstream_ca": "", "upstream_host": "api.crm.test", "upstream_url": "https://api.crm.test",
		"observe": "false", "provider_observe": "false", "max_body": "16KiB",
	})
	if s.Outbound.pull.ring != s.Ring || s.Gateway.pull.ring != s.Ring {
		t.Fatal("pull decisions do not reach GET /decisions: New (proxy/sidecar.go) must call s.reportPulls() once the outbound proxy and gateway are built")
	}
}

// pullDecisions returns the pull decisions GET /decisions lists, by record.
func pullDecisions(t *testing.T, s *Sidecar, provider string) map[string]map[string]any {
	t.Helper()
	resp, body := mustDo(t, http.DefaultClient, http.MethodGet, "http://"+s.Addr("admin")+"/decisions?provider="+provider, "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/decisions = %d %s", resp.StatusCode, body)
	}
	var out struct {
		Decisions []map[string]any `json:"decisions"`
	}
	must(t, json.Unmarshal([]byte(body), &out))
	byRecord := map[string]map[string]any{}
	for _, d := range out.Decisions {
		if d["source"] == "pull" {
			byRecord[d["record"].(string)] = d
		}
	}
	return byRecord
}

// ids lists the record ids of a response's list.
func ids(body, list, key string) []string {
	var out []string
	for _, r := range gjson.Get(body, list).Array() {
		out = append(out, r.Get(key).String())
	}
	return out
}

// checkLength fails when a Content-Length contradicts the body (a chunked
// answer, as goproxy sends a changed body, has none).
func checkLength(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	if cl := resp.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(body)) {
		t.Fatalf("Content-Length %s for a %d-byte body", cl, len(body))
	}
	if resp.ContentLength >= 0 && resp.ContentLength != int64(len(body)) {
		t.Fatalf("ContentLength %d for a %d-byte body", resp.ContentLength, len(body))
	}
}

// crmScenario: the app writes c1, c2 and c4 through the sidecar, humans edit
// c3 and c5 directly at the API.
func crmScenario(t *testing.T, e *pullEnv, write func(path, body string)) {
	t.Helper()
	for _, id := range []string{"c1", "c2", "c4"} {
		write("/v1/contacts/"+id, `{"name":"App `+id+`","email":"`+id+`@example.com"}`)
	}
	for _, id := range []string{"c3", "c5"} {
		e.api.edit(id, "", map[string]any{"name": "Human " + id, "email": id + "@example.com", "updated_by": "u_human", "updated_at": "2026-11-27T10:00:05Z"})
	}
}

func TestPullRemovesOwnWrites(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// base is where the app sends API calls; client how.
		base   func(e *pullEnv) string
		client func(e *pullEnv) *http.Client
		// chunked: the answer to a changed body may have no length
		// (goproxy); the gateway sends the exact length.
		chunked bool
	}{
		{"forward proxy (MITM)", func(e *pullEnv) string { return e.srv.URL }, func(e *pullEnv) *http.Client { return e.c }, true},
		{"gateway", func(e *pullEnv) string { return "http://" + e.s.Addr("outbound") + "/crm" }, func(*pullEnv) *http.Client { return http.DefaultClient }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newPullEnv(t, genericCRM(t), "testdata/pull.yaml", pullOpts{})
			cl, base := c.client(e), c.base(e)
			crmScenario(t, e, func(path, body string) {
				if resp, got := mustDo(t, cl, http.MethodPatch, base+path, "application/json", body); resp.StatusCode != 200 {
					t.Fatalf("write %s: %d %s", path, resp.StatusCode, got)
				}
			})
			pages := []struct {
				query string
				want  []string
			}{{"", []string{"c3"}}, {"?after=c3", []string{"c5"}}}
			for _, pg := range pages {
				resp, got := mustDo(t, cl, http.MethodGet, base+"/v1/contacts"+pg.query, "", "")
				sent, _ := e.api.lastSent()
				if resp.StatusCode != 200 || !slices.Equal(ids(got, "results", "id"), pg.want) {
					t.Fatalf("page %q: %d, records %v, want %v:\n%s", pg.query, resp.StatusCode, ids(got, "results", "id"), pg.want, got)
				}
				for _, p := range []string{"total", "paging"} {
					if g, w := gjson.Get(got, p).Raw, gjson.GetBytes(sent, p).Raw; g != w {
						t.Errorf("page %q: %s = %s, the API sent %s", pg.query, p, g, w)
					}
				}
				human := gjson.GetBytes(sent, `results.#(id=="`+pg.want[0]+`")`).Raw
				if human == "" || !strings.Contains(got, human) || !strings.HasPrefix(got, string(sent[:gjson.GetBytes(sent, "results").Index])) {
					t.Errorf("page %q: the human's record or the bytes before the list changed:\n%s\nsent:\n%s", pg.query, got, sent)
				}
				checkLength(t, resp, got)
				if !c.chunked && resp.Header.Get("Content-Length") != strconv.Itoa(len(got)) {
					t.Errorf("page %q: Content-Length %q, want %d", pg.query, resp.Header.Get("Content-Length"), len(got))
				}
				if et := resp.Header.Get("Etag"); et != `W/"v1"` {
					t.Errorf("page %q: ETag %q of a rewritten list, want the weak W/\"v1\"", pg.query, et)
				}
			}
			m := e.s.Metrics.Decisions
			if n := testutil.ToFloat64(m.WithLabelValues("crm", "pull", "sentinel", "sentinel_match", "drop")); n != 3 {
				t.Errorf("pull drops by sentinel = %v, want 3", n)
			}
			if n := testutil.ToFloat64(m.WithLabelValues("crm", "pull", "fingerprint", "new_value", "forward")); n != 2 {
				t.Errorf("pull forwards = %v, want 2", n)
			}
			if n := testutil.ToFloat64(e.s.Metrics.PullResponses.WithLabelValues("crm", "filtered")); n != 2 {
				t.Errorf("filtered pull responses = %v, want 2 (two pages)", n)
			}
			ds := pullDecisions(t, e.s, "crm")
			for _, id := range []string{"c1", "c2", "c4"} {
				if d := ds[id]; d == nil || d["action"] != "drop" || d["layer"] != "sentinel" || d["object"] != "contacts" {
					t.Errorf("/decisions for %s = %v, want a pull drop by sentinel", id, d)
				}
			}
			if d := ds["c3"]; d == nil || d["action"] != "forward" {
				t.Errorf("/decisions for c3 = %v, want a pull forward", d)
			}
		})
	}
}

func TestPullObserve(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		o    pullOpts
	}{
		{"global observe", pullOpts{observe: true}},
		{"provider observe", pullOpts{providerObserve: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newPullEnv(t, genericCRM(t), "testdata/pull.yaml", c.o)
			crmScenario(t, e, func(path, body string) { mustDo(t, e.c, http.MethodPatch, e.srv.URL+path, "application/json", body) })
			resp, got := mustDo(t, e.c, http.MethodGet, e.srv.URL+"/v1/contacts", "", "")
			sent, _ := e.api.lastSent()
			if resp.StatusCode != 200 || got != string(sent) {
				t.Fatalf("observe changed the poll: %d\n%s\nsent:\n%s", resp.StatusCode, got, sent)
			}
			if n := testutil.ToFloat64(e.s.Metrics.Decisions.WithLabelValues("crm", "pull", "sentinel", "sentinel_match", "would_drop")); n != 2 {
				t.Errorf("would-be removals counted %v, want 2", n)
			}
			ds := pullDecisions(t, e.s, "crm")
			for _, id := range []string{"c1", "c2"} {
				if d := ds[id]; d == nil || d["action"] != "forward" || d["observed"] != true || d["layer"] != "sentinel" {
					t.Errorf("/decisions for %s = %v, want an observed would-be removal", id, d)
				}
			}
			if d := ds["c3"]; d == nil || d["observed"] == true {
				t.Errorf("/decisions for c3 = %v, want a plain forward", d)
			}
		})
	}
}

func TestPullPassesUntouched(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, ctype, coding string
		status              int
		// body builds the response from the stored records (one is ours).
		body    func(recs []string) string
		maxBody string
		// reason is the whole-response decision reported ("": none).
		reason string
	}{
		{name: "server error", ctype: "application/json", status: 500, body: func(r []string) string { return `{"results":[` + strings.Join(r, ",") + `]}` }},
		{name: "event stream", ctype: "text/event-stream", status: 200, body: func(r []string) string { return "data: {\"results\":[" + r[0] + "]}\n\n" }},
		{name: "not JSON", ctype: "text/plain", status: 200, body: func(r []string) string { return `{"results":[` + strings.Join(r, ",") + `]}` }},
		{name: "oversize", ctype: "application/json", status: 200, maxBody: "1KiB", reason: "oversize",
			body: func(r []string) string {
				return `{"results":[` + strings.Join(r, ",") + `],"pad":"` + strings.Repeat("x", 2048) + `"}`
			}},
		{name: "unknown coding", ctype: "application/json", coding: "zstd", status: 200, reason: "unsupported_encoding",
			body: func([]string) string { return "\x28\xb5\x2f\xfd not really zstd" }},
		{name: "malformed", ctype: "application/json", status: 200, reason: "malformed",
			body: func(r []string) string { return `{"results":[` + strings.Join(r, ",") + `]` }},
		{name: "list missing", ctype: "application/json", status: 200, reason: "malformed",
			body: func(r []string) string { return `{"items":[` + strings.Join(r, ",") + `]}` }},
		{name: "no echo", ctype: "application/json", status: 200,
			body: func(r []string) string { return `{"results":[` + r[1] + `],"next":null}` }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newPullEnv(t, genericCRM(t), "testdata/pull.yaml", pullOpts{maxBody: c.maxBody})
			mustDo(t, e.c, http.MethodPatch, e.srv.URL+"/v1/contacts/c1", "application/json", `{"name":"Ours","email":"o@example.com"}`)
			e.api.edit("c2", "", map[string]any{"name": "Human", "updated_by": "u_human"})
			recs, _, _ := e.api.page("", 3, "id")
			body := c.body(recs)
			e.api.override = func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", c.ctype)
				if c.coding != "" {
					w.Header().Set("Content-Encoding", c.coding)
				}
				w.WriteHeader(c.status)
				_, _ = w.Write([]byte(body))
			}
			resp, got := mustDo(t, e.c, http.MethodGet, e.srv.URL+"/v1/contacts", "", "", "Accept-Encoding", "gzip, zstd")
			if resp.StatusCode != c.status || got != body || resp.Header.Get("Content-Encoding") != c.coding {
				t.Fatalf("%d %q (%s), want %d and the body as sent:\n%s\n%s", resp.StatusCode, resp.Header.Get("Content-Encoding"), c.name, c.status, got, body)
			}
			checkLength(t, resp, got)
			m := e.s.Metrics
			whole := 0.0
			for _, r := range []string{"oversize", "unsupported_encoding", "malformed"} {
				n := testutil.ToFloat64(m.Decisions.WithLabelValues("crm", "pull", "response", r, "forward"))
				whole += n
				if want := map[bool]float64{true: 1}[r == c.reason]; n != want {
					t.Errorf("whole-response decisions %s = %v, want %v", r, n, want)
				}
			}
			if c.reason != "" && testutil.ToFloat64(m.Doubts.WithLabelValues("crm", c.reason)) != 1 {
				t.Errorf("doubt %s not counted", c.reason)
			}
			drops := testutil.ToFloat64(m.Decisions.WithLabelValues("crm", "pull", "sentinel", "sentinel_match", "drop"))
			if drops != 0 {
				t.Errorf("%v records dropped from a response that passed untouched", drops)
			}
			if c.name == "no echo" && testutil.ToFloat64(m.Decisions.WithLabelValues("crm", "pull", "fingerprint", "new_value", "forward")) != 1 {
				t.Error("the human's record was not decided")
			}
		})
	}
}
