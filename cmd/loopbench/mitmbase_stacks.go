package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

// The HTTP stacks of the minimal MITM baseline (mitmbase.go). Each serves
// the intercepted *tls.Conn of a CONNECT to target (host:port) and
// forwards every request to https://target, copying the answer back, with
// no tagging, no recording and no buffering beyond the stack's own.

// mitmTargetKey is the context key of a connection's CONNECT target in
// the nethttp mode.
type mitmTargetKey struct{}

// serveMITMNetHTTP serves every intercepted connection with one
// http.Server (fed through a channel listener) and an
// httputil.ReverseProxy on tr; close stops the server.
func serveMITMNetHTTP(tr *http.Transport) (serve func(*tls.Conn, string), closeFn func()) {
	ln := &chanListener{conns: make(chan net.Conn), done: make(chan struct{})}
	var targets sync.Map // *tls.Conn → target, until the server takes the connection
	quiet := log.New(io.Discard, "", 0)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "https"
			pr.Out.URL.Host, _ = pr.In.Context().Value(mitmTargetKey{}).(string)
		},
		Transport:  tr,
		BufferPool: &bytePool{},
		ErrorLog:   quiet,
	}
	srv := &http.Server{
		Handler: rp, ReadHeaderTimeout: serverReadHeaderTimeout, IdleTimeout: serverIdleTimeout, ErrorLog: quiet,
		// HTTP/1.1 only: the client-facing config offers no h2.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			t, _ := targets.LoadAndDelete(c)
			return context.WithValue(ctx, mitmTargetKey{}, t)
		},
	}
	go func() { _ = srv.Serve(ln) }()
	serve = func(c *tls.Conn, target string) {
		targets.Store(c, target)
		select {
		case ln.conns <- c: // the server handshakes and serves it
		case <-ln.done:
			targets.Delete(c)
			_ = c.Close()
		}
	}
	return serve, func() { ln.close(); _ = srv.Close() }
}

// chanListener hands connections accepted elsewhere to an http.Server.
type chanListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) close() { l.once.Do(func() { close(l.done) }) }

func (l *chanListener) Close() error { l.close(); return nil }

func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// bytePool is the reverse proxy's copy buffer pool (without one it
// allocates 32 KiB per request).
type bytePool struct{ p sync.Pool }

func (b *bytePool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bytePool) Put(buf []byte) { b.p.Put(&buf) }

// serveMITMLean serves each intercepted connection with its own loop:
// http.ReadRequest, tr.RoundTrip, Response.Write.
func serveMITMLean(tr http.RoundTripper) func(*tls.Conn, string) {
	return func(c *tls.Conn, target string) {
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), mitmHandshakeTimeout)
		err := c.HandshakeContext(ctx)
		cancel()
		if err != nil {
			return
		}
		br, bw := bufio.NewReader(c), bufio.NewWriter(c)
		for leanExchange(tr, br, bw, target) {
		}
	}
}

// leanExchange forwards one request read from br and writes the answer to
// bw; false closes the connection.
func leanExchange(tr http.RoundTripper, br *bufio.Reader, bw *bufio.Writer, target string) bool {
	req, err := http.ReadRequest(br)
	if err != nil {
		return false
	}
	req.URL.Scheme, req.URL.Host, req.RequestURI = "https", target, ""
	var body *watchedBody
	if req.Body != http.NoBody {
		body = &watchedBody{rc: req.Body, closed: make(chan struct{})}
		req.Body = body
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		_, _ = io.WriteString(bw, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		_ = bw.Flush()
		return false
	}
	err = resp.Write(bw)
	_ = resp.Body.Close()
	if err == nil {
		err = bw.Flush()
	}
	if err != nil || req.Close || resp.Close {
		return false
	}
	if body == nil {
		return true
	}
	// The transport may still read the body after RoundTrip returned: the
	// next request is read from br only once it closed the body, and only
	// if it read all of it.
	<-body.closed
	return body.eof.Load()
}

// watchedBody is a request body that tells when the transport closed it
// and whether it was read to the end.
type watchedBody struct {
	rc     io.ReadCloser
	eof    atomic.Bool
	once   sync.Once
	closed chan struct{}
}

func (w *watchedBody) Read(p []byte) (int, error) {
	n, err := w.rc.Read(p)
	if err == io.EOF {
		w.eof.Store(true)
	}
	return n, err
}

func (w *watchedBody) Close() error {
	w.once.Do(func() { close(w.closed) })
	return nil
}

// targetConn is an intercepted connection with its CONNECT target, for the
// fasthttp handler (it keeps *tls.Conn's methods, so fasthttp sees TLS).
type targetConn struct {
	*tls.Conn
	target string
}

// serveMITMFast serves each intercepted connection with fasthttp's
// ServeConn and forwards through a HostClient per target.
func serveMITMFast(upTLS *tls.Config) func(*tls.Conn, string) {
	var mu sync.Mutex
	clients := map[string]*fasthttp.HostClient{}
	client := func(target string) *fasthttp.HostClient {
		mu.Lock()
		defer mu.Unlock()
		hc, ok := clients[target]
		if !ok {
			hc = &fasthttp.HostClient{
				Addr: target, IsTLS: true, TLSConfig: upTLS,
				MaxConns: mitmIdleConns, MaxIdleConnDuration: clientIdleTimeout,
				ReadTimeout: clientTimeout, WriteTimeout: clientTimeout,
				DisableHeaderNamesNormalizing: true, DisablePathNormalizing: true,
			}
			clients[target] = hc
		}
		return hc
	}
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			tc, _ := ctx.Conn().(*targetConn)
			if tc == nil {
				ctx.Error("bad gateway: no CONNECT target", fasthttp.StatusBadGateway)
				return
			}
			req := &ctx.Request
			for _, h := range fastHopHeaders {
				req.Header.Del(h)
			}
			if err := client(tc.target).Do(req, &ctx.Response); err != nil {
				ctx.ResetBody()
				ctx.Error("bad gateway: "+err.Error(), fasthttp.StatusBadGateway)
				return
			}
			for _, h := range fastHopHeaders {
				ctx.Response.Header.Del(h)
			}
		},
		ReadTimeout: serverReadHeaderTimeout, IdleTimeout: serverIdleTimeout,
		DisableHeaderNamesNormalizing: true, NoDefaultServerHeader: true, NoDefaultDate: true, NoDefaultContentType: true,
	}
	return func(c *tls.Conn, target string) {
		_ = srv.ServeConn(&targetConn{Conn: c, target: target})
	}
}
