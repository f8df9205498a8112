package adversarial

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// ghSecret is the GitHub secret of proxy/testdata/hold.yaml.
const ghSecret = "s3cret"

// badSig is a well-formed signature that matches no body.
var badSig = "sha256=" + strings.Repeat("0", 64)

// holdConfig is the in-process hold tests' configuration
// (proxy/testdata/hold.yaml: GitHub with its secret, a generic "crm" that
// holds, fast replays, dead letters after 2 attempts) for the app at
// appAddr, on the bbolt spool in the harness's directory.
func holdConfig(t *testing.T, appAddr string, maxItems, unverifiedItems int) string {
	t.Helper()
	b, err := os.ReadFile("../../../proxy/testdata/hold.yaml")
	if err != nil {
		t.Fatalf("hold fixture: %v", err)
	}
	return strings.NewReplacer("{{app}}", "http://"+appAddr, "{{store}}", "", "{{spool}}", "{{dir}}/spool",
		"{{max_items}}", fmt.Sprint(maxItems), "{{unverified_max_items}}", fmt.Sprint(unverifiedItems)).Replace(string(b))
}

// ghSign is GitHub's X-Hub-Signature-256 for body.
func ghSign(body string) string {
	m := hmac.New(sha256.New, []byte(ghSecret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// validGitHub says whether a request the app received carries GitHub's
// valid signature of its body.
func validGitHub(r Received) bool {
	return r.Body != nil && r.Header.Get("X-Hub-Signature-256") == ghSign(string(r.Body))
}

// ghIssue is a GitHub issues delivery of octo/hello#7.
func ghIssue(title, sender string) string {
	return fmt.Sprintf(`{"action":"edited","issue":{"number":7,"title":%q,"body":"b","state":"open"},`+
		`"repository":{"full_name":"octo/hello","owner":{"login":"octo"}},"sender":{"login":%q}}`, title, sender)
}

// ghDeliver posts a GitHub delivery signed with sig ("" signs it validly).
func ghDeliver(t *testing.T, lg *Loopguard, event, id, ctype, body, sig string) (int, http.Header, string) {
	t.Helper()
	if sig == "" {
		sig = ghSign(body)
	}
	if ctype == "" {
		ctype = "application/json"
	}
	return deliver(t, lg, "/webhooks/github", ctype, []byte(body), "X-GitHub-Event", event, "X-GitHub-Delivery", id, "X-Hub-Signature-256", sig)
}

// verifying makes the app answer like a real GitHub receiver: 401 to a bad
// signature, 200 otherwise.
func verifying(a *App) {
	f := func(r Received) int {
		if strings.HasPrefix(r.Path, "/webhooks/github") && r.Header.Get("X-Hub-Signature-256") != ghSign(string(r.Body)) {
			return http.StatusUnauthorized
		}
		return http.StatusOK
	}
	a.Respond.Store(&f)
}

// refusing makes the app answer status to the deliveries with the given
// ids and 200 to the rest.
func refusing(a *App, status int, ids ...string) {
	f := func(r Received) int {
		if slices.Contains(ids, r.ID) {
			return status
		}
		return http.StatusOK
	}
	a.Respond.Store(&f)
}

// adminDo calls the admin API on the loopback listener (no token).
func adminDo(t *testing.T, lg *Loopguard, method, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+lg.Admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := providerClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// deadLetters lists GET /spool/dead's items.
func deadLetters(t *testing.T, lg *Loopguard) []gjson.Result {
	t.Helper()
	code, body := adminDo(t, lg, http.MethodGet, "/spool/dead")
	if code != http.StatusOK {
		t.Fatalf("/spool/dead: %d %s", code, body)
	}
	return gjson.Get(body, "items").Array()
}

// titles lists the issue titles with prefix of the validly signed GitHub
// deliveries the app received, in order.
func titles(a *App, prefix string) []string {
	var out []string
	for _, r := range a.Received() {
		if title := gjson.GetBytes(r.Body, "issue.title").String(); strings.HasPrefix(title, prefix) && validGitHub(r) {
			out = append(out, title)
		}
	}
	return out
}

// TestForgedDeliveryNotLaundered is finding 1 of issue 14 against the
// process: a forged GitHub delivery held while the app is down is replayed
// with its own bad signature (never re-signed) and dead-lettered when the
// app refuses it; the genuine delivery with the same X-GitHub-Delivery is
// then delivered, not dropped as a redelivery. A forged flood during an
// outage fills only the unverified budget (503 once full, as logged) while
// genuine deliveries are still held (200) and replayed in order.
func TestForgedDeliveryNotLaundered(t *testing.T) {
	app := startApp(t, "")
	app.Down()
	verifying(app)
	lg := startLoopguard(t, Options{Config: holdConfig(t, app.Addr, 100, 3)})
	body := ghIssue("same state", "octocat")

	status, _, got := ghDeliver(t, lg, "issues", "dup-1", "", body, badSig)
	if status != http.StatusOK || !strings.Contains(got, "held") {
		t.Fatalf("forged delivery while the app is down: %d %s", status, got)
	}
	app.Up(t)
	waitFor(t, 20*time.Second, "the forged delivery replayed", func() bool { return len(app.Received()) >= 1 })
	if first := app.Received()[0]; first.Header.Get("X-Hub-Signature-256") != badSig || string(first.Body) != body {
		t.Fatalf("forged delivery replayed re-signed or changed: sig %q body %s", first.Header.Get("X-Hub-Signature-256"), first.Body)
	}
	var dead []gjson.Result
	waitFor(t, 20*time.Second, "the refused forged delivery in /spool/dead", func() bool {
		dead = deadLetters(t, lg)
		return len(dead) == 1
	})
	if d := dead[0]; d.Get("verified").Bool() || d.Get("verification").String() != "unverified" || d.Get("last_status").Int() != 401 {
		t.Fatalf("dead letter: %s", d.Raw)
	}

	// The genuine delivery, same id and content, reaches the app.
	if status, _, got := ghDeliver(t, lg, "issues", "dup-1", "", body, ""); status != http.StatusOK || strings.Contains(got, "dropped") {
		t.Fatalf("genuine delivery after the forged one: %d %s", status, got)
	}
	waitFor(t, 10*time.Second, "the genuine delivery received validly signed", func() bool {
		return slices.ContainsFunc(app.Received(), func(r Received) bool { return validGitHub(r) && string(r.Body) == body })
	})

	// A forged flood during an outage.
	app.Down()
	var held, refused int
	for i := range 10 {
		status, hdr, got := ghDeliver(t, lg, "issues", fmt.Sprintf("f-%d", i), "", ghIssue(fmt.Sprintf("forged %d", i), "mallory"), badSig)
		switch {
		case status == http.StatusOK && strings.Contains(got, "held"):
			held++
		case status == http.StatusServiceUnavailable && hdr.Get("Retry-After") != "" && strings.Contains(got, "spool full for unverified deliveries"):
			refused++
		default:
			t.Fatalf("forged delivery %d: %d %s", i, status, got)
		}
	}
	// The unverified budget is 3; the first dead letter holds one.
	if held != 2 || refused != 8 {
		t.Fatalf("forged flood: %d held, %d refused; want 2 and 8", held, refused)
	}
	if n := lg.LogLines("spool full for unverified deliveries", `"status":503`); n != 8 {
		t.Errorf("%d log lines say the forged deliveries were answered 503, want 8", n)
	}
	var want []string
	for i := range 5 {
		title := fmt.Sprintf("genuine %d", i)
		want = append(want, title)
		if status, _, got := ghDeliver(t, lg, "issues", fmt.Sprintf("g-%d", i), "", ghIssue(title, "octocat"), ""); status != http.StatusOK || !strings.Contains(got, "held") {
			t.Fatalf("genuine delivery %d after the flood: %d %s", i, status, got)
		}
	}
	app.Up(t)
	waitFor(t, 30*time.Second, "genuine deliveries replayed, validly signed, in order", func() bool { return slices.Equal(titles(app, "genuine"), want) })
	waitFor(t, 20*time.Second, "the held forged ones dead-lettered (3 in all)", func() bool { return len(deadLetters(t, lg)) == 3 })
	for _, r := range app.Received() {
		if strings.HasPrefix(gjson.GetBytes(r.Body, "issue.title").String(), "forged") && validGitHub(r) {
			t.Fatalf("a forged delivery reached the app validly signed: %s", r.Body)
		}
	}
}

// crmEvent is a delivery of the generic "crm" provider.
func crmEvent(id string, i int) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"object":"contacts","actor":"u_human","record":{"id":"r%d","name":"n%d"}}`, id, i, i))
}

// acceptedIDs lists the ids the app received, in order, but the refused.
func acceptedIDs(a *App, refused ...string) []string {
	var out []string
	for _, id := range a.IDs() {
		if !slices.Contains(refused, id) {
			out = append(out, id)
		}
	}
	return out
}

// TestRefusedHeldDeliveryDeadLettered is finding 2 of issue 14 against the
// process: the app answers 400 to one of 21 held deliveries; the 20 behind
// it are delivered in order, the one is listed by GET /spool/dead with the
// app's answer, retried (then accepted), and another is deleted.
func TestRefusedHeldDeliveryDeadLettered(t *testing.T) {
	app := startApp(t, "")
	app.Down()
	lg := startLoopguard(t, Options{Config: holdConfig(t, app.Addr, 100, 10)})
	var want []string
	for i := range 21 {
		id := fmt.Sprintf("d%02d", i)
		if status, _, got := deliver(t, lg, "/webhooks/generic", "application/json", crmEvent(id, i)); status != http.StatusOK || !strings.Contains(got, "held") {
			t.Fatalf("%s while the app is down: %d %s", id, status, got)
		}
		if i > 0 {
			want = append(want, id)
		}
	}
	refusing(app, http.StatusBadRequest, "d00")
	app.Up(t)
	waitFor(t, 30*time.Second, "the 20 behind the refused one delivered in order", func() bool { return slices.Equal(acceptedIDs(app, "d00"), want) })
	var dead []gjson.Result
	waitFor(t, 20*time.Second, "the refused one in /spool/dead", func() bool {
		dead = deadLetters(t, lg)
		return len(dead) == 1
	})
	d := dead[0]
	if d.Get("provider").String() != "crm" || d.Get("reason").String() != "refused" || d.Get("last_status").Int() != 400 {
		t.Fatalf("dead letter: %s", d.Raw)
	}
	id := d.Get("id").String()
	if code, one := adminDo(t, lg, http.MethodGet, "/spool/dead/"+id); code != http.StatusOK || gjson.Get(one, "body").String() != string(crmEvent("d00", 0)) {
		t.Fatalf("/spool/dead/%s: %d %s", id, code, one)
	}
	if n := lg.Metric(t, "loopguard_dead_letters", `provider="crm"`); n != 1 {
		t.Errorf("loopguard_dead_letters{provider=crm} = %v, want 1", n)
	}

	// Retry: the app takes it now, after the 20.
	app.Respond.Store(nil)
	if code, body := adminDo(t, lg, http.MethodPost, "/spool/dead/"+id+"/retry"); code != http.StatusAccepted {
		t.Fatalf("retry: %d %s", code, body)
	}
	waitFor(t, 20*time.Second, "the retried delivery accepted", func() bool {
		ids := app.IDs()
		return len(ids) > 0 && ids[len(ids)-1] == "d00" && len(deadLetters(t, lg)) == 0
	})

	// Delete: another refused delivery, discarded by the operator.
	app.Down()
	deliver(t, lg, "/webhooks/generic", "application/json", crmEvent("d99", 99))
	refusing(app, http.StatusUnprocessableEntity, "d99")
	app.Up(t)
	waitFor(t, 20*time.Second, "d99 dead-lettered", func() bool {
		dead = deadLetters(t, lg)
		return len(dead) == 1
	})
	id = dead[0].Get("id").String()
	if code, _ := adminDo(t, lg, http.MethodDelete, "/spool/dead/"+id); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := adminDo(t, lg, http.MethodGet, "/spool/dead/"+id); code != http.StatusNotFound {
		t.Errorf("GET a deleted dead letter: %d, want 404", code)
	}
	if n := len(deadLetters(t, lg)); n != 0 {
		t.Errorf("%d dead letters after delete", n)
	}
	// The app got d99 once (refused) and never again.
	n := 0
	for _, got := range app.IDs() {
		if got == "d99" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the app received d99 %d times, want 1", n)
	}
}

// TestGitHubFormAndOversizeHeld is finding 7 of issue 14 against the
// process: with the app down, a form-encoded (payload=) GitHub delivery
// and one over inbound.max_body_bytes (64 KiB) are held; the app receives
// both later, byte for byte, in order, validly signed and with the form's
// Content-Type.
func TestGitHubFormAndOversizeHeld(t *testing.T) {
	app := startApp(t, "")
	app.Down()
	lg := startLoopguard(t, Options{Config: holdConfig(t, app.Addr, 100, 10)})
	const formType = "application/x-www-form-urlencoded"
	push := `{"ref":"refs/heads/main","before":"0000000000000000000000000000000000000000","after":"1111111111111111111111111111111111111111",` +
		`"repository":{"full_name":"octo/hello","owner":{"login":"octo"}},"pusher":{"name":"someone"},"sender":{"login":"someone-else"},` +
		`"head_commit":{"id":"1111111111111111111111111111111111111111","message":"m"}}`
	form := url.Values{"payload": {push}}.Encode()
	if status, _, got := ghDeliver(t, lg, "push", "form-1", formType, form, ""); status != http.StatusOK || !strings.Contains(got, "held") {
		t.Fatalf("form-encoded delivery while the app is down: %d %s", status, got)
	}
	big := ghIssue("big", "octocat")
	big = strings.Replace(big, `"body":"b"`, `"body":"`+strings.Repeat("x", 200<<10)+`"`, 1)
	if status, _, got := ghDeliver(t, lg, "issues", "big-1", "", big, ""); status != http.StatusOK || !strings.Contains(got, "held") {
		t.Fatalf("oversize delivery while the app is down: %d %s", status, got)
	}
	app.Up(t)
	waitFor(t, 30*time.Second, "both held deliveries received", func() bool { return len(app.Received()) >= 2 })
	all := app.Received()
	if len(all) != 2 {
		t.Fatalf("the app received %d deliveries, want 2", len(all))
	}
	f, b := all[0], all[1]
	if string(f.Body) != form || f.Header.Get("Content-Type") != formType || !validGitHub(f) || f.Header.Get("X-GitHub-Delivery") != "form-1" {
		t.Errorf("form delivery received as %q %q sig %v: %.80s", f.Header.Get("Content-Type"), f.Header.Get("X-GitHub-Delivery"), validGitHub(f), f.Body)
	}
	if b.Len != len(big) || b.Sum != sha256.Sum256([]byte(big)) || b.Header.Get("X-Hub-Signature-256") != ghSign(big) {
		t.Errorf("oversize delivery received as %d bytes (want %d), same bytes %v, sig ok %v", b.Len, len(big),
			b.Sum == sha256.Sum256([]byte(big)), b.Header.Get("X-Hub-Signature-256") == ghSign(big))
	}
}

// TestFullSpoolAnswers503 is finding 8's full spool against the process:
// with spool.max_items 1 and the app down, the second delivery of a
// hold-policy provider is answered 503 with Retry-After, and the log line
// says 503; the app finally receives the held one only.
func TestFullSpoolAnswers503(t *testing.T) {
	app := startApp(t, "")
	app.Down()
	lg := startLoopguard(t, Options{Config: holdConfig(t, app.Addr, 1, 10)})
	if status, _, got := deliver(t, lg, "/webhooks/generic", "application/json", crmEvent("s1", 1)); status != http.StatusOK || !strings.Contains(got, "held") {
		t.Fatalf("first delivery: %d %s", status, got)
	}
	status, hdr, got := deliver(t, lg, "/webhooks/generic", "application/json", crmEvent("s2", 2))
	if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || !strings.Contains(got, "spool full") {
		t.Fatalf("delivery to a full spool: %d %q %s", status, hdr.Get("Retry-After"), got)
	}
	if n := lg.LogLines("could not hold delivery (spool full)", "answered 503", `"status":503`); n != 1 {
		t.Errorf("%d log lines say 503 for the full spool, want 1:\n%s", n, tail(lg.Log(), 10))
	}
	if n := lg.LogLines("could not hold delivery (spool full)", `"status":502`); n != 0 {
		t.Errorf("the log says 502 for the full spool")
	}
	app.Up(t)
	waitFor(t, 20*time.Second, "the held delivery received", func() bool { return len(app.Received()) >= 1 })
	if ids := strings.Join(app.IDs(), ","); ids != "s1" {
		t.Fatalf("the app received %s, want s1 only", ids)
	}
}
