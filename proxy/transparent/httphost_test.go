package transparent

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestParseHTTPHost(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		in      string
		want    string
		wantErr error // nil, ErrIncomplete, ErrNotHTTP, or errMalformed
	}{
		{"host header", "GET /v1/contacts HTTP/1.1\r\nHost: API.Example.com\r\nAccept: */*\r\n\r\n", "api.example.com", nil},
		{"host with port", "POST /x HTTP/1.1\r\nUser-Agent: a\r\nhost: api.crm.test:8080\r\n\r\n", "api.crm.test", nil},
		{"host found before the head ends", "GET / HTTP/1.1\r\nHost: a.test\r\nX-Half: ", "a.test", nil},
		{"bare LF lines", "GET / HTTP/1.1\nHost: a.test\n\n", "a.test", nil},
		{"absolute-form target wins", "GET http://abs.test:81/p HTTP/1.1\r\nHost: other.test\r\n\r\n", "abs.test", nil},
		{"IPv6 literal host", "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", "::1", nil},
		{"HTTP/1.0 without host", "GET / HTTP/1.0\r\n\r\n", "", nil},
		{"partial method", "GE", "", ErrIncomplete},
		{"partial request line", "GET /long/path", "", ErrIncomplete},
		{"head not finished, no host yet", "GET / HTTP/1.1\r\nAccept: */*\r\n", "", ErrIncomplete},
		{"lower-case method", "get / HTTP/1.1\r\n", "", ErrNotHTTP},
		{"binary", "\x00\x01\x02", "", ErrNotHTTP},
		{"SSH banner", "SSH-2.0-OpenSSH_9.2\r\n", "", ErrNotHTTP},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "", ErrNotHTTP},
		{"no protocol", "GET /\r\n", "", ErrNotHTTP},
		{"empty host", "GET / HTTP/1.1\r\nHost: \r\n\r\n", "", errMalformed},
		{"host with slash", "GET / HTTP/1.1\r\nHost: a.test/evil\r\n\r\n", "", errMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseHTTPHost([]byte(c.in))
			switch {
			case c.wantErr == nil && err != nil:
				t.Fatalf("error %v, want %q", err, c.want)
			case c.wantErr == errMalformed && (err == nil || errors.Is(err, ErrIncomplete) || errors.Is(err, ErrNotHTTP)):
				t.Fatalf("error %v, want a malformed-head error", err)
			case c.wantErr != nil && c.wantErr != errMalformed && !errors.Is(err, c.wantErr):
				t.Fatalf("error %v, want %v", err, c.wantErr)
			}
			if got != c.want {
				t.Fatalf("host %q, want %q", got, c.want)
			}
		})
	}
}

// FuzzParseHTTPHost: never panics, and a host it reads from a complete head
// is the host net/http reads.
func FuzzParseHTTPHost(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n",
		"POST http://b.test/x HTTP/1.1\r\nHost: c.test\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"PUT /x HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		host, err := ParseHTTPHost(b)
		if err != nil || host == "" || !bytes.Contains(b, []byte("\r\n\r\n")) {
			return
		}
		req, rerr := http.ReadRequest(bufio.NewReader(bytes.NewReader(b)))
		if rerr != nil || req.URL.IsAbs() || strings.Contains(req.Host, "@") {
			return
		}
		h := req.Host
		if sh, _, err := net.SplitHostPort(h); err == nil {
			h = sh
		}
		std := strings.TrimSuffix(strings.Trim(strings.ToLower(h), "[]"), ".")
		if std != host {
			t.Fatalf("host %q, net/http reads %q from %q", host, std, b)
		}
	})
}
