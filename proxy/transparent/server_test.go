package transparent

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// harness is a transparent Server on 127.0.0.1 whose "original destination"
// is looked up by the client's source IP, so tests run without iptables:
// a client bound to 127.0.0.X stands for "a connection redirected from
// dst[X]".
type harness struct {
	srv   *Server
	addr  string
	mu    sync.Mutex
	dst   map[netip.Addr]netip.AddrPort
	seen  []Decision
	match map[string]bool
}

func newHarness(t *testing.T, ic Interceptor, tweak func(*Options)) *harness {
	t.Helper()
	h := &harness{dst: map[netip.Addr]netip.AddrPort{}, match: map[string]bool{}}
	o := Options{
		Match:       func(hp string) bool { h.mu.Lock(); defer h.mu.Unlock(); return h.match[hp] },
		Interceptor: ic,
		OriginalDst: func(c net.Conn) (netip.AddrPort, error) {
			src := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr()
			h.mu.Lock()
			defer h.mu.Unlock()
			d, ok := h.dst[src]
			if !ok {
				return netip.AddrPort{}, fmt.Errorf("no destination for %s", src)
			}
			return d, nil
		},
		Observe: func(d Decision) { h.mu.Lock(); h.seen = append(h.seen, d); h.mu.Unlock() },
	}
	if tweak != nil {
		tweak(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	h.srv, h.addr = srv, ln.Addr().String()
	return h
}

// dial connects from source IP src, registered as redirected from dst.
func (h *harness) dial(t *testing.T, src string, dst string) *net.TCPConn {
	t.Helper()
	a := netip.MustParseAddr(src)
	h.mu.Lock()
	if dst != "" {
		h.dst[a] = netip.MustParseAddrPort(dst)
	}
	h.mu.Unlock()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: a.AsSlice()}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*net.TCPConn)
}

// decision waits for the n-th decision (1-based).
func (h *harness) decision(t *testing.T, n int) Decision {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.mu.Lock()
		if len(h.seen) >= n {
			d := h.seen[n-1]
			h.mu.Unlock()
			return d
		}
		h.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no decision #%d within 5s", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type noIntercept struct{}

func (noIntercept) Intercept(c net.Conn, _ Decision) { _ = c.Close() }

// TestSpliceTLSKeepsUpstreamCertificate: a TLS connection for a host no
// provider lists reaches its original destination untouched: the client
// completes its handshake with the upstream's own certificate.
func TestSpliceTLSKeepsUpstreamCertificate(t *testing.T) {
	t.Parallel()
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "upstream") }))
	defer up.Close()
	h := newHarness(t, noIntercept{}, nil)
	c := h.dial(t, "127.0.0.11", up.Listener.Addr().String())
	pool := x509.NewCertPool()
	pool.AddCert(up.Certificate())
	tc := tls.Client(c, &tls.Config{ServerName: "example.com", RootCAs: pool})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake through the splice: %v", err)
	}
	if got := tc.ConnectionState().PeerCertificates[0].Raw; !bytes.Equal(got, up.Certificate().Raw) {
		t.Fatal("the client did not see the upstream's own certificate")
	}
	_, _ = io.WriteString(tc, "GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
	body, _ := io.ReadAll(tc)
	if !bytes.HasSuffix(body, []byte("upstream")) {
		t.Fatalf("response %q", body)
	}
	d := h.decision(t, 1)
	if d.Action != Splice || d.Reason != ReasonOtherHost || d.Host != "example.com" || d.Proto != "tls" {
		t.Fatalf("decision %+v, want splice/other_host for example.com", d)
	}
}

// echoHalfClose answers, after the client half-closes, with the byte
// count it read, then closes.
func echoHalfClose(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				n, _ := io.Copy(io.Discard, c)
				fmt.Fprintf(c, "read %d", n)
			}()
		}
	}()
	return ln
}

