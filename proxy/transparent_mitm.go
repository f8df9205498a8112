package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"

	"github.com/elazarl/goproxy"
	"github.com/loopguard/loopguard/proxy/transparent"
)

// mitmHandoff sends connections the transparent listener captured for a
// provider host into the outbound proxy's own MITM path: it presents each
// one to goproxy as if the app had sent "CONNECT host:port" on it, so
// tagging, recording, pull filtering and the breaker run exactly as in
// proxy mode, through the same handlers. The only difference is where the
// upstream calls go: to the connection's original destination (the address
// the app itself resolved and dialed), see pinnedRoundTripper.
type mitmHandoff struct{ o *Outbound }

var _ transparent.Interceptor = mitmHandoff{}

// connectOK is the reply goproxy writes to an HTTP/1.1 CONNECT before it
// starts the MITM; a captured client never sent a CONNECT, so the reply is
// swallowed.
var connectOK = []byte("HTTP/1.1 200 OK\r\n\r\n")

// pinKey carries a captured connection's original destination in the
// synthetic CONNECT's context and in each upstream request's context.
type pinKey struct{}

// Intercept implements transparent.Interceptor.
func (h mitmHandoff) Intercept(c net.Conn, d transparent.Decision) {
	hostport := net.JoinHostPort(d.Host, strconv.Itoa(int(d.Dst.Port())))
	req := &http.Request{
		Method: http.MethodConnect, URL: &url.URL{Host: hostport}, Host: hostport,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: http.NoBody, RemoteAddr: d.Client,
	}
	req = req.WithContext(context.WithValue(context.Background(), pinKey{}, d.Dst))
	h.o.ServeHTTP(&hijackWriter{conn: &swallowReply{Conn: c}}, req)
}

// pinnedRoundTripper returns, for a CONNECT synthesised by mitmHandoff, the
// round tripper that sends the tunnel's requests to its original
// destination; nil for an app's own CONNECT (proxy mode, unchanged).
func (o *Outbound) pinnedRoundTripper(ctx context.Context) goproxy.RoundTripper {
	dst, ok := ctx.Value(pinKey{}).(netip.AddrPort)
	if !ok || o.pinned == nil {
		return nil
	}
	return pinnedRT{tr: o.pinned, dst: dst}
}

// pinnedRT is the round tripper of a captured connection's requests. A
// destination the egress policy refuses is answered with the refusal (403
// and its reason), as in proxy mode.
type pinnedRT struct {
	tr  *http.Transport
	dst netip.AddrPort
}

func (p pinnedRT) RoundTrip(req *http.Request, ctx *goproxy.ProxyCtx) (*http.Response, error) {
	return egressRoundTripper{p.tr}.RoundTrip(req.WithContext(context.WithValue(req.Context(), pinKey{}, p.dst)), ctx)
}

// errNotPinned: the pinned transport dials only original destinations.
var errNotPinned = errors.New("transparent upstream: request carries no original destination")

// newPinnedTransport clones the upstream transport (same roots, timeouts,
// pool sizes) with a DialContext that ignores the request's host and dials
// the original destination the request carries, through d. TLS still
// verifies the upstream's certificate for the request's host name. Its
// connection pool is its own: proxy-mode requests never reuse a
// connection dialed for a captured one. (Within it, connections are pooled
// by host, as any transport's: two captured connections to the same
// provider host may share an upstream connection.)
func newPinnedTransport(base *http.Transport, d transparent.Dialer) *http.Transport {
	tr := base.Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		dst, ok := ctx.Value(pinKey{}).(netip.AddrPort)
		if !ok {
			return nil, errNotPinned
		}
		return d.DialContext(ctx, network, dst.String())
	}
	return tr
}

// hijackWriter is the ResponseWriter of a synthetic CONNECT: goproxy
// hijacks it at once for a MITM. Anything written without hijacking (an
// error goproxy answers before) has no reader and ends the connection.
type hijackWriter struct {
	conn   net.Conn
	header http.Header
	once   sync.Once
}

func (w *hijackWriter) Header() http.Header {
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}

func (w *hijackWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}

// WriteHeader without a hijack means goproxy did not take the connection:
// close it so the client sees the failure.
func (w *hijackWriter) WriteHeader(int) { w.once.Do(func() { _ = w.conn.Close() }) }

// Hijack hands goproxy the captured connection; nothing is buffered yet.
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.conn, bufio.NewReadWriter(bufio.NewReaderSize(w.conn, 16), bufio.NewWriterSize(w.conn, 16)), nil
}

// swallowReply drops goproxy's CONNECT reply, the first write, when it is
// exactly connectOK; every other byte passes.
type swallowReply struct {
	net.Conn
	mu   sync.Mutex
	done bool
}

func (c *swallowReply) Write(p []byte) (int, error) {
	c.mu.Lock()
	first := !c.done
	c.done = true
	c.mu.Unlock()
	if first && bytes.Equal(p, connectOK) {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// CloseWrite keeps half-close available through the wrapper.
func (c *swallowReply) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}
