package signature

import (
	"net/http"
	"testing"
)

func TestDecodeHubSpotURI(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"no escapes", "https://a.example/x?y=1", "https://a.example/x?y=1"},
		{"all listed escapes", "%3A%2F%3F%40%21%24%27%28%29%2A%2C%3B", ":/?@!$'()*,;"},
		{"lower-case hex", "%3a%2f%2a", ":/*"},
		{"unlisted escapes kept", "q=a%20b%26c%3Dd%25", "q=a%20b%26c%3Dd%25"},
		{"mixed", "https://h/p?e=a%40b.com&r=%2Fx%20y", "https://h/p?e=a@b.com&r=/x%20y"},
		{"truncated escape at end", "x%3", "x%3"},
		{"lone percent", "100%", "100%"},
		{"not double decoded", "%253A", "%253A"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := decodeHubSpotURI(c.in); got != c.want {
				t.Fatalf("decodeHubSpotURI(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestHubSpotRequestFields(t *testing.T) {
	s := mustNew(t, Config{Scheme: SchemeHubSpotV3, Secret: testSecret})
	const uri = "https://app.example.com/hooks/hubspot?a=%40"
	body := []byte(`[{"eventId":7}]`)
	ts := "1699999990000"
	// HubSpot signs the decoded URI: "…?a=@".
	good := hdr("X-HubSpot-Signature-v3", b64MAC(testSecret, "POST", "https://app.example.com/hooks/hubspot?a=@", string(body), ts),
		"X-HubSpot-Request-Timestamp", ts)

	cases := []struct {
		name string
		req  Request
		want error
	}{
		{"as called", Request{Method: "POST", URI: uri, Header: good}, nil},
		{"already decoded URI is equivalent", Request{Method: "POST", URI: "https://app.example.com/hooks/hubspot?a=@", Header: good}, nil},
		{"other method", Request{Method: "PUT", URI: uri, Header: good}, ErrMismatch},
		{"other host", Request{Method: "POST", URI: "http://internal:8080/hooks/hubspot?a=%40", Header: good}, ErrMismatch},
		{"missing method", Request{URI: uri, Header: good}, ErrMissing},
		{"missing URI", Request{Method: "POST", Header: good}, ErrMissing},
		{"nil header", Request{Method: "POST", URI: uri}, ErrMissing},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkErr(t, s.Verify(c.req, body, testNow), c.want, testSecret)
		})
	}

	t.Run("sign needs method and URI", func(t *testing.T) {
		if err := s.Sign(Request{Header: good}, body, testNow, http.Header{}); err == nil {
			t.Fatal("Sign without method/URI: want error")
		}
	})
}

func TestHubSpotLegacyOnlyWhenPresent(t *testing.T) {
	s := mustNew(t, Config{Scheme: SchemeHubSpotV3, Secret: testSecret})
	cases := []struct {
		name    string
		version string
		want    string // expected X-HubSpot-Signature, "" = not written
	}{
		{"no legacy version", "", ""},
		{"unknown version", "v9", ""},
		{"v1", "v1", sha256Hex(testSecret + "{}")},
		{"v2 upper case", "V2", sha256Hex(testSecret + "POST" + "https://h/x?a=%40" + "{}")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := hdr("X-HubSpot-Request-Timestamp", "1700000000000")
			if c.version != "" {
				in.Set("X-HubSpot-Signature-Version", c.version)
			}
			out := http.Header{}
			if err := s.Sign(Request{Method: "POST", URI: "https://h/x?a=%40", Header: in}, []byte("{}"), testNow, out); err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if got := out.Get("X-HubSpot-Signature"); got != c.want {
				t.Fatalf("X-HubSpot-Signature = %q, want %q", got, c.want)
			}
		})
	}
}
