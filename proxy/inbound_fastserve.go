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
	"os"

	"github.com/valyala/fasthttp"
)

// fastPrefetch is the most of a body fasthttp reads before the handler
// runs (its pre-read is min(this, Content-Length)): one byte, so the
// in-flight budget is reserved before the body is read.
const fastPrefetch = 1

// fastHeaderBytes bounds a request's header under fasthttp (its read
// buffer; net/http's bound is 1 MiB): a larger header is answered 431.
const fastHeaderBytes = 64 << 10

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
	}
}

func markServed(ctx *fasthttp.RequestCtx) {
	if tc, ok := ctx.Conn().(*trackedConn); ok {
		tc.served.Store(true)
	}
}

// fastError answers what fasthttp could not read as net/http's server
// would: a read that timed out before the header was whole closes the
// connection without an answer; one that timed out in the body's first
// byte is a 408 counted as read_timeout (as bufferDelivery's); other
// malformed requests get 400.
func (lim *limits) fastError(ctx *fasthttp.RequestCtx, err error) {
	headerIn := len(ctx.Request.Header.RequestURI()) > 0
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if !headerIn {
			_ = ctx.Conn().Close()
			return
		}
		markServed(ctx)
		lim.reject("inbound", "read_timeout", "", err.Error())
		fastText(ctx, http.StatusRequestTimeout, "loopguard: request body not received (read_timeout)\n")
		return
	}
	if headerIn {
		markServed(ctx)
	}
	var big *fasthttp.ErrSmallBuffer
	if errors.As(err, &big) {
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

// serveFast serves ln with srv until Shutdown.
func (s *Sidecar) serveFast(name string, ln net.Listener, srv *fasthttp.Server) {
	s.mu.Lock()
	s.fastServers = append(s.fastServers, srv)
	s.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil {
			s.log.Error().Err(err).Str("listener", name).Msg("serve failed")
		}
	}()
}

// shutdownFast drains a fasthttp server as http.Server.Shutdown does.
func shutdownFast(ctx context.Context, srv *fasthttp.Server) error {
	return srv.ShutdownWithContext(ctx)
}
