package proxy

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	"github.com/loopguard/loopguard/proxy/console"
)

// AdminCookie is the cookie that may carry the admin token instead of the
// Authorization header, so a browser console can keep it HTTP-only.
const AdminCookie = console.TokenCookie

// auth is the single gate in front of every admin endpoint but the probes.
// Without a token (only allowed on a loopback-only listener) it lets all
// through. With one, the request must carry it as "Authorization: Bearer
// <token>" or in the loopguard_admin cookie: none answers 401 (with
// WWW-Authenticate), a wrong one 403. Tokens are compared as SHA-256
// digests in constant time, so neither content nor length leaks through
// timing. A state-changing request authenticated by the cookie alone must
// also come from the admin's own origin (Sec-Fetch-Site, Origin): a browser
// sends the cookie on cross-site requests too — and the console's
// per-session CSRF header (console.CheckCSRF), which no other page can set.
// Without a token, a browser's cross-site request that changes state is
// refused all the same: any web page could otherwise POST to a loopback
// admin listener.
func (a *Admin) auth(h http.Handler) http.Handler {
	if a.token == "" {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !safeMethod(r.Method) && crossSite(r) {
				http.Error(w, "forbidden: a cross-site request may not change state", http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	want := sha256.Sum256([]byte(a.token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, fromCookie := adminCredential(r)
		if got == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="loopguard admin"`)
			http.Error(w, "unauthorized: this endpoint needs the admin token (Authorization: Bearer <admin.token>)", http.StatusUnauthorized)
			return
		}
		sum := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			http.Error(w, "forbidden: wrong admin token", http.StatusForbidden)
			return
		}
		if fromCookie && !safeMethod(r.Method) && crossSite(r) {
			http.Error(w, "forbidden: a cross-site request may not use the admin cookie to change state", http.StatusForbidden)
			return
		}
		if fromCookie && !safeMethod(r.Method) && console.CheckCSRF(r, a.token) != nil {
			http.Error(w, "forbidden: a change authenticated by the admin cookie needs the console's "+console.CSRFHeader+" header", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// adminCredential returns the token a request carries: a Bearer
// Authorization header first, else the loopguard_admin cookie.
func adminCredential(r *http.Request) (token string, fromCookie bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok), false
		}
	}
	if c, err := r.Cookie(AdminCookie); err == nil && c.Value != "" {
		return c.Value, true
	}
	return "", false
}

// safeMethod: methods that change no state (RFC 9110 §9.2.1).
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// crossSite reports whether a browser says the request comes from another
// site: Sec-Fetch-Site other than same-origin/none, or an Origin whose host
// is not the one the request was sent to. A client that sends neither
// (curl, a script) is not a browser acting for another page.
func crossSite(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" {
		return s != "same-origin" && s != "none"
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		return err != nil || !strings.EqualFold(u.Host, r.Host)
	}
	return false
}
