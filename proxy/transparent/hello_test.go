package transparent

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"
)

// captureConn records what a TLS client writes and fails its reads, so a
// handshake stops right after the ClientHello.
type captureConn struct {
	net.Conn
	buf bytes.Buffer
}

func (c *captureConn) Write(p []byte) (int, error)      { return c.buf.Write(p) }
func (c *captureConn) Read([]byte) (int, error)         { return 0, errors.New("capture: no server") }
func (c *captureConn) Close() error                     { return nil }
func (c *captureConn) SetDeadline(time.Time) error      { return nil }
func (c *captureConn) SetReadDeadline(time.Time) error  { return nil }
func (c *captureConn) SetWriteDeadline(time.Time) error { return nil }

// clientHello returns the bytes a crypto/tls client sends first.
func clientHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	c := &captureConn{}
	_ = tls.Client(c, cfg).Handshake()
	if c.buf.Len() == 0 {
		t.Fatal("the TLS client wrote nothing")
	}
	return c.buf.Bytes()
}

// fragment re-frames a single-record handshake into records of at most n
// bytes of payload each (RFC 8446 §5.1 allows any split).
func fragment(rec []byte, n int) []byte {
	payload := rec[recordHeaderLen:]
	var out []byte
	for len(payload) > 0 {
		k := min(n, len(payload))
		out = append(out, rec[0], rec[1], rec[2], byte(k>>8), byte(k))
		out = append(out, payload[:k]...)
		payload = payload[k:]
	}
	return out
}

func TestParseClientHello(t *testing.T) {
	t.Parallel()
	modern := clientHello(t, &tls.Config{ServerName: "API.Example.com."})
	tls12 := clientHello(t, &tls.Config{ServerName: "api.crm.test", MaxVersion: tls.VersionTLS12})
	noSNI := clientHello(t, &tls.Config{InsecureSkipVerify: true}) // no ServerName: no SNI sent
	ipOnly := clientHello(t, &tls.Config{ServerName: "127.0.0.2"}) // IP literals are not sent as SNI
	cases := []struct {
		name    string
		in      []byte
		want    string
		wantErr error // nil: success; ErrIncomplete / ErrNotTLS exactly; errMalformed: any other error
	}{
		{"modern hello, name lower-cased without dot", modern, "api.example.com", nil},
		{"TLS 1.2 hello", tls12, "api.crm.test", nil},
		{"no SNI", noSNI, "", nil},
		{"IP literal: no SNI", ipOnly, "", nil},
		{"fragmented into 100-byte records", fragment(tls12, 100), "api.crm.test", nil},
		{"fragmented into 1-byte records", fragment(tls12, 1), "api.crm.test", nil},
		{"trailing application bytes ignored", append(append([]byte{}, tls12...), 23, 3, 3, 0, 1, 0), "api.crm.test", nil},
		{"empty", nil, "", ErrIncomplete},
		{"header only", tls12[:3], "", ErrIncomplete},
		{"cut mid record", tls12[:len(tls12)-1], "", ErrIncomplete},
		{"cut mid fragment", fragment(tls12, 50)[:200], "", ErrIncomplete},
		{"http", []byte("GET / HTTP/1.1\r\n"), "", ErrNotTLS},
		{"alert record", []byte{21, 3, 1, 0, 2, 2, 40}, "", ErrNotTLS},
		{"SSLv3 record version", []byte{22, 2, 0, 0, 4, 1, 0, 0, 0}, "", errMalformed},
		{"zero-length record", []byte{22, 3, 1, 0, 0}, "", errMalformed},
		{"oversize record", []byte{22, 3, 1, 0xff, 0xff}, "", errMalformed},
		{"server hello", []byte{22, 3, 3, 0, 4, 2, 0, 0, 0}, "", errMalformed},
		{"empty client hello body", []byte{22, 3, 3, 0, 4, 1, 0, 0, 0}, "", errMalformed},
		{"alert between fragments", append(fragment(tls12, 50)[:55], 21, 3, 3, 0, 2, 2, 40), "", errMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := ParseClientHello(c.in)
			switch {
			case c.wantErr == nil && err != nil:
				t.Fatalf("error %v, want server name %q", err, c.want)
			case c.wantErr == errMalformed && (err == nil || errors.Is(err, ErrIncomplete) || errors.Is(err, ErrNotTLS)):
				t.Fatalf("error %v, want a malformed-hello error", err)
			case c.wantErr != nil && c.wantErr != errMalformed && !errors.Is(err, c.wantErr):
				t.Fatalf("error %v, want %v", err, c.wantErr)
			}
			if h.ServerName != c.want {
				t.Fatalf("server name %q, want %q", h.ServerName, c.want)
			}
		})
	}
}

var errMalformed = errors.New("malformed (any error but incomplete/not TLS)")

// stdlibServerName is what crypto/tls's server reads as the server name of
// the hello in b ("" and false when it rejects the hello).
func stdlibServerName(b []byte) (string, bool) {
	errStop := errors.New("stop")
	var name string
	var got bool
	cfg := &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		name, got = h.ServerName, true
		return nil, errStop
	}}
	c := &replayOnly{r: bytes.NewReader(b)}
	_ = tls.Server(c, cfg).Handshake()
	return name, got
}

// replayOnly is a read-only conn over fixed bytes.
type replayOnly struct {
	captureConn
	r *bytes.Reader
}

func (c *replayOnly) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *replayOnly) Write(p []byte) (int, error) { return len(p), nil }

// FuzzParseClientHello: never panics, never reads out of bounds, and agrees
// with crypto/tls on every hello both accept.
func FuzzParseClientHello(f *testing.F) {
	for _, cfg := range []*tls.Config{
		{ServerName: "api.example.com"},
		{ServerName: "api.crm.test", MaxVersion: tls.VersionTLS12},
		{InsecureSkipVerify: true},
		{ServerName: "x.y", NextProtos: []string{"h2", "http/1.1"}},
	} {
		h := clientHello(f, cfg)
		f.Add(h)
		f.Add(fragment(h, 7))
	}
	f.Add([]byte{22, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseClientHello(b)
		if err != nil {
			if h.ServerName != "" {
				t.Fatalf("error %v with server name %q", err, h.ServerName)
			}
			return
		}
		if std, ok := stdlibServerName(b); ok && std != "" && h.ServerName != "" && h.ServerName != std {
			t.Fatalf("server name %q, crypto/tls reads %q", h.ServerName, std)
		}
	})
}
