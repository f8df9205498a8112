package console_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/loopguard/loopguard/proxy/console"
)

// get fetches a console URL with extra headers; it returns the response
// (redirects not followed) and its body.
func (cl *consoleLab) get(t *testing.T, method, path string, form url.Values, hdr ...string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, cl.admin+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func cookieOf(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// TestConsoleLogin: without the token the console shows nothing but the
// login form; a login sets HTTP-only, SameSite=Strict cookies and the
// pages then carry the session's CSRF token; logout needs that token and
// clears the cookies; curl's Bearer header opens the pages too.
func TestConsoleLogin(t *testing.T) {
	cl := startConsoleLab(t, testToken)
	resp, _ := cl.get(t, "GET", "/ui/decisions", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/login?next=%2Fui%2Fdecisions" {
		t.Fatalf("anonymous: %d %v", resp.StatusCode, resp.Header)
	}
	resp, body := cl.get(t, "GET", "/ui/decisions", nil, "Cookie", console.TokenCookie+"=wrong")
	if resp.StatusCode != http.StatusSeeOther || strings.Contains(body, "<table") {
		t.Fatalf("wrong cookie: %d %s", resp.StatusCode, body)
	}
	resp, body = cl.get(t, "GET", "/ui/login", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `id="token"`) || strings.Contains(body, "<nav") {
		t.Fatalf("login form: %d %s", resp.StatusCode, body)
	}
	for h, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
		if resp.Header.Get(h) != want {
			t.Errorf("%s: %q, want %q", h, resp.Header.Get(h), want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP: %q", csp)
	}

	form := url.Values{"token": {testToken}, "next": {"//evil.example/"}}
	if resp, _ := cl.get(t, "POST", "/ui/login", form, "Origin", "http://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin login: %d", resp.StatusCode)
	}
	resp, body = cl.get(t, "POST", "/ui/login", url.Values{"token": {"wrong"}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong token.") || len(resp.Cookies()) != 0 {
		t.Fatalf("wrong token: %d %v %s", resp.StatusCode, resp.Cookies(), body)
	}
	resp, _ = cl.get(t, "POST", "/ui/login", form, "Origin", cl.admin)
	tok, sess := cookieOf(resp, console.TokenCookie), cookieOf(resp, console.SessionCookie)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/" || tok == nil || sess == nil {
		t.Fatalf("login: %d %v", resp.StatusCode, resp.Header)
	}
	for _, c := range []*http.Cookie{tok, sess} {
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure || c.MaxAge <= 0 {
			t.Errorf("cookie %s: %+v", c.Name, c)
		}
	}
	if tok.Value != testToken || len(sess.Value) != 32 {
		t.Fatalf("cookies: %q %q", tok.Value, sess.Value)
	}
	cookies := tok.Name + "=" + tok.Value + "; " + sess.Name + "=" + sess.Value
	csrf := console.CSRFToken(testToken, sess.Value)

	for path, want := range map[string]int{
		"/ui/": 200, "/ui/decisions?action=drop": 200, "/ui/records": 200, "/ui/records?key=generic%2F%2Fcontacts%2Fc1": 200,
		"/ui/breakers": 200, "/ui/spool": 200, "/ui/decisions/99": 404, "/ui/spool/dead/987654": 404, "/ui/nope": 404,
		"/ui/decisions/x": 400,
	} {
		resp, body := cl.get(t, "GET", path, nil, "Cookie", cookies)
		if resp.StatusCode != want || !strings.Contains(body, "</html>") {
			t.Errorf("%s: %d, want %d: %.300s", path, resp.StatusCode, want, body)
		}
		if want == 200 && !strings.Contains(body, `<meta name="loopguard-csrf" content="`+csrf+`">`) {
			t.Errorf("%s: no CSRF token in the page", path)
		}
	}
	// curl with the Bearer header reads the pages (no cookie, no CSRF).
	if resp, body := cl.get(t, "GET", "/ui/breakers", nil, "Authorization", "Bearer "+testToken); resp.StatusCode != 200 ||
		!strings.Contains(body, `content=""`) {
		t.Fatalf("bearer: %d %.300s", resp.StatusCode, body)
	}
	if resp, _ := cl.get(t, "GET", "/ui/static/console.js", nil); resp.StatusCode != 200 ||
		!strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Fatalf("asset: %d %v", resp.StatusCode, resp.Header)
	}

	if resp, _ := cl.get(t, "POST", "/ui/logout", url.Values{}, "Cookie", cookies); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without CSRF: %d", resp.StatusCode)
	}
	resp, _ = cl.get(t, "POST", "/ui/logout", url.Values{"csrf": {csrf}}, "Cookie", cookies)
	if c := cookieOf(resp, console.TokenCookie); resp.StatusCode != http.StatusSeeOther || c == nil || c.MaxAge >= 0 {
		t.Fatalf("logout: %d %v", resp.StatusCode, resp.Cookies())
	}
}

// TestConsoleOpenWithoutToken: with no token (loopback only) the console is
// open like the API, and the login page sends the visitor on.
func TestConsoleOpenWithoutToken(t *testing.T) {
	cl := startConsoleLab(t, "")
	if resp, body := cl.get(t, "GET", "/ui/", nil); resp.StatusCode != 200 || !strings.Contains(body, `id="version"`) ||
		strings.Contains(body, `id="logout"`) {
		t.Fatalf("open console: %d %.300s", resp.StatusCode, body)
	}
	if resp, _ := cl.get(t, "GET", "/ui/login?next=/ui/spool", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/spool" {
		t.Fatalf("login page when open: %d %v", resp.StatusCode, resp.Header)
	}
}
