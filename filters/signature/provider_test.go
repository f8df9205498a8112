package signature

import (
	"net/http"
	"testing"
	"time"
)

func TestToleranceOverrides(t *testing.T) {
	body := []byte("{}")
	old := testNow.Add(-time.Hour)
	stripeHdr := hdr("Stripe-Signature", "t=1699996400,v1="+hexMAC(testSecret, "1699996400.{}"))
	zdTS := old.UTC().Format(time.RFC3339)
	zendeskHdr := hdr("X-Zendesk-Webhook-Signature", b64MAC(testSecret, zdTS, "{}"),
		"X-Zendesk-Webhook-Signature-Timestamp", zdTS)
	// Zendesk without a tolerance signs an arbitrary timestamp string verbatim.
	oddHdr := hdr("X-Zendesk-Webhook-Signature", b64MAC(testSecret, "Tue, 25 Jul", "{}"),
		"X-Zendesk-Webhook-Signature-Timestamp", "Tue, 25 Jul")
	cases := []struct {
		name      string
		scheme    string
		tolerance time.Duration
		h         http.Header
		want      error
	}{
		{"stripe default 300s rejects 1h", SchemeStripe, 0, stripeHdr, ErrExpired},
		{"stripe custom 2h accepts 1h", SchemeStripe, 2 * time.Hour, stripeHdr, nil},
		{"stripe negative disables", SchemeStripe, -1, stripeHdr, nil},
		{"zendesk default has no window", SchemeZendesk, 0, zendeskHdr, nil},
		{"zendesk custom 30m rejects 1h", SchemeZendesk, 30 * time.Minute, zendeskHdr, ErrExpired},
		{"zendesk no window keeps timestamp opaque", SchemeZendesk, 0, oddHdr, nil},
		{"zendesk window needs RFC 3339", SchemeZendesk, time.Hour, oddHdr, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := mustNew(t, Config{Scheme: c.scheme, Secret: testSecret, Tolerance: c.tolerance})
			checkErr(t, s.Verify(Request{Header: c.h}, body, testNow), c.want, testSecret)
		})
	}
}

func TestGitHubLegacySHA1OnlyWhenPresent(t *testing.T) {
	s := mustNew(t, Config{Scheme: SchemeGitHub, Secret: testSecret})
	for _, present := range []bool{false, true} {
		t.Run(map[bool]string{false: "absent", true: "present"}[present], func(t *testing.T) {
			in := http.Header{}
			if present {
				in.Set("X-Hub-Signature", "sha1=stale")
			}
			out := http.Header{}
			if err := s.Sign(Request{Header: in}, []byte("{}"), testNow, out); err != nil {
				t.Fatalf("Sign: %v", err)
			}
			got := out.Get("X-Hub-Signature")
			if !present && got != "" {
				t.Fatalf("X-Hub-Signature written although absent: %q", got)
			}
			// printf %s '{}' | openssl dgst -sha1 -hmac 's3cr3t-do-not-print'
			if present && got != "sha1="+sha1Literal {
				t.Fatalf("X-Hub-Signature = %q, want sha1=%s", got, sha1Literal)
			}
		})
	}
}

// sha1Literal is HMAC-SHA1("s3cr3t-do-not-print", "{}"), computed with openssl.
const sha1Literal = "bd9ecb40b3ef8300f82b38579543e379611eec48"