// TestSpliceHalfClose: the client's FIN reaches the upstream while the
// upstream's answer still reaches the client.
func TestSpliceHalfClose(t *testing.T) {
	t.Parallel()
	up := echoHalfClose(t)
	h := newHarness(t, noIntercept{}, nil)
	c := h.dial(t, "127.0.0.12", up.Addr().String())
	payload := bytes.Repeat([]byte{0x01, 0xfe}, 50000) // not TLS, not HTTP
	if _, err := c.Write(payload); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != fmt.Sprintf("read %d", len(payload)) {
		t.Fatalf("answer %q, %v", got, err)
	}
	if d := h.decision(t, 1); d.Action != Splice || d.Reason != ReasonUnknownProtocol {
		t.Fatalf("decision %+v, want splice/unknown_protocol", d)
	}
}

// TestSpliceServerFirst: a client that waits for the server (SMTP-like)
// is spliced once the peek times out.
func TestSpliceServerFirst(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = io.WriteString(c, "220 ready\r\n")
			_ = c.Close()
		}
	}()
	h := newHarness(t, noIntercept{}, func(o *Options) { o.PeekTimeout = 50 * time.Millisecond })
	c := h.dial(t, "127.0.0.13", ln.Addr().String())
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(c)
	if string(got) != "220 ready\r\n" {
		t.Fatalf("banner %q", got)
	}
	if d := h.decision(t, 1); d.Action != Splice || d.Reason != ReasonPeekTimeout {
		t.Fatalf("decision %+v, want splice/peek_timeout", d)
	}
}

// recordingInterceptor keeps what it was handed.
type recordingInterceptor struct {
	got chan []byte
	d   chan Decision
}

func (r *recordingInterceptor) Intercept(c net.Conn, d Decision) {
	r.d <- d
	go func() {
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		r.got <- b
	}()
}

// TestInterceptReplaysFirstBytes: a connection for a provider host goes to
// the Interceptor with every byte the client sent, from the first.
func TestInterceptReplaysFirstBytes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, host, dst, proto string
		send                   func(t *testing.T) []byte
	}{
		{"TLS by SNI", "api.crm.test", "10.1.2.3:443", "tls", func(t *testing.T) []byte { return clientHello(t, &tls.Config{ServerName: "api.crm.test"}) }},
		{"HTTP by Host", "api.crm.test", "10.1.2.3:80", "http", func(*testing.T) []byte {
			return []byte("POST /v1/contacts HTTP/1.1\r\nHost: api.crm.test\r\nContent-Length: 2\r\n\r\n{}")
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ri := &recordingInterceptor{got: make(chan []byte, 1), d: make(chan Decision, 1)}
			h := newHarness(t, ri, nil)
			h.match[net.JoinHostPort(c.host, strconv.Itoa(int(netip.MustParseAddrPort(c.dst).Port())))] = true
			conn := h.dial(t, fmt.Sprintf("127.0.0.%d", 20+i), c.dst)
			msg := c.send(t)
			// Dribble the first bytes to exercise reassembly across reads.
			for _, part := range [][]byte{msg[:3], msg[3:10], msg[10:]} {
				if _, err := conn.Write(part); err != nil {
					t.Fatal(err)
				}
				time.Sleep(2 * time.Millisecond)
			}
			_ = conn.CloseWrite()
			d := <-ri.d
			if d.Action != Intercept || d.Reason != ReasonProviderHost || d.Host != c.host || d.Proto != c.proto || d.Dst.String() != c.dst {
				t.Fatalf("decision %+v", d)
			}
			if got := <-ri.got; !bytes.Equal(got, msg) {
				t.Fatalf("interceptor read %d bytes, client sent %d", len(got), len(msg))
			}
			waitFor(t, "intercepted connection released", func() bool { return h.srv.Active() == 0 })
		})
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRefuse: connections without a usable original destination are
// closed, never spliced to the listener itself.
func TestRefuse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		dst    func(h *harness) string
		reason Reason
	}{
		{"not redirected: destination is the listener", func(h *harness) string { return h.addr }, ReasonNotRedirected},
		{"no original destination", func(*harness) string { return "" }, ReasonNoOriginalDst},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, noIntercept{}, nil)
			conn := h.dial(t, fmt.Sprintf("127.0.0.%d", 30+i), c.dst(h))
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := conn.Read(make([]byte, 1)); n != 0 || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("read %d, %v: want the connection closed", n, err)
			}
			if d := h.decision(t, 1); d.Action != Refuse || d.Reason != c.reason {
				t.Fatalf("decision %+v, want refuse/%s", d, c.reason)
			}
		})
	}
}

