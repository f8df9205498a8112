package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Names shared by the console and the admin gate.
const (
	// TokenCookie carries the admin token after a login (HTTP-only,
	// SameSite=Strict); the gate accepts it like "Authorization: Bearer".
	TokenCookie = "loopguard_admin"
	// SessionCookie is a random value set at login; the CSRF token is
	// derived from it, so each login has its own.
	SessionCookie = "loopguard_session"
	// CSRFHeader must carry CSRFToken on every cookie-authenticated request
	// that changes something (the console's fetch calls set it; a
	// cross-site form or image cannot).
	CSRFHeader = "X-Loopguard-Csrf"
	// csrfField is the CSRF token's name in the console's own forms.
	csrfField = "csrf"
)

// CSRFToken is the CSRF token of a login session: an HMAC of the session
// value keyed by the admin token (so it cannot be computed without the
// token, and a new login changes it).
func CSRFToken(token, session string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("loopguard console csrf\x00"))
	m.Write([]byte(session))
	return hex.EncodeToString(m.Sum(nil))
}

// Errors of the cross-site checks.
var (
	ErrCrossSite = errors.New("cross-site request refused")
	ErrNoCSRF    = errors.New("missing or wrong " + CSRFHeader + " header")
)

// Unsafe reports whether a method may change something (RFC 9110 §9.2.1).
func Unsafe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// SameOrigin refuses a request a browser marked as coming from another
// site or origin: Sec-Fetch-Site other than same-origin or none (typed in,
// bookmarks), or an Origin whose host is not the request's Host. Requests
// without either header (curl, scripts) pass: they carry no ambient
// browser credentials.
func SameOrigin(r *http.Request) error {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return errors.Join(ErrCrossSite, errors.New("Sec-Fetch-Site: "+site))
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
		return errors.Join(ErrCrossSite, errors.New("Origin "+o+" is not "+r.Host))
	}
	return nil
}

// CheckCSRF verifies the CSRF header of a request authenticated by the
// TokenCookie holding token: it must equal CSRFToken(token, session
// cookie). The gate calls it for unsafe methods.
func CheckCSRF(r *http.Request, token string) error {
	s, err := r.Cookie(SessionCookie)
	if err != nil || s.Value == "" {
		return ErrNoCSRF
	}
	return checkCSRFValue(r.Header.Get(CSRFHeader), token, s.Value)
}

func checkCSRFValue(got, token, session string) error {
	want := CSRFToken(token, session)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return ErrNoCSRF
	}
	return nil
}

// csrfOf is the CSRF token of the visitor's login session, "" without one
// (no token configured, or a Bearer header instead of the cookie).
func csrfOf(r *http.Request) string {
	t, err := r.Cookie(TokenCookie)
	if err != nil || t.Value == "" {
		return ""
	}
	s, err := r.Cookie(SessionCookie)
	if err != nil || s.Value == "" {
		return ""
	}
	return CSRFToken(t.Value, s.Value)
}

// validCookieValue reports whether v can be a cookie value unchanged
// (RFC 6265 cookie-octet).
func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return v != ""
}
