package signature

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestLinearWebhookTimestamp: with a tolerance, the linear scheme checks
// the webhookTimestamp Linear puts in the body it signs.
func TestLinearWebhookTimestamp(t *testing.T) {
	s := mustNew(t, Config{Scheme: SchemeLinear, Secret: testSecret, Tolerance: time.Minute})
	body := func(ms int64) []byte {
		return []byte(`{"action":"update","webhookTimestamp":` + strconv.FormatInt(ms, 10) + `}`)
	}
	req := func(b []byte) Request {
		return Request{Method: http.MethodPost, Header: hdr("Linear-Signature", hexMAC(testSecret, string(b)))}
	}
	fresh := body(testNow.Add(-30 * time.Second).UnixMilli())
	checkErr(t, s.Verify(req(fresh), fresh, testNow), nil)
	stale := body(testNow.Add(-2 * time.Minute).UnixMilli())
	checkErr(t, s.Verify(req(stale), stale, testNow), ErrExpired, testSecret)
	none := []byte(`{"action":"update"}`)
	checkErr(t, s.Verify(req(none), none, testNow), ErrMalformed, testSecret)
	forged := body(testNow.UnixMilli())
	bad := req(forged)
	bad.Header.Set("Linear-Signature", hexMAC("other", string(forged)))
	checkErr(t, s.Verify(bad, forged, testNow), ErrMismatch, testSecret)
	// Without a tolerance the timestamp is not looked at.
	plain := mustNew(t, Config{Scheme: SchemeLinear, Secret: testSecret})
	checkErr(t, plain.Verify(req(stale), stale, testNow), nil)
	// Sign writes the header the check reads.
	h := http.Header{}
	if err := s.Sign(Request{Method: http.MethodPost, Header: http.Header{}}, fresh, testNow, h); err != nil {
		t.Fatal(err)
	}
	checkErr(t, s.Verify(Request{Header: h}, fresh, testNow), nil)
}

// FuzzSchemesVerify: any header value and body give an error or nil, never
// a panic, for the schemes parsing one header.
func FuzzSchemesVerify(f *testing.F) {
	f.Add("hmac-sha256=00", []byte(`{"webhookTimestamp":1}`))
	f.Add("", []byte{})
	f.Add("hmac-sha256="+hexMAC(testSecret, "x"), []byte("x"))
	schemes := []struct {
		header string
		s      Scheme
	}{
		{"Linear-Signature", mustNew(f, Config{Scheme: SchemeLinear, Secret: testSecret, Tolerance: time.Minute})},
		{"X-Hook-Signature", mustNew(f, Config{Scheme: SchemeAsana, Secret: testSecret})},
		{"X-Airtable-Content-MAC", mustNew(f, Config{Scheme: SchemeAirtable, Secret: "c2VjcmV0"})},
	}
	f.Fuzz(func(t *testing.T, value string, body []byte) {
		for _, sc := range schemes {
			req := Request{Method: http.MethodPost, Header: http.Header{sc.header: {value}}}
			if err := sc.s.Verify(req, body, testNow); err == nil && value == "" {
				t.Fatalf("%s: an empty signature verified", sc.s.Name())
			}
		}
	})
}

// FuzzAirtableSecret: any configured secret builds a scheme or fails with
// the one error that says nothing of it.
func FuzzAirtableSecret(f *testing.F) {
	f.Add("c2VjcmV0")
	f.Add("not base64!")
	_, want := New(Config{Scheme: SchemeAirtable, Secret: "!"})
	f.Fuzz(func(t *testing.T, secret string) {
		s, err := New(Config{Scheme: SchemeAirtable, Secret: secret})
		if err != nil && (s != nil || (secret != "" && err.Error() != want.Error())) {
			t.Fatalf("New: %v (scheme %v)", err, s)
		}
	})
}
