package signature

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const testSecret = "s3cr3t-do-not-print"

// fixture describes one scheme for the shared table: how to sign by hand
// from the provider's documented algorithm, and which headers to break.
type fixture struct {
	name      string
	cfg       Config
	req       Request // Method/URI; Header is filled per case
	sigHeader string
	// tsHeader is the separate timestamp header, "" when the scheme has
	// none (or, like Stripe, keeps it inside the signature header).
	tsHeader string
	// sign returns the delivery headers for body at timestamp ts (ignored by
	// body-only schemes) under secret, computed by hand in the test.
	sign func(secret string, body []byte, ts string) http.Header
	// fresh is a timestamp inside the tolerance at testNow, expired one
	// outside it ("" when the scheme cannot expire), nowTS is testNow as
	// the scheme writes it.
	fresh, expired, nowTS string
	// badEncoding and badLength are signature header values that must be
	// rejected as ErrMalformed.
	badEncoding, badLength string
}

func fixtures() []fixture {
	post := Request{Method: http.MethodPost, URI: "https://app.example.com/hooks/x"}
	stripeTS := func(d time.Duration) string { return strconv.FormatInt(testNow.Add(d).Unix(), 10) }
	hubspotTS := func(d time.Duration) string { return strconv.FormatInt(testNow.Add(d).UnixMilli(), 10) }
	zendeskTS := func(d time.Duration) string { return testNow.Add(d).UTC().Format(time.RFC3339) }
	hubspotURI := "https://app.example.com/hooks/hubspot?email=a%40b.com&x=%281%29"
	return []fixture{
		{
			name: "github", cfg: Config{Scheme: SchemeGitHub, Secret: testSecret}, req: post,
			sigHeader: "X-Hub-Signature-256",
			sign: func(k string, b []byte, _ string) http.Header {
				return hdr("X-Hub-Signature-256", "sha256="+hexMAC(k, string(b)))
			},
			badEncoding: "sha256=" + strings.Repeat("zz", 32), badLength: "sha256=abcd",
		},
		{
			name: "jira", cfg: Config{Scheme: SchemeJira, Secret: testSecret}, req: post,
			sigHeader: "X-Hub-Signature",
			sign: func(k string, b []byte, _ string) http.Header {
				return hdr("X-Hub-Signature", "sha256="+hexMAC(k, string(b)))
			},
			badEncoding: "sha256=" + strings.Repeat("g", 64), badLength: "sha256=" + strings.Repeat("a", 66),
		},
		{
			name: "shopify", cfg: Config{Scheme: SchemeShopify, Secret: testSecret}, req: post,
			sigHeader: "X-Shopify-Hmac-Sha256",
			sign: func(k string, b []byte, _ string) http.Header {
				return hdr("X-Shopify-Hmac-Sha256", b64MAC(k, string(b)))
			},
			badEncoding: strings.Repeat("*", 44), badLength: "AAAA",
		},
		{
			name: "smartsheet", cfg: Config{Scheme: SchemeSmartsheet, Secret: testSecret}, req: post,
			sigHeader: "Smartsheet-Hmac-SHA256",
			sign: func(k string, b []byte, _ string) http.Header {
				return hdr("Smartsheet-Hmac-SHA256", hexMAC(k, string(b)))
			},
			badEncoding: strings.Repeat("x", 64), badLength: "",
		},
		{
			name: "zendesk", cfg: Config{Scheme: SchemeZendesk, Secret: testSecret, Tolerance: 5 * time.Minute}, req: post,
			sigHeader: "X-Zendesk-Webhook-Signature", tsHeader: "X-Zendesk-Webhook-Signature-Timestamp",
			sign: func(k string, b []byte, ts string) http.Header {
				return hdr("X-Zendesk-Webhook-Signature", b64MAC(k, ts, string(b)),
					"X-Zendesk-Webhook-Signature-Timestamp", ts)
			},
			fresh: zendeskTS(-time.Minute), expired: zendeskTS(-6 * time.Minute), nowTS: "2023-11-14T22:13:20Z",
			badEncoding: "not base64!", badLength: base64Of(16),
		},
		{
			name: "stripe", cfg: Config{Scheme: SchemeStripe, Secret: testSecret}, req: post,
			sigHeader: "Stripe-Signature",
			sign: func(k string, b []byte, ts string) http.Header {
				return hdr("Stripe-Signature", "t="+ts+",v1="+hexMAC(k, ts, ".", string(b)))
			},
			fresh: stripeTS(-time.Minute), expired: stripeTS(-301 * time.Second), nowTS: "1700000000",
			badEncoding: "t=1700000000,v1=" + strings.Repeat("q", 64), badLength: "t=1700000000,v1=abcdef",
		},
		{
			name: "hubspot-v3", cfg: Config{Scheme: SchemeHubSpotV3, Secret: testSecret},
			req:       Request{Method: http.MethodPost, URI: hubspotURI},
			sigHeader: "X-HubSpot-Signature-v3", tsHeader: "X-HubSpot-Request-Timestamp",
			sign: func(k string, b []byte, ts string) http.Header {
				decoded := "https://app.example.com/hooks/hubspot?email=a@b.com&x=(1)"
				return hdr("X-HubSpot-Signature-v3", b64MAC(k, "POST", decoded, string(b), ts),
					"X-HubSpot-Request-Timestamp", ts)
			},
			fresh: hubspotTS(-time.Minute), expired: hubspotTS(-5*time.Minute - time.Millisecond), nowTS: "1700000000000",
			badEncoding: "%%%%", badLength: base64Of(31),
		},
		{
			name: "linear", cfg: Config{Scheme: SchemeLinear, Secret: testSecret}, req: post,
			sigHeader: "Linear-Signature",
			sign: func(k string, b []byte, _ string) http.Header {
				return hdr("Linear-Signature", hexMAC(k, string(b)))
			},
			badEncoding: strings.Repeat("x", 64), badLength: strings.Repeat("a", 62),
		},
		{
			name: "asana", cfg: Config{Scheme: SchemeAsana, Secret: testSecret}, req: post,
			sigHeader: "X-Hook-Signature",
			sign: func(k string, b []byte, _ string) http.Header {
				return hdr("X-Hook-Signature", hexMAC(k, string(b)))
			},
			badEncoding: strings.Repeat("#", 64), badLength: "00",
		},
		{
			// Airtable's secret is given in base64; the key is its bytes.
			name: "airtable", cfg: Config{Scheme: SchemeAirtable, Secret: base64.StdEncoding.EncodeToString([]byte(testSecret))}, req: post,
			sigHeader: "X-Airtable-Content-MAC",
			sign: func(k string, b []byte, _ string) http.Header {
				return hdr("X-Airtable-Content-MAC", "hmac-sha256="+hexMAC(k, string(b)))
			},
			badEncoding: "hmac-sha256=" + strings.Repeat("Q", 64), badLength: "hmac-sha256=abc",
		},
		{
			name: "generic hex", cfg: Config{Scheme: SchemeGeneric, Secret: testSecret, Header: "X-Sig", Prefix: "v1="}, req: post,
			sigHeader: "X-Sig",
			sign: func(k string, b []byte, _ string) http.Header {
				return hdr("X-Sig", "v1="+hexMAC(k, string(b)))
			},
			badEncoding: "v1=" + strings.Repeat("-", 64), badLength: "v1=00",
		},
		{
			name: "generic base64 timestamp",
			cfg: Config{Scheme: SchemeGeneric, Secret: testSecret, Header: "X-Sig", Encoding: "base64",
				TimestampHeader: "X-Ts", Payload: "{timestamp}.{body}", Tolerance: 2 * time.Minute},
			req: post, sigHeader: "X-Sig", tsHeader: "X-Ts",
			sign: func(k string, b []byte, ts string) http.Header {
				return hdr("X-Sig", b64MAC(k, ts, ".", string(b)), "X-Ts", ts)
			},
			fresh: stripeTS(-time.Minute), expired: stripeTS(-3 * time.Minute), nowTS: "1700000000",
			badEncoding: "====", badLength: base64Of(20),
		},
		{
			name: "generic unix-ms default payload",
			cfg: Config{Scheme: SchemeGeneric, Secret: testSecret, Header: "X-Sig",
				TimestampHeader: "X-Ts", TimestampFormat: TimestampUnixMS, Tolerance: time.Minute},
			req: post, sigHeader: "X-Sig", tsHeader: "X-Ts",
			sign: func(k string, b []byte, ts string) http.Header {
				return hdr("X-Sig", hexMAC(k, ts, string(b)), "X-Ts", ts)
			},
			fresh: hubspotTS(-30 * time.Second), expired: hubspotTS(-61 * time.Second), nowTS: "1700000000000",
			badEncoding: strings.Repeat("Z", 64), badLength: strings.Repeat("a", 63),
		},
	}
}

