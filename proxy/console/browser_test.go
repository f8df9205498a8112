package console_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// stepTimeout bounds one browser step (a wait included).
const stepTimeout = 20 * time.Second

// browser is a headless Chromium tab with a fresh profile.
type browser struct {
	ctx  context.Context
	dir  string // screenshots
	mu   sync.Mutex
	bad  []string // exceptions and security (CSP) messages of the pages
	shot int
}

// findChromium returns Debian's chromium, or skips (fails in CI, where
// .ci/run installs it).
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("LOOPGUARD_CHROMIUM"), "chromium", "chromium-browser"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (.ci/run installs Debian's chromium package)")
	}
	t.Skip("chromium is not installed: apt-get install chromium (or set LOOPGUARD_CHROMIUM) to run the browser tests")
	return ""
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(findChromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	b := &browser{ctx: ctx, dir: artifactDir(t)}
	// The first action starts the browser, bound to the context it gets:
	// the tab's own, not a step's (a step's deadline would end it).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Source == "security" {
				b.mu.Lock()
				b.bad = append(b.bad, m.String())
				b.mu.Unlock()
			}
		}
	}()
	t.Logf("screenshots go to %s", b.dir)
	return b
}

// artifactDir is $LOOPGUARD_ARTIFACTS/console, or a temporary directory.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("LOOPGUARD_ARTIFACTS"); d != "" {
		d = filepath.Join(d, "console")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// do runs steps, failing the test (with a screenshot) when they do not
// complete in stepTimeout.
func (b *browser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.screenshot(t, "failed")
		t.Fatalf("%s: %v", what, err)
	}
}

// text returns the rendered text of the first element matching a CSS
// selector, waiting for it. It reads the text by script and retries on
// errors: DevTools node ids go stale while a page settles.
func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	expr := `(function(){var e=document.querySelector(` + strconv.Quote(sel) + `);return e?[true,e.innerText]:[false,""];})()`
	deadline := time.Now().Add(stepTimeout)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
		res, err := chromedp.Run(ctx, chromedp.Evaluate[[]any](expr))
		cancel()
		if err == nil && len(res) == 2 && res[0] == true {
			s, _ := res[1].(string)
			return s
		}
		if time.Now().After(deadline) {
			b.screenshot(t, "failed")
			t.Fatalf("text of %s: not found (last error %v)", sel, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *browser) location(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("location: %v", err)
	}
	return u
}

