package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/clocktest"
	"github.com/tidwall/gjson"
)

// ghIssue is a GitHub issues delivery of octo/hello#7.
func ghIssue(title, sender string) string {
	return fmt.Sprintf(`{"action":"edited","issue":{"number":7,"title":%q,"body":"b","state":"open"},`+
		`"repository":{"full_name":"octo/hello","owner":{"login":"octo"}},"sender":{"login":%q}}`, title, sender)
}

// badSig is a well-formed signature for no body.
var badSig = "sha256=" + strings.Repeat("0", 64)

// TestForgedDeliveryIsNotLaundered is finding 1 of issue 14: a forged
// GitHub delivery (bad X-Hub-Signature-256) that arrives while the app is
// down is held apart and replayed with its original headers — never
// re-signed with the real secret — and never recorded as accepted, so the
// genuine delivery with the same X-GitHub-Delivery and the same content
// still reaches the app; and a flood of forged deliveries during an outage
// fills only the unverified budget: genuine ones are still held (200) and
// replayed validly signed.
func TestForgedDeliveryIsNotLaundered(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"bbolt", "redis"} {
		t.Run(store, func(t *testing.T) {
			e := newHoldEnv(t, holdVars{store: store, maxItems: 100, unverifiedItems: 3})
			e.app.rec.setRespond(verifyingApp)
			body := ghIssue("same state", "octocat")

			// The app is down; a forged delivery claims the id (and state)
			// of a genuine one still to come.
			resp, got := e.gh(t, "issues", "dup-1", "", body, badSig)
			if resp.StatusCode != http.StatusOK || !strings.Contains(got, "held") {
				t.Fatalf("forged delivery while the app is down: %d %s", resp.StatusCode, got)
			}
			e.app.start(t)
			waitFor(t, "the forged delivery replayed", func() bool { return len(e.app.rec.all()) >= 1 })
			first := e.app.rec.all()[0]
			if first.Header.Get("X-Hub-Signature-256") != badSig || string(first.Body) != body || first.Header.Get("X-Loopguard-Replay") == "" {
				t.Fatalf("forged delivery replayed re-signed or changed: sig %q replay %q", first.Header.Get("X-Hub-Signature-256"),
					first.Header.Get("X-Loopguard-Replay"))
			}
			// The app refused it (401): it is a dead letter, marked unverified.
			var dead string
			waitFor(t, "the forged delivery dead-lettered", func() bool {
				_, dead = e.admin(t, http.MethodGet, "/spool/dead")
				return len(gjson.Get(dead, "items").Array()) == 1
			})
			if d := gjson.Get(dead, "items.0"); d.Get("verified").Bool() || d.Get("verification").String() != "unverified" ||
				d.Get("reason").String() != "refused" || d.Get("last_status").Int() != 401 || d.Get("provider").String() != "github" {
				t.Fatalf("dead letter: %s", d.Raw)
			}

			// The genuine delivery, same id and content, is delivered.
			e.gh(t, "issues", "dup-1", "", body, "")
			waitFor(t, "the genuine delivery accepted", func() bool {
				return slices.ContainsFunc(e.app.rec.all(), func(r recorded) bool { return validGitHub(r.Header, r.Body) && string(r.Body) == body })
			})
			for _, d := range e.s.Ring.Last(10) {
				if d.Reason.String() == "redelivery" || d.Reason.String() == "matches_last_genuine" || d.Action.String() == "drop" {
					t.Fatalf("genuine delivery judged by the forged one: %+v", d)
				}
			}

			// A flood of forged deliveries during an outage.
			e.app.stop()
			var held, refused int
			for i := range 10 {
				resp, got := e.gh(t, "issues", fmt.Sprintf("f-%d", i), "", ghIssue(fmt.Sprintf("forged %d", i), "mallory"), badSig)
				switch {
				case resp.StatusCode == http.StatusOK && strings.Contains(got, "held"):
					held++
				case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" &&
					strings.Contains(got, "spool full for unverified deliveries"):
					refused++
				default:
					t.Fatalf("forged delivery %d: %d %s", i, resp.StatusCode, got)
				}
			}
			// The unverified budget is 3 and the first dead letter holds one.
			if held != 2 || refused != 8 {
				t.Fatalf("forged flood: %d held, %d refused; want 2 and 8", held, refused)
			}
			for i := range 5 {
				resp, got := e.gh(t, "issues", fmt.Sprintf("g-%d", i), "", ghIssue(fmt.Sprintf("genuine %d", i), "octocat"), "")
				if resp.StatusCode != http.StatusOK || !strings.Contains(got, "held") {
					t.Fatalf("genuine delivery %d after the flood: %d %s", i, resp.StatusCode, got)
				}
			}
			if n := len(e.logs.lines("spool full for unverified deliveries", `"status":503`)); n != 8 {
				t.Errorf("%d log lines for refused forged deliveries, want 8", n)
			}
			e.app.start(t)
			want := []string{"genuine 0", "genuine 1", "genuine 2", "genuine 3", "genuine 4"}
			waitFor(t, "genuine deliveries replayed, validly signed, in order", func() bool {
				var got []string
				for _, r := range e.app.rec.all() {
					if title := gjson.GetBytes(r.Body, "issue.title").String(); strings.HasPrefix(title, "genuine") && validGitHub(r.Header, r.Body) {
						got = append(got, title)
					}
				}
				return slices.Equal(got, want)
			})
			waitFor(t, "forged ones dead-lettered", func() bool {
				_, dead = e.admin(t, http.MethodGet, "/spool/dead")
				return len(gjson.Get(dead, "items").Array()) == 3
			})
		})
	}
}

