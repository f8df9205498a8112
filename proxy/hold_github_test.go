package proxy

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// bigIssue is a GitHub issues delivery of about n bytes (over
// inbound.max_body_bytes, 64 KiB in hold.yaml).
func bigIssue(t *testing.T, title string, n int) string {
	t.Helper()
	b, err := sjson.Set(ghIssue(title, "octocat"), "issue.body", strings.Repeat("x", n))
	must(t, err)
	return b
}

// TestOversizeGitHubDeliveryHeldWhileAppDown is finding 7 of issue 14:
// GitHub never redelivers, so a delivery over inbound.max_body_bytes that
// the app cannot take is held (up to spool.max_item_bytes), not lost, and
// replayed byte for byte, re-signed since it verified; one over
// spool.max_item_bytes is answered 503 and logged as such. While the app is
// up, an oversize delivery streams to it untouched.
func TestOversizeGitHubDeliveryHeldWhileAppDown(t *testing.T) {
	t.Parallel()
	e := newHoldEnv(t, holdVars{maxItems: 100, unverifiedItems: 10})
	e.app.rec.setRespond(verifyingApp)
	big := bigIssue(t, "big", 200<<10)
	resp, got := e.gh(t, "issues", "big-1", "", big, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(got, "held") {
		t.Fatalf("oversize delivery while the app is down: %d %s", resp.StatusCode, got)
	}
	// The app answers 500 (and 503 to replays, which is no attempt: the
	// held one is not dead-lettered meanwhile): held too.
	e.app.rec.setRespond(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if r.Header.Get("X-Loopguard-Replay") != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	})
	e.app.start(t)
	big2 := bigIssue(t, "big two", 300<<10)
	if resp, got := e.gh(t, "issues", "big-2", "", big2, ""); resp.StatusCode != http.StatusOK || !strings.Contains(got, "held") {
		t.Fatalf("oversize delivery the app failed: %d %s", resp.StatusCode, got)
	}
	// Over spool.max_item_bytes (512 KiB): cannot be held; 503, as logged.
	huge := bigIssue(t, "huge", 600<<10)
	if resp, got := e.gh(t, "issues", "huge-1", "", huge, ""); resp.StatusCode != http.StatusServiceUnavailable ||
		!strings.Contains(got, "too large to hold") || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("delivery over max_item_bytes: %d %s", resp.StatusCode, got)
	}
	if len(e.logs.lines("too large to hold", "answered 503", `"status":503`)) != 1 {
		t.Errorf("no log line for the delivery too large to hold:\n%s", e.logs.String())
	}
	// It reached the app whole all the same (the app answered 500).
	if !slices.ContainsFunc(e.app.rec.all(), func(r recorded) bool { return string(r.Body) == huge }) {
		t.Error("the delivery too large to hold did not reach the app whole")
	}
	e.app.rec.setRespond(verifyingApp)
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range e.app.rec.all() {
				t.Logf("app got %d bytes replay=%q valid=%v title=%q", len(r.Body), r.Header.Get("X-Loopguard-Replay"), validGitHub(r.Header, r.Body), gjson.GetBytes(r.Body, "issue.title").String())
			}
			t.Log(e.logs.String())
		}
	})
	waitFor(t, "both replayed byte for byte, validly signed, in order", func() bool {
		var got []string // retries of one item (answered 503) count once
		for _, r := range e.app.rec.all() {
			if validGitHub(r.Header, r.Body) && r.Header.Get("X-Loopguard-Replay") != "" && (len(got) == 0 || got[len(got)-1] != string(r.Body)) {
				got = append(got, string(r.Body))
			}
		}
		return slices.Equal(got, []string{big, big2}) && e.s.spool.Len() == 0
	})
	// The app up: an oversize delivery streams through untouched.
	n := len(e.app.rec.all())
	big3 := bigIssue(t, "big three", 100<<10)
	if resp, _ := e.gh(t, "issues", "big-3", "", big3, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("oversize delivery, app up: %d", resp.StatusCode)
	}
	if all := e.app.rec.all(); len(all) != n+1 || string(all[n].Body) != big3 || all[n].Header.Get("X-Loopguard-Replay") != "" {
		t.Fatal("oversize delivery did not stream to the app")
	}
	if files, _ := os.ReadDir(e.s.cfg.Spool.Dir); slices.ContainsFunc(files, func(f os.DirEntry) bool { return strings.HasPrefix(f.Name(), spillPrefix) }) {
		t.Errorf("spill files left: %v", files)
	}
}

// TestOversizeForgedDeliveryHeldAsUnverified: the signature of an oversize
// delivery is checked when it is held, so a forged one is held untouched in
// the unverified budget, never re-signed.
func TestOversizeForgedDeliveryHeldAsUnverified(t *testing.T) {
	t.Parallel()
	e := newHoldEnv(t, holdVars{maxItems: 100, unverifiedItems: 10})
	big := bigIssue(t, "forged big", 100<<10)
	if resp, got := e.gh(t, "issues", "fb-1", "", big, badSig); resp.StatusCode != http.StatusOK || !strings.Contains(got, "held") {
		t.Fatalf("forged oversize delivery: %d %s", resp.StatusCode, got)
	}
	if st, _ := e.s.spool.Stats(); st.UnverifiedItems != 1 {
		t.Fatalf("stats %+v", st)
	}
	e.app.start(t)
	waitFor(t, "replayed", func() bool { return len(e.app.rec.all()) == 1 })
	if r := e.app.rec.all()[0]; r.Header.Get("X-Hub-Signature-256") != badSig || string(r.Body) != big {
		t.Fatal("forged oversize delivery re-signed or changed")
	}
}