// waitText waits until the element's text contains want. It reads the
// text by script and retries on errors: the element may belong to a page
// being replaced (the console reloads after an action).
func (b *browser) waitText(t *testing.T, sel, want string) {
	t.Helper()
	expr := `(function(){var e=document.querySelector(` + strconv.Quote(sel) + `);return e&&!e.hidden?e.textContent:"";})()`
	deadline := time.Now().Add(stepTimeout)
	var got string
	for {
		ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		cancel()
		if err == nil {
			got = s
			if strings.Contains(got, want) {
				return
			}
		}
		if time.Now().After(deadline) {
			b.screenshot(t, "failed")
			t.Fatalf("%s says %q (last error %v), want %q", sel, got, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// screenshot saves the whole page as NN-name.png.
func (b *browser) screenshot(t *testing.T, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	b.shot++
	p := filepath.Join(b.dir, regexp.MustCompile(`[^a-z0-9-]+`).ReplaceAllString(strings.ToLower(name), "-"))
	p = filepath.Join(filepath.Dir(p), twoDigits(b.shot)+"-"+filepath.Base(p)+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	t.Logf("screenshot: %s", p)
	return p
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + string(rune('0'+n))
	}
	return string(rune('0'+n/10)) + string(rune('0'+n%10))
}

func (b *browser) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.bad...)
}

// TestConsoleInBrowser drives the console in headless Chromium against a
// running sidecar fed by the loop lab: a wrong token sees nothing; after
// logging in, an echo's drop decision appears in the live list and opens
// its explanation; a looping record is quarantined and its account's
// breaker opens; the breaker is reset and the record released from the
// pages; two dead letters are retried and deleted; then the session logs
// out.
func TestConsoleInBrowser(t *testing.T) {
	b := newBrowser(t)
	cl := startConsoleLab(t, testToken)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	// A wrong token sees nothing: the console asks for a login, the login
	// fails, and the API answers 401.
	b.do(t, "open the console", chromedp.Navigate(cl.admin+"/ui/decisions"), chromedp.WaitVisible(css("#token")))
	if loc := b.location(t); !strings.Contains(loc, "/ui/login?next=") {
		t.Fatalf("an anonymous visitor is at %s, want the login page", loc)
	}
	b.screenshot(t, "login")
	b.do(t, "log in with a wrong token", chromedp.SendKeys(css("#token"), "not-the-token"), chromedp.Click(css("#login")),
		chromedp.WaitVisible(css("#error")))
	if got := b.text(t, "#error"); got != "Wrong token." {
		t.Fatalf("wrong token: page says %q", got)
	}
	if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll('nav, table').length`)); err != nil || n != 0 {
		t.Fatalf("the login page shows navigation or data (%d elements, %v)", n, err)
	}
	if code := cl.api(t, "GET", "/decisions", "not-the-token", nil); code != http.StatusForbidden {
		t.Fatalf("GET /decisions with a wrong token: %d, want 403", code)
	}
	if code := cl.api(t, "GET", "/decisions", "", nil); code != http.StatusUnauthorized {
		t.Fatalf("GET /decisions without a token: %d, want 401", code)
	}

	// Log in; the console goes where the visitor was headed.
	b.do(t, "log in", chromedp.SendKeys(css("#token"), testToken), chromedp.Click(css("#login")),
		chromedp.WaitVisible(css("#decisions")))
	if loc := b.location(t); !strings.HasSuffix(loc, "/ui/decisions") {
		t.Fatalf("after login at %s", loc)
	}

	// An echo: the app's edit of c2 comes back and is dropped; the live
	// list shows it without a reload.
	cl.Sides[0].App.Edit("c2", "name", "Ada")
	b.do(t, "see a drop decision appear", chromedp.WaitVisible(css(`#decisions tr[data-action="drop"]`)))
	b.screenshot(t, "decisions")
	// Pause the live list (a refresh replaces the rows), then open the
	// drop's explanation.
	b.do(t, "open its explanation", chromedp.Click(css("#live")), chromedp.Click(css(`#decisions tr[data-action="drop"] a`)),
		chromedp.WaitVisible(css("#why")))
	if why := b.text(t, "#why"); !strings.Contains(why, "fingerprint") || !strings.Contains(why, "matches_our_write") {
		t.Fatalf("explanation: %q", why)
	}
	if ev := b.text(t, "#event"); !strings.Contains(ev, "c2") || !strings.Contains(ev, "contacts") {
		t.Fatalf("event fields: %q", ev)
	}
	if rec := b.text(t, "#record"); !strings.Contains(rec, "not quarantined") || !strings.Contains(b.text(t, "#app-state"), "name") {
		t.Fatalf("record in the ledger: %q", rec)
	}
	b.screenshot(t, "decision")

	// A loop: a person sets c1's email; the app maps it to its name and
	// writes that back; the CRM's workflow sets email = name + "!" — round
	// and round until the loop detector quarantines c1, which trips the
	// account's breaker.
	cl.CRM.HumanEdit("c1", "email", "loop")
	waitFor(t, "c1 to be quarantined", 10*time.Second, func() bool { return len(cl.quarantined(t)) == 1 })
	// Dead letters to come: a person's edit waits behind the open breaker,
	// and the app refuses both held deliveries when they replay (after the
	// reset and the release below).
	cl.CRM.HumanEdit("c3", "name", "Eve")
	waitFor(t, "c3's event held behind the breaker", 10*time.Second, func() bool { return cl.spoolItems(t, testToken) == 2 })
	cl.Sides[0].App.Refuse(http.StatusUnprocessableEntity)

	b.do(t, "see the open breaker", chromedp.Navigate(cl.admin+"/ui/breakers"), chromedp.WaitVisible(css(`#breakers tr[data-state="open"]`)))
	b.screenshot(t, "breakers")
	b.do(t, "reset it", chromedp.Click(css(`#breakers tr[data-state="open"] button.act`)))
	b.waitText(t, "#flash.ok", "reset")
	b.do(t, "see it closed", chromedp.WaitVisible(css(`#breakers tr[data-state="closed"]`)))
	var bs struct {
		Breakers []struct{ State string }
	}
	cl.api(t, "GET", "/breakers", testToken, &bs)
	for _, st := range bs.Breakers {
		if st.State != "closed" {
			t.Fatalf("after the reset: %+v", bs)
		}
	}

	b.do(t, "see the quarantined record", chromedp.Navigate(cl.admin+"/ui/records"), chromedp.WaitVisible(css(`#quarantined tr[data-key]`)))
	b.screenshot(t, "records")
	cl.loop.Store(false) // the workflow is fixed: the released record settles
	b.do(t, "release it", chromedp.Click(css(`#quarantined tr[data-key] button.act`)))
	b.waitText(t, "#flash.ok", "released")
	if q := cl.quarantined(t); len(q) != 0 {
		t.Fatalf("still quarantined after release: %v", q)
	}
	b.do(t, "look the record up", chromedp.Navigate(cl.admin+"/ui/records?provider=generic&object=contacts&record=c1"),
		chromedp.WaitVisible(css("#record #quarantine")))
	if s := b.text(t, "#record #quarantine"); !strings.Contains(s, "not quarantined") {
		t.Fatalf("record c1 after release: %q", s)
	}

	// Two dead letters: the app refused both replays.
	waitFor(t, "two dead letters", 10*time.Second, func() bool { return len(cl.deadLetters(t, testToken)) == 2 })
	cl.Sides[0].App.Refuse(0)
	ids := cl.deadLetters(t, testToken)
	if len(ids) != 2 {
		t.Fatalf("dead letters: %v", ids)
	}
	row := func(id string) string { return `#dead tr[data-id="` + id + `"]` }
	b.do(t, "see the dead letters", chromedp.Navigate(cl.admin+"/ui/spool"), chromedp.WaitVisible(css(row(ids[1]))))
	b.screenshot(t, "spool")
	b.do(t, "open one", chromedp.Click(css(row(ids[0])+" a")), chromedp.WaitVisible(css("#body")))
	if body := b.text(t, "#body"); !strings.Contains(body, `"record"`) || !strings.Contains(body, `"contacts"`) {
		t.Fatalf("dead letter body: %q", body)
	}
	if h := b.text(t, "#headers"); !strings.Contains(h, "Content-Type") {
		t.Fatalf("dead letter headers: %q", h)
	}
	if a := b.text(t, "#answers"); !strings.Contains(a, "422") || !strings.Contains(a, "refusing deliveries") {
		t.Fatalf("the app's answers: %q", a)
	}
	b.screenshot(t, "dead-letter")
	before := cl.Sides[0].App.Stats().Deliveries
	b.do(t, "retry it", chromedp.Click(css(`p.actions button.act:not(.danger)`)))
	b.waitText(t, "#flash.ok", "dead letter "+ids[0]+" queued for retry")
	b.do(t, "see it gone", chromedp.WaitVisible(css(row(ids[1]))), chromedp.WaitNotPresent(css(row(ids[0]))))
	waitFor(t, "the retried delivery accepted", 10*time.Second, func() bool {
		return cl.spoolItems(t, testToken) == 0 && cl.Sides[0].App.Stats().Deliveries > before
	})
	b.do(t, "delete the other (two clicks)", chromedp.Click(css(row(ids[1])+" button.danger")),
		chromedp.Click(css(row(ids[1])+" button.danger")))
	b.waitText(t, "#flash.ok", "dead letter "+ids[1]+" deleted")
	b.do(t, "see it gone", chromedp.WaitNotPresent(css(row(ids[1]))))
	if left := cl.deadLetters(t, testToken); len(left) != 0 {
		t.Fatalf("dead letters after retry and delete: %v", left)
	}

	b.do(t, "open the overview", chromedp.Navigate(cl.admin+"/ui/"), chromedp.WaitVisible(css("#version")))
	if s := b.text(t, "#store"); s != "up" {
		t.Fatalf("store: %q", s)
	}
	b.screenshot(t, "overview")

	b.do(t, "log out", chromedp.Click(css("#logout")), chromedp.WaitVisible(css("#token")))
	b.do(t, "the console is closed again", chromedp.Navigate(cl.admin+"/ui/"), chromedp.WaitVisible(css("#token")))
	if errs := b.pageErrors(); len(errs) > 0 {
		t.Fatalf("the pages logged errors:\n%s", strings.Join(errs, "\n"))
	}
}
