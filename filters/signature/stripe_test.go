package signature

import (
	"net/http"
	"strings"
	"testing"
)

func TestStripeHeaderParsing(t *testing.T) {
	s := mustNew(t, Config{Scheme: SchemeStripe, Secret: testSecret})
	body := []byte(`{"id":"evt_1"}`)
	const ts = "1699999990"
	good := hexMAC(testSecret, ts, ".", string(body))
	other := hexMAC("old-secret", ts, ".", string(body))
	cases := []struct {
		name, header string
		want         error
	}{
		{"single v1", "t=" + ts + ",v1=" + good, nil},
		{"spaces around elements", "t=" + ts + ", v1=" + good, nil},
		{"matching v1 second", "t=" + ts + ",v1=" + other + ",v1=" + good, nil},
		{"undecodable v1 beside good one", "t=" + ts + ",v1=nothex,v1=" + good, nil},
		{"upper-case hex", "t=" + ts + ",v1=" + strings.ToUpper(good), nil},
		{"order independent", "v1=" + good + ",t=" + ts, nil},
		{"unknown scheme ignored", "t=" + ts + ",v1=" + good + ",v9=x", nil},
		{"only old-secret v1", "t=" + ts + ",v1=" + other, ErrMismatch},
		{"v0 only", "t=" + ts + ",v0=" + good, ErrMissing},
		{"no t", "v1=" + good, ErrMalformed},
		{"repeated t", "t=" + ts + ",t=" + ts + ",v1=" + good, ErrMalformed},
		{"non-numeric t", "t=soon,v1=" + good, ErrMalformed},
		{"negative t", "t=-5,v1=" + good, ErrMalformed},
		{"element without =", "t=" + ts + ",v1", ErrMalformed},
		{"all v1 undecodable", "t=" + ts + ",v1=xyz,v1=" + good[:10], ErrMalformed},
		{"t changed", "t=1699999991,v1=" + good, ErrMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := Request{Header: hdr("Stripe-Signature", c.header)}
			checkErr(t, s.Verify(req, body, testNow), c.want, testSecret, good)
		})
	}
}

func TestStripeSignFallsBackToNow(t *testing.T) {
	s := mustNew(t, Config{Scheme: SchemeStripe, Secret: testSecret})
	body := []byte("{}")
	for _, existing := range []string{"", "garbage", "t=abc,v1=00"} {
		t.Run("existing="+existing, func(t *testing.T) {
			out := http.Header{}
			if err := s.Sign(Request{Header: hdr("Stripe-Signature", existing)}, body, testNow, out); err != nil {
				t.Fatalf("Sign: %v", err)
			}
			want := "t=1700000000,v1=" + hexMAC(testSecret, "1700000000.{}")
			if got := out.Get("Stripe-Signature"); got != want {
				t.Fatalf("Stripe-Signature = %q, want %q", got, want)
			}
		})
	}
}
