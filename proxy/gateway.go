package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"

	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/proxy/egress"
	"github.com/rs/zerolog"
)

// Gateway serves apps that take an API base URL instead of a proxy: a path
// prefix per provider ("/hubspot/…") reverse-proxies to the provider's real
// base URL, with the same tagging and recording as the forward proxy. No CA
// is needed.
type Gateway struct {
	routes []gwRoute
	// rp relays requests that switch protocols (Upgrade); the others go
	// through forward (gateway_forward.go).
	rp   *httputil.ReverseProxy
	tr   http.RoundTripper
	bufs *bufferPool
	m    *Metrics
	wr   *writer
	log  zerolog.Logger
	// pull filters the responses of matched read routes.
	pull *puller
}

type gwRoute struct {
	prefix string
	p      *filters.Provider
	target *url.URL
}

type gwKey struct{}

type gwState struct {
	route *gwRoute
	call  *outCall
	pull  *pullCall
}

// NewGateway builds the gateway for every provider with a base_url. lim
// bounds the bodies it buffers (nil: no bound).
func NewGateway(e *filters.Engine, tr http.RoundTripper, wr *writer, lim *limits, m *Metrics, log zerolog.Logger) (*Gateway, error) {
	g := &Gateway{m: m, wr: wr, tr: tr, bufs: newBufferPool(), log: log, pull: newPuller(e, m, log, wr.maxBody, lim.bodies())}
	for _, p := range e.Providers() {
		if p.Profile.BaseURL == "" {
			continue
		}
		u, err := url.Parse(p.Profile.BaseURL)
		if err != nil {
			return nil, fmt.Errorf("gateway: provider %s: base_url: %w", p.Name, err)
		}
		g.routes = append(g.routes, gwRoute{prefix: strings.TrimSuffix(p.Profile.GatewayPrefix, "/"), p: p, target: u})
	}
	// Longest prefix first.
	sort.Slice(g.routes, func(i, j int) bool { return len(g.routes[i].prefix) > len(g.routes[j].prefix) })
	g.rp = &httputil.ReverseProxy{
		Transport:  gwTransport{tr},
		BufferPool: g.bufs,
		Rewrite: func(pr *httputil.ProxyRequest) {
			// ServeHTTP already set the API path (base path + the path
			// after the prefix) and tagged the request.
			st := pr.In.Context().Value(gwKey{}).(*gwState)
			pr.Out.URL.Scheme = st.route.target.Scheme
			pr.Out.URL.Host = st.route.target.Host
			pr.Out.Host = st.route.target.Host
		},
		ModifyResponse: func(resp *http.Response) error {
			if st, ok := resp.Request.Context().Value(gwKey{}).(*gwState); ok {
				wr.end(resp.Request.Context(), st.call, resp)
				g.pull.end(resp.Request.Context(), st.pull, resp)
			}
			return nil
		},
		ErrorHandler: g.upstreamError,
		ErrorLog:     nil,
	}
	return g, nil
}

// upstreamError answers a request the upstream call failed for: the
// egress refusal, the client's body timing out (408), else 502 or 504.
func (g *Gateway) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if de, ok := egress.AsDenied(err); ok {
		egress.WriteDenied(w, de) // logged and counted by the policy
		return
	}
	if bodyTimedOut(r) && g.wr.limits != nil {
		g.wr.limits.answerReadFailure(w, r, "", err)
		return
	}
	g.log.Warn().Err(err).Str("path", r.URL.Path).Msg("gateway upstream error")
	http.Error(w, "loopguard gateway: upstream error", statusForUpstreamError(err))
}

// gwTransport sends a buffered write's body as an in-memory reader (see
// outCall.upstreamBody): ReverseProxy hands the transport a wrapper it
// cannot see through. The body's reservation is given back in ServeHTTP.
type gwTransport struct{ tr http.RoundTripper }

func (t gwTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if st, ok := req.Context().Value(gwKey{}).(*gwState); ok {
		req = st.call.upstreamBody(req)
	}
	return t.tr.RoundTrip(req)
}

// Empty reports a gateway without routes.
func (g *Gateway) Empty() bool { return len(g.routes) == 0 }

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for i := range g.routes {
		rt := &g.routes[i]
		rest, ok := strings.CutPrefix(r.URL.Path, rt.prefix)
		if !ok || (rest != "" && rest[0] != '/') {
			continue
		}
		g.m.Outbound.WithLabelValues(rt.p.Name, "gateway").Inc()
		if !wantsUpgrade(r.Header) {
			g.serve(w, r, rt, rest)
			return
		}
		st := &gwState{route: rt}
		r2 := r.Clone(context.WithValue(r.Context(), gwKey{}, st))
		r2.URL.Path = strings.TrimSuffix(rt.target.Path, "/") + rest
		r2.URL.RawPath = ""
		if r2.URL.Path == "" {
			r2.URL.Path = "/"
		}
		oc, local := g.wr.begin(r2, rt.p, rt.target.Host)
		if local != nil {
			writeResponse(w, local)
			return
		}
		st.call = oc
		if oc.write == nil {
			st.pull = g.pull.begin(r2, rt.p, rt.target.Host)
		}
		g.rp.ServeHTTP(w, r2)
		// ReverseProxy (Go 1.26) hands the transport a body whose Close does
		// nothing: the body's reservation is given back here, once the
		// upstream call and the answer are done.
		if rb, ok := r2.Body.(*releasingBody); ok {
			rb.l.release()
		}
		return
	}
	http.Error(w, "loopguard: no provider gateway prefix matches "+r.URL.Path, http.StatusNotFound)
}

// serve tags or records one request through the gateway's own forwarder.
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, rt *gwRoute, rest string) {
	st := &gwState{route: rt}
	t1 := &gw1xx{w: w}
	t1.trace.Got1xxResponse = t1.got
	out := gwOutRequest(httptrace.WithClientTrace(r.Context(), &t1.trace), r, rt, rest)
	oc, local := g.wr.begin(out, rt.p, rt.target.Host)
	if local != nil {
		writeResponse(w, local)
		return
	}
	st.call = oc
	if oc.write == nil {
		st.pull = g.pull.begin(out, rt.p, rt.target.Host)
	}
	defer func() {
		// The body's reservation is given back once the upstream call and
		// the answer are done (also when the answer was cut).
		if rb, ok := out.Body.(*releasingBody); ok {
			rb.l.release()
		}
	}()
	g.forward(w, out, st, t1)
}

// writeResponse writes a locally built response.
func writeResponse(w http.ResponseWriter, resp *http.Response) {
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
	_ = resp.Body.Close()
}