// base64Of returns a valid base64 string decoding to n bytes (wrong length).
func base64Of(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }

func TestVerifyTable(t *testing.T) {
	body := []byte(`{"events":[{"id":1,"marker":"lg-echo"}]}`)
	for _, f := range fixtures() {
		s := mustNew(t, f.cfg)
		ts := f.fresh
		good := f.sign(testSecret, body, ts)
		goodSig := good.Get(f.sigHeader)

		with := func(mut func(h http.Header)) http.Header {
			h := good.Clone()
			mut(h)
			return h
		}
		type tc struct {
			name string
			h    http.Header
			body []byte
			want error
		}
		cases := []tc{
			{"valid", good, body, nil},
			{"tampered body", good, []byte(`{"events":[]}`), ErrMismatch},
			{"signed with other secret", f.sign("another-secret", body, ts), body, ErrMismatch},
			{"missing signature header", with(func(h http.Header) { h.Del(f.sigHeader) }), body, ErrMissing},
			{"empty signature header", with(func(h http.Header) { h.Set(f.sigHeader, "") }), body, ErrMissing},
			{"duplicate signature header", with(func(h http.Header) { h.Add(f.sigHeader, goodSig) }), body, ErrMalformed},
			{"bad encoding", with(func(h http.Header) { h.Set(f.sigHeader, f.badEncoding) }), body, ErrMalformed},
		}
		if f.badLength != "" {
			cases = append(cases, tc{"wrong digest length", with(func(h http.Header) { h.Set(f.sigHeader, f.badLength) }), body, ErrMalformed})
		}
		if f.tsHeader != "" {
			cases = append(cases,
				tc{"missing timestamp header", with(func(h http.Header) { h.Del(f.tsHeader) }), body, ErrMissing},
				tc{"timestamp changed", with(func(h http.Header) { h.Set(f.tsHeader, f.nowTS) }), body, ErrMismatch},
				tc{"unparsable timestamp", f.sign(testSecret, body, "yesterday"), body, ErrMalformed},
			)
		}
		if f.expired != "" {
			cases = append(cases,
				tc{"expired timestamp", f.sign(testSecret, body, f.expired), body, ErrExpired},
				tc{"timestamp at now", f.sign(testSecret, body, f.nowTS), body, nil},
			)
		}
		for _, c := range cases {
			t.Run(f.name+"/"+c.name, func(t *testing.T) {
				req := f.req
				req.Header = c.h
				err := s.Verify(req, c.body, testNow)
				checkErr(t, err, c.want, testSecret, goodSig)
			})
		}
	}
}

