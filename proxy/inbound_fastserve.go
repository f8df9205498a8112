package proxy

// The inbound listener served by fasthttp (inbound.server: fasthttp). A
// judged delivery whose length is known and within inbound.max_body_bytes
// is read and forwarded on fasthttp's types (inbound_native.go); every
// other request goes to the same net/http handler the net/http server
// runs (limits.handler around Inbound), its body streamed from the
// connection (fastserve_bridge.go). The listener keeps net/http's limits:
// the connection bound (limits.listen), the header read deadline (the
// server's ReadTimeout), the body read deadline (set once the header is in,
// by HeaderReceived) with its 408, the idle timeout, the "served" mark of
// each connection, and Shutdown's drain.

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// fastPrefetch is the most of a body fasthttp reads before the handler
// runs (its pre-read is min(this, Content-Length)): one byte, so the
// in-flight budget is reserved before the body is read.
const fastPrefetch = 1

// fastHeaderBytes bounds a request's header under fasthttp (its read
// buffer, held by every open connection; net/http's bound is 1 MiB): a
// larger header is answered 431.
const fastHeaderBytes = 16 << 10

// inboundFastServer builds the fasthttp server of the inbound listener.
func (s *Sidecar) inboundFastServer() *fasthttp.Server {
	in, lim := s.Inbound, s.limits
	h := lim.handler("inbound", in)
	bodyTimeout := lim.cfg.BodyReadTimeout.D()
	return &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			markServed(ctx)
			if in.serveNative(ctx, h) {
				return
			}
			serveBridged(ctx, h, ctx.RequestBodyStream())
		},
		HeaderReceived: func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
			return fasthttp.RequestConfig{ReadTimeout: bodyTimeout, MaxRequestBodySize: fastPrefetch}
		},
		ErrorHandler:                 lim.fastError,
		ReadTimeout:                  lim.cfg.HeaderReadTimeout.D(),
		IdleTimeout:                  lim.cfg.IdleTimeout.D(),
		ReadBufferSize:               fastHeaderBytes,
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		NoDefaultDate:                true,
		Logger:                       fastLogger{},
		// A worker left idle ends after this (fasthttp's default is 10s):
		// goroutines go back to their base soon after a flood.
		MaxIdleWorkerDuration: time.Second,
	}
}

func markServed(ctx *fasthttp.RequestCtx) {
	if tc, ok := ctx.Conn().(*trackedConn); ok {
		tc.served.Store(true)
	}
}

// fastError answers what fasthttp could not read as net/http's server
// would: a connection that sent nothing, or whose header did not arrive
// whole in time, is closed without an answer (and counts as idle, never
// served); a body whose first byte did not come by the read deadline is a
// 408 counted as read_timeout (bufferDelivery's answer); other malformed
// requests get 400 (431 for a header over fastHeaderBytes).
func (lim *limits) fastError(ctx *fasthttp.RequestCtx, err error) {
	// fasthttp wraps every failed header read so (v1.79 header.go); a
	// connection that sent nothing has no header at all.
	inHeader := len(ctx.Request.Header.RawHeaders()) == 0 || strings.HasPrefix(err.Error(), "error when reading request headers")
	if isReadTimeout(err) {
		if inHeader {
			_ = ctx.Conn().Close()
			return
		}
		markServed(ctx)
		lim.reject("inbound", "read_timeout", "", err.Error())
		fastText(ctx, http.StatusRequestTimeout, "loopguard: request body not received (read_timeout)\n")
		return
	}
	if !inHeader {
		markServed(ctx)
	}
	var big *fasthttp.ErrSmallBuffer
	if errors.As(err, &big) || errors.Is(err, fasthttp.ErrSmallReadBuffer) {
		fastText(ctx, http.StatusRequestHeaderFieldsTooLarge, "431 Request Header Fields Too Large")
		return
	}
	fastText(ctx, http.StatusBadRequest, "400 Bad Request")
}

func fastText(ctx *fasthttp.RequestCtx, status int, msg string) {
	startHeader(&ctx.Response.Header, nowDate())
	ctx.Response.Header.Set("Content-Type", "text/plain; charset=utf-8")
	ctx.SetConnectionClose()
	ctx.SetStatusCode(status)
	ctx.SetBodyString(msg)
}

// fastLogger drops fasthttp's own log lines (net/http's ErrorLog is nil
// too: refusals are counted and logged by limits).
type fastLogger struct{}

func (fastLogger) Printf(string, ...any) {}

// fastListener is a listener served by fasthttp.
type fastListener struct {
	srv  *fasthttp.Server
	ln   net.Listener
	stop atomic.Bool
}

// serveFast serves ln with srv until Shutdown.
func (s *Sidecar) serveFast(name string, ln net.Listener, srv *fasthttp.Server) {
	fl := &fastListener{srv: srv, ln: ln}
	s.mu.Lock()
	s.fastServers = append(s.fastServers, fl)
	s.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !fl.stop.Load() {
			s.log.Error().Err(err).Str("listener", name).Msg("serve failed")
		}
	}()
}

// shutdown drains the server as http.Server.Shutdown does: no new
// connections, idle ones closed, until the in-flight ones end or ctx does.
// The listener is closed here as well, so a Serve that had not started yet
// (a Start that failed part way) returns at once.
func (fl *fastListener) shutdown(ctx context.Context) error {
	fl.stop.Store(true)
	_ = fl.ln.Close()
	if err := fl.srv.ShutdownWithContext(ctx); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