// TestSpliceDialFailure: an unreachable destination closes the client's
// connection and reports the dial error.
func TestSpliceDialFailure(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	h := newHarness(t, noIntercept{}, nil)
	c := h.dial(t, "127.0.0.40", dead)
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: gone.test\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, _ := io.ReadAll(c); len(b) != 0 {
		t.Fatalf("read %q from a failed splice", b)
	}
	if d := h.decision(t, 1); d.Err == nil || d.Action != Refuse || d.Reason != ReasonDialFailed || d.Host != "gone.test" {
		t.Fatalf("decision %+v, want refuse/dial_failed with its error", d)
	}
}

// TestShutdownClosesLingering: Shutdown waits for spliced connections until
// its context ends, then closes them.
func TestShutdownClosesLingering(t *testing.T) {
	t.Parallel()
	up, _ := net.Listen("tcp", "127.0.0.1:0")
	defer up.Close()
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c) }() // never answers, never closes
		}
	}()
	h := newHarness(t, noIntercept{}, nil)
	c := h.dial(t, "127.0.0.41", up.Addr().String())
	_, _ = c.Write([]byte{0})
	waitFor(t, "splice open", func() bool { return h.srv.Active() == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := h.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want the deadline error", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("client read %v after Shutdown, want closed", err)
	}
	if h.srv.Active() != 0 {
		t.Fatalf("%d connections open after Shutdown", h.srv.Active())
	}
}

// TestSelfCaptureRefused: if rules send loopguard's own upstream
// connection back to the listener (loopguard's UID not excluded), the
// listener refuses it instead of looping.
func TestSelfCaptureRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, noIntercept{}, nil)
	// A second listener of the same server stands for "the original
	// destination, redirected back to loopguard".
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = h.srv.Serve(ln2) }()
	h.mu.Lock()
	h.dst[netip.MustParseAddr("127.0.0.1")] = netip.MustParseAddrPort("127.0.0.1:9") // whatever the rule said
	h.mu.Unlock()
	c := h.dial(t, "127.0.0.42", ln2.Addr().String())
	_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: loop.test\r\n\r\n"))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, _ := io.ReadAll(c); len(b) != 0 {
		t.Fatalf("read %q", b)
	}
	var self Decision
	waitFor(t, "the re-captured connection refused", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, d := range h.seen {
			if d.Reason == ReasonSelfCapture {
				self = d
				return true
			}
		}
		return false
	})
	if self.Action != Refuse || self.Err == nil {
		t.Fatalf("decision %+v, want refuse/self_capture with an explanation", self)
	}
	waitFor(t, "connections released", func() bool { return h.srv.Active() == 0 })
}

// TestOwnDialerForgetsClosed: OwnDialer's connections count as loopguard's
// own only while open.
func TestOwnDialerForgetsClosed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, noIntercept{}, nil)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	c, err := h.srv.OwnDialer(&net.Dialer{}).DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if !h.srv.isOwn(c.LocalAddr()) {
		t.Fatal("an open OwnDialer connection is not recognised")
	}
	_ = c.Close()
	if h.srv.isOwn(c.LocalAddr()) {
		t.Fatal("a closed OwnDialer connection is still recognised")
	}
}

// TestOwnGivenBeforeTheServer: connections dialed through an Own built
// before the server (the sidecar's pinned upstream) are the server's own
// once it is given that Own, and only while open.
func TestOwnGivenBeforeTheServer(t *testing.T) {
	own := NewOwn()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := own.Dialer(&net.Dialer{}).DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, noIntercept{}, func(o *Options) { o.Own = own })
	other := newHarness(t, noIntercept{}, nil)
	if !h.srv.isOwn(c.LocalAddr()) {
		t.Fatal("a connection of the server's Own is not recognised")
	}
	if other.srv.isOwn(c.LocalAddr()) {
		t.Fatal("a server with its own set recognises another set's connection")
	}
	_ = c.Close()
	if h.srv.isOwn(c.LocalAddr()) {
		t.Fatal("a closed connection is still recognised")
	}
}
