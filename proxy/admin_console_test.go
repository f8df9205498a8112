package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/proxy/console"
	"github.com/tidwall/gjson"
)

// TestAdminGate: the token gate takes the Bearer header or the console's
// login cookie; a cookie-authenticated change needs the session's CSRF
// header and the admin's own origin; a browser's cross-site change is
// refused even without a token; the probes stay open.
func TestAdminGate(t *testing.T) {
	t.Parallel()
	const token = "s3cret-token"
	session := "0123456789abcdef"
	csrf := console.CSRFToken(token, session)
	cookie := console.TokenCookie + "=" + token + "; " + console.SessionCookie + "=" + session
	newServer := func(tok string) string {
		var ready atomic.Bool
		ready.Store(true)
		a := NewAdmin(NewMetrics(nil), NewDecisionRing(4), tok, &ready, nil)
		a.Handle("POST /poke", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
		srv := httptest.NewServer(a)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	withToken, open := newServer(token), newServer("")
	host := strings.TrimPrefix(withToken, "http://")
	cases := []struct {
		name, base, method, path string
		hdr                      []string
		want                     int
	}{
		{"probe needs nothing", withToken, "GET", "/healthz", nil, 200},
		{"no credentials", withToken, "GET", "/decisions", nil, 401},
		{"bearer", withToken, "GET", "/decisions", []string{"Authorization", "Bearer " + token}, 200},
		{"wrong bearer", withToken, "GET", "/decisions", []string{"Authorization", "Bearer nope"}, 403},
		{"a wrong bearer beats a right cookie", withToken, "GET", "/decisions", []string{"Authorization", "Bearer nope", "Cookie", cookie}, 403},
		{"cookie", withToken, "GET", "/decisions", []string{"Cookie", cookie}, 200},
		{"wrong cookie", withToken, "GET", "/decisions", []string{"Cookie", console.TokenCookie + "=nope"}, 403},
		{"bearer change", withToken, "POST", "/poke", []string{"Authorization", "Bearer " + token}, 204},
		{"cookie change without CSRF", withToken, "POST", "/poke", []string{"Cookie", cookie}, 403},
		{"cookie change with a wrong CSRF", withToken, "POST", "/poke", []string{"Cookie", cookie, console.CSRFHeader, "x"}, 403},
		{"cookie change without session", withToken, "POST", "/poke", []string{"Cookie", console.TokenCookie + "=" + token, console.CSRFHeader, csrf}, 403},
		{"cookie change with CSRF", withToken, "POST", "/poke", []string{"Cookie", cookie, console.CSRFHeader, csrf}, 204},
		{"same-origin browser change", withToken, "POST", "/poke", []string{"Cookie", cookie, console.CSRFHeader, csrf,
			"Origin", "http://" + host, "Sec-Fetch-Site", "same-origin"}, 204},
		{"cross-origin cookie change", withToken, "POST", "/poke", []string{"Cookie", cookie, console.CSRFHeader, csrf, "Origin", "http://evil.example"}, 403},
		{"same-site other port", withToken, "POST", "/poke", []string{"Cookie", cookie, console.CSRFHeader, csrf, "Sec-Fetch-Site", "same-site"}, 403},
		{"null origin", withToken, "POST", "/poke", []string{"Cookie", cookie, console.CSRFHeader, csrf, "Origin", "null"}, 403},
		{"cross-site cookie read is a read", withToken, "GET", "/decisions", []string{"Cookie", cookie, "Sec-Fetch-Site", "cross-site"}, 200},
		{"no token: open", open, "GET", "/decisions", nil, 200},
		{"no token: curl change", open, "POST", "/poke", nil, 204},
		{"no token: same-origin page change", open, "POST", "/poke", []string{"Sec-Fetch-Site", "same-origin"}, 204},
		{"no token: cross-site page change", open, "POST", "/poke", []string{"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"}, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := mustDo(t, http.DefaultClient, c.method, c.base+c.path, "", "", c.hdr...)
			if resp.StatusCode != c.want {
				t.Fatalf("%s %s: %d %s, want %d", c.method, c.path, resp.StatusCode, body, c.want)
			}
		})
	}
}

// TestDecisionsAPI: GET /decisions filters by provider, source, action,
// layer and record before the limit, numbers every decision, and GET
// /decisions/{seq} returns one while the ring keeps it.
func TestDecisionsAPI(t *testing.T) {
	t.Parallel()
	ring := NewDecisionRing(5)
	add := func(provider string, src filters.Source, action filters.Action, observed bool, layer, record string) {
		d := filters.Decision{Time: time.Now(), Source: src, Action: action, Observed: observed,
			Layer: layer, Provider: provider, Record: record}
		if observed {
			d.Action = filters.Forward // an observed drop is forwarded
		}
		ring.Add(d)
	}
	add("a", filters.SourceWebhook, filters.Forward, false, "chain", "r0") // 1: evicted by 6
	add("a", filters.SourceWebhook, filters.Drop, false, "marker", "r1")   // 2
	add("b", filters.SourcePull, filters.Drop, false, "sentinel", "r2")    // 3
	add("a", filters.SourceWebhook, filters.Forward, true, "marker", "r1") // 4: would drop
	add("a", filters.SourceWebhook, filters.Hold, false, "loop", "r1")     // 5
	add("b", filters.SourceWebhook, filters.Forward, false, "chain", "r3") // 6
	var ready atomic.Bool
	srv := httptest.NewServer(NewAdmin(NewMetrics(nil), ring, "", &ready, nil))
	t.Cleanup(srv.Close)
	seqs := func(query string) string {
		t.Helper()
		resp, body := mustDo(t, http.DefaultClient, "GET", srv.URL+"/decisions?"+query, "", "")
		if resp.StatusCode != 200 || gjson.Get(body, "total").Int() != 6 {
			t.Fatalf("%s: %d %s", query, resp.StatusCode, body)
		}
		var out []string
		for _, s := range gjson.Get(body, "decisions.#.seq").Array() {
			out = append(out, s.String())
		}
		return strings.Join(out, ",")
	}
	for q, want := range map[string]string{
		"":                          "6,5,4,3,2",
		"limit=2":                   "6,5",
		"provider=a":                "5,4,2",
		"provider=a&limit=1":        "5",
		"source=pull":               "3",
		"action=drop":               "3,2",
		"action=would_drop":         "4",
		"action=hold":               "5",
		"layer=marker":              "4,2",
		"record=r1":                 "5,4,2",
		"record=r1&layer=marker":    "4,2",
		"provider=b&action=forward": "6",
		"record=none":               "",
	} {
		if got := seqs(q); got != want {
			t.Errorf("?%s: seqs %q, want %q", q, got, want)
		}
	}
	resp, body := mustDo(t, http.DefaultClient, "GET", srv.URL+"/decisions/3", "", "")
	if resp.StatusCode != 200 || gjson.Get(body, "seq").Int() != 3 || gjson.Get(body, "layer").String() != "sentinel" ||
		gjson.Get(body, "source").String() != "pull" {
		t.Fatalf("/decisions/3: %d %s", resp.StatusCode, body)
	}
	for path, want := range map[string]int{"/decisions/1": 404, "/decisions/7": 404, "/decisions/0": 404, "/decisions/x": 400} {
		if resp, body := mustDo(t, http.DefaultClient, "GET", srv.URL+path, "", ""); resp.StatusCode != want {
			t.Errorf("%s: %d %s, want %d", path, resp.StatusCode, body, want)
		}
	}
}

// TestRecordsAPI: GET /records/{key} shows what the ledger knows of a
// record (hashes of our pending write, then the genuine state), its
// quarantine and its decisions; POST /records/{key}/release releases it.
func TestRecordsAPI(t *testing.T) {
	t.Parallel()
	e := newGuardEnv(t, "hold", 0, "")
	key := url.PathEscape("crm//contacts/r1")
	if code, body := e.admin(t, "GET", "/records/"+key); code != 200 || gjson.Get(body, "known").Bool() || gjson.Get(body, "quarantined").Bool() {
		t.Fatalf("unknown record: %d %s", code, body)
	}
	if code, body := e.admin(t, "GET", "/records/nope"); code != 400 {
		t.Fatalf("bad key: %d %s", code, body)
	}
	if resp := e.write(t, "r1", "a"); resp.StatusCode != 200 {
		t.Fatalf("write: %d", resp.StatusCode)
	}
	_, body := e.admin(t, "GET", "/records/"+key)
	if !gjson.Get(body, "known").Bool() || gjson.Get(body, "last_write").String() == "" || gjson.Get(body, "last_seen").Exists() ||
		len(gjson.Get(body, "writes").Array()) != 1 || gjson.Get(body, "writes.0.seq").Int() != 1 ||
		!gjson.Get(body, `writes.0.expected.#(name=="name").written`).Bool() || len(gjson.Get(body, `writes.0.expected.#(name=="name").hash`).String()) != 16 ||
		gjson.Get(body, "key").String() != "crm//contacts/r1" {
		t.Fatalf("after our write: %s", body)
	}
	// The workflow's change is genuine: the app accepts it, the ledger keeps
	// it as the last genuine state.
	if status, _ := e.deliver(t, e.crm.webhook("ev1", "r1")); status != 200 {
		t.Fatalf("delivery: %d", status)
	}
	_, body = e.admin(t, "GET", "/records/"+key)
	if gjson.Get(body, "last_seen").String() == "" || len(gjson.Get(body, `app.#(name=="email").hash`).String()) != 16 ||
		gjson.Get(body, "decisions.0.action").String() != "forward" || gjson.Get(body, "decisions.0.seq").Int() != 1 {
		t.Fatalf("after the genuine change: %s", body)
	}
	// A key naming an account finds the same record.
	if _, b := e.admin(t, "GET", "/records/"+url.PathEscape("crm/acct/contacts/r1")); gjson.Get(b, "key").String() != "crm//contacts/r1" || !gjson.Get(b, "known").Bool() {
		t.Fatalf("key with an account: %s", b)
	}
	// Loop until quarantined (threshold 3).
	for i := 2; i < 10; i++ {
		if resp := e.write(t, "r1", fmt.Sprint("v", i)); resp.StatusCode == http.StatusTooManyRequests {
			break
		}
		e.deliver(t, e.crm.webhook(fmt.Sprint("ev", i), "r1"))
	}
	_, body = e.admin(t, "GET", "/records/"+key)
	if !gjson.Get(body, "quarantined").Bool() || gjson.Get(body, "quarantine.round_trips").Int() != 3 ||
		gjson.Get(body, "release").String() != "/records/"+key+"/release" {
		t.Fatalf("quarantined record: %s", body)
	}
	if code, b := e.admin(t, "POST", "/records/"+key+"/release"); code != 200 || gjson.Get(b, "released").String() != "crm//contacts/r1" {
		t.Fatalf("release: %d %s", code, b)
	}
	if code, b := e.admin(t, "POST", "/records/"+key+"/release"); code != 404 {
		t.Fatalf("second release: %d %s", code, b)
	}
	if _, b := e.admin(t, "GET", "/records/"+key); gjson.Get(b, "quarantined").Bool() {
		t.Fatalf("after release: %s", b)
	}
}

// TestOverviewAPI: GET /overview reports version, uptime, store, spool,
// quarantines, breakers and the providers' effective profiles with secrets
// redacted, and its series counts deliveries and echoes.
func TestOverviewAPI(t *testing.T) {
	t.Parallel()
	e := newGuardEnv(t, "hold", 0, "")
	e.s.Version = "test-1"
	if resp := e.write(t, "r1", "a"); resp.StatusCode != 200 {
		t.Fatalf("write: %d", resp.StatusCode)
	}
	// The echo of our write (by the integration user) and a genuine change.
	e.deliver(t, `{"id":"ev1","object":"contacts","actor":"u_integration","record":{"id":"r1","name":"a","email":"a!"}}`)
	e.deliver(t, `{"id":"ev2","object":"contacts","actor":"u_someone","record":{"id":"r2","name":"b"}}`)
	e.advance(90 * time.Second)
	code, body := e.admin(t, "GET", "/overview")
	if code != 200 || gjson.Get(body, "version").String() != "test-1" || gjson.Get(body, "uptime_seconds").Float() != 90 ||
		gjson.Get(body, "store.kind").String() != "memory" || !gjson.Get(body, "store.up").Bool() ||
		gjson.Get(body, "decisions_total").Int() != 2 || gjson.Get(body, "breakers.total").Int() != 1 {
		t.Fatalf("/overview: %d %s", code, body)
	}
	prof := gjson.Get(body, `providers.#(name=="crm").profile`).String()
	if !strings.Contains(prof, "tracked_fields") || !strings.Contains(prof, "u_integration") {
		t.Fatalf("profile: %s", prof)
	}
	pts := gjson.Get(body, "series.points").Array()
	last := pts[len(pts)-1]
	if !last.Get("partial").Bool() || last.Get("deliveries.all_echoes").Int() != 1 || last.Get("deliveries.forwarded").Int() != 1 ||
		last.Get("echo_rate").Float() != 0.5 {
		t.Fatalf("series: %s", gjson.Get(body, "series").Raw)
	}
}

// TestOverviewRedactsSecrets: a webhook secret never appears in GET
// /overview.
func TestOverviewRedactsSecrets(t *testing.T) {
	t.Parallel()
	s := startSidecar(t, `app_url: "http://127.0.0.1:1"
providers:
  - use: generic
    name: crm
    hosts: ["api.example.com"]
    tracked_fields: [name]
    signature: {scheme: hmac-sha256, header: X-Signature, secret: "hook-secret-value"}
`, nil)
	resp, body := mustDo(t, http.DefaultClient, "GET", "http://"+s.Addr("admin")+"/overview", "", "")
	if resp.StatusCode != 200 || strings.Contains(body, "hook-secret-value") || !strings.Contains(body, "[redacted]") {
		t.Fatalf("/overview: %d %s", resp.StatusCode, body)
	}
}