func TestSignTable(t *testing.T) {
	orig := []byte(`{"events":[{"id":1},{"id":2,"marker":"lg-echo"}]}`)
	rewritten := []byte(`{"events":[{"id":1}]}`)
	for _, f := range fixtures() {
		s := mustNew(t, f.cfg)

		t.Run(f.name+"/round trip without timestamp", func(t *testing.T) {
			req := f.req
			req.Header = http.Header{}
			h := http.Header{}
			if err := s.Sign(req, rewritten, testNow, h); err != nil {
				t.Fatalf("Sign: %v", err)
			}
			want := f.sign(testSecret, rewritten, f.nowTS)
			if got := h.Get(f.sigHeader); got != want.Get(f.sigHeader) {
				t.Fatalf("%s = %q, want hand-computed %q", f.sigHeader, got, want.Get(f.sigHeader))
			}
			if f.tsHeader != "" && h.Get(f.tsHeader) != f.nowTS {
				t.Fatalf("%s = %q, want now %q", f.tsHeader, h.Get(f.tsHeader), f.nowTS)
			}
			req.Header = h
			checkErr(t, s.Verify(req, rewritten, testNow), nil)
			checkErr(t, s.Verify(req, orig, testNow), ErrMismatch)
		})

		t.Run(f.name+"/re-sign reuses delivery timestamp", func(t *testing.T) {
			req := f.req
			req.Header = f.sign(testSecret, orig, f.fresh)
			h := req.Header.Clone()
			later := testNow.Add(time.Hour) // must not leak into the signature
			if err := s.Sign(req, rewritten, later, h); err != nil {
				t.Fatalf("Sign: %v", err)
			}
			want := f.sign(testSecret, rewritten, f.fresh)
			for k := range want {
				if h.Get(k) != want.Get(k) {
					t.Fatalf("%s = %q, want %q", k, h.Get(k), want.Get(k))
				}
			}
			req.Header = h
			checkErr(t, s.Verify(req, rewritten, testNow), nil)
			if f.expired != "" {
				// The original age is kept, so the window still closes on time.
				stale := f.req
				stale.Header = f.sign(testSecret, orig, f.expired)
				h := http.Header{}
				if err := s.Sign(stale, rewritten, testNow, h); err != nil {
					t.Fatalf("Sign: %v", err)
				}
				stale.Header = h
				checkErr(t, s.Verify(stale, rewritten, testNow), ErrExpired)
			}
		})

		t.Run(f.name+"/sign into nil header", func(t *testing.T) {
			req := f.req
			if err := s.Sign(req, rewritten, testNow, nil); err == nil {
				t.Fatal("Sign into nil header: want error")
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	for _, f := range fixtures() {
		t.Run(f.name, func(t *testing.T) {
			s := mustNew(t, f.cfg)
			body := []byte(`{"n":1}`)
			errs := make(chan error, 8)
			for range cap(errs) {
				go func() {
					req := f.req
					req.Header = f.sign(testSecret, body, f.fresh)
					h := req.Header.Clone()
					if err := s.Sign(req, body, testNow, h); err != nil {
						errs <- err
						return
					}
					req.Header = h
					errs <- s.Verify(req, body, testNow)
				}()
			}
			for range cap(errs) {
				if err := <-errs; err != nil {
					t.Fatalf("concurrent Sign/Verify: %v", err)
				}
			}
		})
	}
}