// TestUnverifiedHeldByBreakerIsNotResigned: the breaker-open (and
// quarantine) path holds an unverified delivery untouched too, whole, and
// its replay is neither re-signed nor recorded as accepted.
func TestUnverifiedHeldByBreakerIsNotResigned(t *testing.T) {
	t.Parallel()
	e := newGuardEnvYAML(t, "hold", 0, "", signedGuardYAML)
	e.app.setRespond(nil)
	e.crm.setThrottle(true)
	e.write(t, "r1", "x") // a 429 upstream: the account's breaker opens
	forged := `{"id":"bk1","object":"contacts","actor":"u_human","record":{"id":"r9","name":"n"}}`
	resp, got := mustDo(t, http.DefaultClient, http.MethodPost, "http://"+e.s.Addr("inbound")+"/webhooks/generic", "application/json",
		forged, "X-Hub-Signature-256", badSig)
	if resp.StatusCode != http.StatusOK || !strings.Contains(got, "held") {
		t.Fatalf("forged delivery while the breaker is open: %d %s", resp.StatusCode, got)
	}
	if d := e.s.Ring.Last(1)[0]; d.Action.String() != "hold" || !strings.Contains(d.Detail, "unverified") {
		t.Fatalf("decision %+v", d)
	}
	e.crm.setThrottle(false)
	e.s.quota.b.Reset(e.s.quota.b.All()[0].Key)
	e.s.holder.replayer.Kick()
	waitFor(t, "the held delivery replayed", func() bool { return len(e.app.all()) == 1 })
	if r := e.app.all()[0]; r.Header.Get("X-Hub-Signature-256") != badSig || string(r.Body) != forged {
		t.Fatalf("replayed with %q", r.Header.Get("X-Hub-Signature-256"))
	}
	// Not recorded as accepted: the same id, validly signed, is delivered.
	resp, _ = mustDo(t, http.DefaultClient, http.MethodPost, "http://"+e.s.Addr("inbound")+"/webhooks/generic", "application/json",
		forged, "X-Hub-Signature-256", githubSig(forged))
	if resp.StatusCode != http.StatusOK || len(e.app.all()) != 2 {
		t.Fatalf("genuine delivery after the replayed forged one: %d, app saw %d", resp.StatusCode, len(e.app.all()))
	}
}

// signedGuardYAML makes guard.yaml's crm provider verify GitHub-style
// signatures with the test secret.
const signedGuardYAML = "    signature: {scheme: github, secret: \"s3cret\"}\n"

// newGuardEnvYAML is newGuardEnv with extra YAML appended to guard.yaml
// (whose last lines are the crm provider entry).
func newGuardEnvYAML(t *testing.T, policy string, maxItems int, appURL, extra string) *guardEnv {
	t.Helper()
	app := &recorder{}
	if appURL == "" {
		srv := httptest.NewServer(app)
		t.Cleanup(srv.Close)
		appURL = srv.URL
	}
	crm := &automationCRM{records: map[string]map[string]any{}}
	up := httptest.NewTLSServer(crm)
	t.Cleanup(up.Close)
	raw, err := os.ReadFile("testdata/guard.yaml")
	must(t, err)
	e := &guardEnv{clk: clocktest.Frozen(time.Now()), app: app, crm: crm, up: up, yaml: strings.TrimRight(string(raw), "\n") + "\n" + extra, spool: filepath.Join(t.TempDir(), "spool")}
	e.vars = map[string]string{"app": appURL, "upstream_ca": writePEM(t, up), "upstream_host": hostOf(up),
		"spool": e.spool, "policy": policy, "max_items": fmt.Sprint(maxItems)}
	e.start(t)
	return e
}
