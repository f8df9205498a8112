package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os/signal"
	"strings"
	"syscall"

	"github.com/valyala/fasthttp"
)

// fastRPEnv makes the binary serve as a plain fasthttp reverse proxy
// ("LISTEN=TARGET_URL"): fasthttp's server in front of a fasthttp.HostClient
// to the app, with no filtering. Next to the Go reverse proxy it shows the
// ceiling an inbound path built on fasthttp could reach on this machine.
const fastRPEnv = "LOOPBENCH_FAST_REVERSE_PROXY"

// fastHopHeaders are removed from a forwarded request (RFC 9110 §7.6.1);
// fasthttp frames the body itself.
var fastHopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// serveFastRP runs the fasthttp baseline until SIGTERM.
func serveFastRP(spec string) error {
	listen, target, ok := strings.Cut(spec, "=")
	if !ok {
		return fmt.Errorf("%s=%q: want LISTEN=TARGET_URL", fastRPEnv, spec)
	}
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("fasthttp reverse proxy: target: %w", err)
	}
	hc := &fasthttp.HostClient{
		Addr:                          u.Host,
		MaxConns:                      goRPIdleConns,
		MaxIdleConnDuration:           clientIdleTimeout,
		ReadTimeout:                   clientTimeout,
		WriteTimeout:                  clientTimeout,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
	}
	handler := func(ctx *fasthttp.RequestCtx) {
		req := &ctx.Request
		for _, h := range fastHopHeaders {
			req.Header.Del(h)
		}
		ip, _, _ := net.SplitHostPort(ctx.RemoteAddr().String())
		if prior := req.Header.Peek("X-Forwarded-For"); len(prior) > 0 {
			ip = string(prior) + ", " + ip
		}
		req.Header.Set("X-Forwarded-For", ip)
		if err := hc.Do(req, &ctx.Response); err != nil {
			ctx.ResetBody()
			ctx.Error("bad gateway: "+err.Error(), fasthttp.StatusBadGateway)
			return
		}
		for _, h := range fastHopHeaders {
			ctx.Response.Header.Del(h)
		}
	}
	srv := &fasthttp.Server{
		Handler:                       handler,
		ReadTimeout:                   serverReadHeaderTimeout,
		IdleTimeout:                   serverIdleTimeout,
		DisableHeaderNamesNormalizing: true,
		NoDefaultServerHeader:         true,
		NoDefaultDate:                 true,
		NoDefaultContentType:          true,
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("fasthttp reverse proxy: listen: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		_ = srv.ShutdownWithContext(sctx)
	}()
	if err := srv.Serve(ln); err != nil {
		return fmt.Errorf("fasthttp reverse proxy: serve: %w", err)
	}
	return nil
}

// startFastRP starts the fasthttp baseline in front of app.
func startFastRP(ctx context.Context, app string) (*goRPProc, error) {
	return startBaselineProxy(ctx, fastRPEnv, "fasthttp reverse proxy", app)
}
