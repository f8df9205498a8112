package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// testNow is the fixed "current time" of the tests: 2023-11-14T22:13:20Z.
var testNow = time.Unix(1700000000, 0)

// macOf is the test's own HMAC-SHA256 over the concatenated parts, written
// against crypto/hmac directly so expectations never come from Sign.
func macOf(secret string, parts ...string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

func hexMAC(secret string, parts ...string) string {
	return hex.EncodeToString(macOf(secret, parts...))
}

func b64MAC(secret string, parts ...string) string {
	return base64.StdEncoding.EncodeToString(macOf(secret, parts...))
}

// hdr builds a header from name/value pairs using Set (canonical keys).
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// mustNew builds a scheme or fails the test.
func mustNew(t testing.TB, cfg Config) Scheme {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%v): %v", cfg, err)
	}
	return s
}

// checkErr asserts err wraps want (nil meaning success) and that its text
// leaks none of the secrets.
func checkErr(t *testing.T, err, want error, secrets ...string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("got error %v, want nil", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want one wrapping %v", err, want)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Fatalf("error %q leaks %q", err, s)
		}
	}
}

// sha256Hex is a plain SHA-256 hex digest (HubSpot's legacy v1/v2 scheme).
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