// githubFixture reads a real GitHub payload from ../shared/fixtures, or
// skips.
func githubFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../shared/fixtures/payloads/github/" + name)
	if err != nil {
		t.Skipf("GitHub fixture %s not available: %v", name, err)
	}
	return string(b)
}

// TestFormEncodedGitHubPush: GitHub's form-encoded option (the JSON in the
// payload field) is judged like JSON: a push by the integration's own user
// (the fixture's Codertocat) is dropped, someone else's is forwarded, and
// one the app cannot take is held and replayed byte for byte.
func TestFormEncodedGitHubPush(t *testing.T) {
	t.Parallel()
	push := githubFixture(t, "push.json")
	form := func(js string) string { return url.Values{"payload": {js}}.Encode() }
	const ctype = "application/x-www-form-urlencoded"
	e := newHoldEnv(t, holdVars{maxItems: 100, unverifiedItems: 10})
	e.app.rec.setRespond(verifyingApp)
	e.app.start(t)

	resp, got := e.gh(t, "push", "push-echo", ctype, form(push), "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(got, "dropped") || len(e.app.rec.all()) != 0 {
		t.Fatalf("echo push: %d %s, app saw %d", resp.StatusCode, got, len(e.app.rec.all()))
	}
	if d := e.s.Ring.Last(1)[0]; d.Layer != "actor" || d.Action.String() != "drop" || d.EventID != "push-echo" {
		t.Fatalf("echo decision %+v", d)
	}
	genuine, err := sjson.Set(push, "sender.login", "someone-else")
	must(t, err)
	body := form(genuine)
	if resp, _ := e.gh(t, "push", "push-1", ctype, body, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("genuine push: %d", resp.StatusCode)
	}
	if all := e.app.rec.all(); len(all) != 1 || string(all[0].Body) != body || !validGitHub(all[0].Header, all[0].Body) {
		t.Fatal("genuine form push not forwarded untouched")
	}
	// A redelivery of it is recognised from the form's JSON too.
	e.gh(t, "push", "push-1", ctype, body, "")
	if d := e.s.Ring.Last(1)[0]; d.Reason.String() != "redelivery" {
		t.Fatalf("redelivered form push: %+v", d)
	}

	e.app.stop()
	genuine2, _ := sjson.Set(genuine, "ref", "refs/heads/other")
	body2 := form(genuine2)
	if resp, got := e.gh(t, "push", "push-2", ctype, body2, ""); resp.StatusCode != http.StatusOK || !strings.Contains(got, "held") {
		t.Fatalf("form push while the app is down: %d %s", resp.StatusCode, got)
	}
	e.app.start(t)
	waitFor(t, "the form push replayed", func() bool {
		all := e.app.rec.all()
		return len(all) == 2 && bytes.Equal(all[1].Body, []byte(body2)) && validGitHub(all[1].Header, all[1].Body) &&
			all[1].Header.Get("Content-Type") == ctype
	})
}

// TestFullSpoolAnswerMatchesLog is finding 8 of issue 14: when a delivery
// of a hold-policy provider cannot be held (spool full), the provider gets
// 503 with Retry-After — what the log line says — whether the app was
// unreachable (it got 502 before) or answered 500.
func TestFullSpoolAnswerMatchesLog(t *testing.T) {
	t.Parallel()
	e := newHoldEnv(t, holdVars{maxItems: 1, unverifiedItems: 10})
	if resp, _ := e.crm(t, crmEvent("s1", 1)); resp.StatusCode != http.StatusOK {
		t.Fatalf("first hold: %d", resp.StatusCode)
	}
	check := func(what string) {
		t.Helper()
		resp, got := e.crm(t, crmEvent("s-"+what, 2))
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(got, "spool full") {
			t.Fatalf("%s, spool full: %d %s", what, resp.StatusCode, got)
		}
	}
	check("unreachable")
	// The app answers 500 to everything but cannot get s1 either.
	e.app.rec.setRespond(func(w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(http.StatusInternalServerError) })
	e.app.start(t)
	// s1 still waits, so a new delivery is held behind it: fails, goes on
	// to the app (500), which cannot be held either.
	check("app 500")
	lines := e.logs.lines("could not hold delivery (spool full)")
	if len(lines) != 2 {
		t.Fatalf("log lines: %v\n%s", lines, e.logs.String())
	}
	for _, l := range lines {
		if !strings.Contains(l, "answered 503") || !strings.Contains(l, `"status":503`) {
			t.Errorf("log line does not say 503: %s", l)
		}
	}
}
