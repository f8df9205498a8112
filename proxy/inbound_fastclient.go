package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// appClient forwards judged deliveries to the app through fasthttp's
// HostClient and everything else through net/http's Transport (slow).
//
// A judged delivery's body is in memory (delivery.body, the bytes the
// filters saw or their rewrite): it is written as is, without a copy, and
// the request head and body leave in one write. Header names go out as
// the inbound server handed them over; the app's answer streams back
// (bounded memory whatever its size), its header names canonical as
// net/http's would be. Requests it does not take — not a delivery, an
// oversize or busy delivery streaming through a spill, an upgrade, an
// https app_url — keep net/http's semantics (context cancellation,
// streaming request bodies, 101 upgrades, trailers).
//
// inbound.app_timeout bounds a forward through fasthttp from its first
// byte written to the last byte of the answer read (net/http: to the
// answer's head); fasthttp does not watch the provider's context, so a
// provider that hangs up does not cut the forward short.
type appClient struct {
	hc   *fasthttp.HostClient
	slow http.RoundTripper
}

// appClientMaxConns bounds the connections to the app (net/http's
// transport keeps 256 idle per host and opens as many as it needs).
const appClientMaxConns = 1024

// newAppClient builds the forwarder for app (an http URL: others get slow
// alone, see appClient).
func newAppClient(app *url.URL, timeout time.Duration, slow http.RoundTripper) *appClient {
	c := &appClient{slow: slow}
	if app == nil || app.Scheme != "http" {
		return c
	}
	addr := app.Host
	if app.Port() == "" {
		addr = net.JoinHostPort(app.Hostname(), "80")
	}
	c.hc = &fasthttp.HostClient{
		Addr:                          addr,
		MaxConns:                      appClientMaxConns,
		MaxIdleConnDuration:           idleAppConn,
		ReadTimeout:                   timeout,
		WriteTimeout:                  timeout,
		MaxConnWaitTimeout:            timeout,
		StreamResponseBody:            true,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		NoDefaultUserAgentHeader:      true,
		// A delivery is not idempotent: never sent twice by the client.
		RetryIfErr: func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
	}
	return c
}

// idleAppConn is how long an unused connection to the app is kept.
const idleAppConn = 90 * time.Second

// RoundTrip implements http.RoundTripper.
func (c *appClient) RoundTrip(r *http.Request) (*http.Response, error) {
	d, ok := r.Context().Value(inKey{}).(*delivery)
	if c.hc == nil || !ok || d.spill != nil || d.req == nil || r.Header.Get("Upgrade") != "" ||
		r.Method == http.MethodHead || r.Trailer != nil || r.ContentLength != int64(len(d.body)) {
		return c.slow.RoundTrip(r)
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.DisableNormalizing()
	req.Header.SetMethod(r.Method)
	req.SetRequestURI(r.URL.RequestURI())
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	req.Header.SetHost(host)
	for k, vs := range r.Header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Expect":
			// Framing is fasthttp's; the body is in hand, so there is no
			// 100-continue to wait for.
			continue
		case "User-Agent":
			// ReverseProxy sets an empty one so that none is sent.
			if len(vs) == 1 && vs[0] == "" {
				continue
			}
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.SetBodyRaw(d.body)
	resp := fasthttp.AcquireResponse()
	resp.Header.SetNoDefaultContentType(true)
	if err := c.hc.Do(req, resp); err != nil {
		fasthttp.ReleaseResponse(resp)
		if errors.Is(err, fasthttp.ErrTimeout) {
			return nil, fmt.Errorf("forward to the app: %w (%w)", err, context.DeadlineExceeded)
		}
		return nil, fmt.Errorf("forward to the app: %w", err)
	}
	return toHTTPResponse(r, resp), nil
}

// toHTTPResponse hands the app's answer to ReverseProxy; its body streams
// from the connection until closed.
func toHTTPResponse(r *http.Request, resp *fasthttp.Response) *http.Response {
	code := resp.StatusCode()
	h := make(http.Header, resp.Header.Len())
	for k, v := range resp.Header.All() {
		key := http.CanonicalHeaderKey(string(k))
		h[key] = append(h[key], string(v))
	}
	n := int64(resp.Header.ContentLength())
	if n < 0 {
		n = -1
		delete(h, "Content-Length")
	}
	return &http.Response{
		Status: strconv.Itoa(code) + " " + http.StatusText(code), StatusCode: code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, ContentLength: n, Request: r,
		Body: &fastBody{resp: resp},
	}
}

// fastBody is a streamed fasthttp answer; Close gives the connection back
// (or closes it when the answer was not read to its end).
type fastBody struct {
	once sync.Once
	resp *fasthttp.Response
}

func (b *fastBody) Read(p []byte) (int, error) {
	s := b.resp.BodyStream()
	if s == nil {
		return 0, io.EOF
	}
	return s.Read(p)
}

func (b *fastBody) Close() error {
	var err error
	b.once.Do(func() {
		err = b.resp.CloseBodyStream()
		fasthttp.ReleaseResponse(b.resp)
	})
	return err
}
