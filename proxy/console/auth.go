package console

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

const (
	// loginProbe is the gated endpoint a login is checked against.
	loginProbe = "/overview"
	// sessionLength is how long the login cookies live.
	sessionLength = 12 * time.Hour
	// maxLoginForm bounds a login or logout form.
	maxLoginForm = 4 << 10
)

// loginView is the login page's data.
type loginView struct {
	Next string
}

// loginForm serves GET /ui/login. With no token configured (the gate lets
// an anonymous request through) it goes straight to the console.
func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	anon := r.Clone(r.Context())
	anon.Header.Del("Authorization")
	anon.Header.Del("Cookie")
	if c.get(anon, loginProbe, nil) == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	c.render(w, http.StatusOK, "login", &view{Title: "Log in", Public: true, Data: loginView{Next: next}})
}

// login serves POST /ui/login: the token is checked against the admin API
// and, when it opens it, kept in an HTTP-only, SameSite=Strict cookie with
// a fresh session value for the CSRF token.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if err := SameOrigin(r); err != nil {
		c.fail(w, r, http.StatusForbidden, err.Error())
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginForm)
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, http.StatusBadRequest, "login form: "+err.Error())
		return
	}
	token, next := r.PostForm.Get("token"), safeNext(r.PostForm.Get("next"))
	again := func(status int, msg string) {
		c.render(w, status, "login", &view{Title: "Log in", Public: true, Error: msg, Data: loginView{Next: next}})
	}
	if token == "" {
		again(http.StatusBadRequest, "Enter the admin token (admin.token).")
		return
	}
	if !validCookieValue(token) {
		again(http.StatusBadRequest, "This token has characters a cookie cannot carry; use the API with an Authorization header.")
		return
	}
	probe := r.Clone(r.Context())
	probe.Header.Del("Cookie")
	probe.Header.Set("Authorization", "Bearer "+token)
	if err := c.get(probe, loginProbe, nil); err != nil {
		if st := statusOf(err); st == http.StatusUnauthorized || st == http.StatusForbidden {
			again(http.StatusUnauthorized, "Wrong token.")
			return
		}
		again(http.StatusBadGateway, err.Error())
		return
	}
	var nonce [16]byte
	_, _ = rand.Read(nonce[:]) // crypto/rand.Read never fails (Go 1.24+)
	secure := r.TLS != nil
	for _, ck := range []*http.Cookie{
		{Name: TokenCookie, Value: token},
		{Name: SessionCookie, Value: hex.EncodeToString(nonce[:])},
	} {
		ck.Path, ck.HttpOnly, ck.SameSite, ck.Secure = "/", true, http.SameSiteStrictMode, secure
		ck.MaxAge = int(sessionLength / time.Second)
		http.SetCookie(w, ck)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout serves POST /ui/logout: the cookies are cleared. The form carries
// the session's CSRF token.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if err := SameOrigin(r); err != nil {
		c.fail(w, r, http.StatusForbidden, err.Error())
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginForm)
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, http.StatusBadRequest, "logout form: "+err.Error())
		return
	}
	if t, err := r.Cookie(TokenCookie); err == nil {
		s, _ := r.Cookie(SessionCookie)
		session := ""
		if s != nil {
			session = s.Value
		}
		if checkCSRFValue(r.PostForm.Get(csrfField), t.Value, session) != nil {
			c.fail(w, r, http.StatusForbidden, ErrNoCSRF.Error())
			return
		}
	}
	for _, name := range []string{TokenCookie, SessionCookie} {
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	}
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

// safeNext keeps a post-login redirect on the console: a path under /ui/
// and nothing that a browser could read as another host.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.ContainsAny(next, "\\\r\n") || strings.HasPrefix(next, "//") {
		return "/ui/"
	}
	return next
}
