package proxy

import (
	"net"
	"net/http"
	"strings"

	"github.com/elazarl/goproxy"
	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/proxy/ca"
	"github.com/loopguard/loopguard/proxy/egress"
	"github.com/rs/zerolog"
)

// Outbound is the forward proxy the app uses as HTTP(S)_PROXY. CONNECTs to
// configured API hosts are intercepted with the deployment's CA; every other
// host is tunnelled untouched when the egress policy allows it.
type Outbound struct {
	gp    *goproxy.ProxyHttpServer
	hosts hostTable
	wr    *writer
	m     *Metrics
	// pull filters the responses of matched read routes.
	pull *puller
	// eg decides which destinations may be reached.
	eg *egress.Policy
	// pinned sends the requests of connections captured in transparent
	// mode to their original destinations; nil when that mode is off.
	pinned *http.Transport
	// mitm sets read deadlines inside intercepted CONNECTs; nil: none.
	mitm *mitmDeadlines
}

// outState is one intercepted request's state, from request to response:
// its upstream call (breaker, matched write) and, for a matched read, the
// pull filter's call.
type outState struct {
	call *outCall
	pull *pullCall
	conn *trackedConn // inside an intercepted CONNECT: its connection
	// ended: the response was handled in the round tripper (upstreamRT).
	ended bool
}

// hostTable maps "host" and "host:port" to a provider.
type hostTable map[string]*filters.Provider

func newHostTable(e *filters.Engine) hostTable {
	t := hostTable{}
	for _, p := range e.Providers() {
		for _, h := range p.Profile.Hosts {
			t[strings.ToLower(h)] = p
		}
	}
	return t
}

// lookup finds the provider of a host or host:port; an entry without a port
// matches any port.
func (t hostTable) lookup(hostport string) *filters.Provider {
	hp := strings.ToLower(hostport)
	if p, ok := t[hp]; ok {
		return p
	}
	if h, _, err := net.SplitHostPort(hp); err == nil {
		return t[h]
	}
	return nil
}

// OutboundOptions configure NewOutbound.
type OutboundOptions struct {
	// NonProxy serves requests that are not proxy requests (gateway mode
	// on the same listener); nil answers 404.
	NonProxy http.Handler

	// limits bound the bodies buffered and the reads inside intercepted
	// CONNECTs; nil: no bound.
	limits *limits
	// pinned sends the requests of connections captured in transparent
	// mode to their original destinations; nil when that mode is off.
	pinned *http.Transport
}

// NewOutbound builds the forward proxy.
func NewOutbound(e *filters.Engine, authority *ca.Authority, tr *http.Transport, eg *egress.Policy, wr *writer,
	m *Metrics, log zerolog.Logger, opts OutboundOptions) *Outbound {
	o := &Outbound{gp: goproxy.NewProxyHttpServer(), hosts: newHostTable(e), wr: wr, m: m, eg: eg,
		pull: newPuller(e, m, log, wr.maxBody, opts.limits.bodies()), mitm: opts.limits.mitmDeadlines(), pinned: opts.pinned}
	nonProxy := opts.NonProxy
	gp := o.gp
	gp.Tr = tr
	gp.Verbose = false
	gp.Logger = zlogPrintf{log}
	gp.KeepAcceptEncoding = true
	gp.CertStore = authority.Cache()
	if nonProxy == nil {
		nonProxy = http.NotFoundHandler()
	}
	gp.NonproxyHandler = nonProxy
	mitm := authority.ConnectAction()
	tunnel := &goproxy.ConnectAction{Action: goproxy.ConnectAccept}
	gp.OnRequest().HandleConnectFunc(func(host string, ctx *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) {
		if o.hosts.lookup(host) != nil {
			if rt := o.pinnedRoundTripper(ctx.Req.Context()); rt != nil {
				ctx.RoundTripper = rt // a captured connection (transparent mode)
			}
			if tc := o.mitm.connect(ctx.Req); tc != nil {
				ctx.UserData = tc // goproxy hands it to every request in the tunnel
			}
			return mitm, host
		}
		return o.checkTunnel(host, ctx, tunnel)
	})
	rt := &upstreamRT{o: o, next: egressRoundTripper{tr}}
	gp.OnRequest().DoFunc(func(req *http.Request, ctx *goproxy.ProxyCtx) (*http.Request, *http.Response) {
		if p, captured := ctx.RoundTripper.(pinnedRT); captured {
			ctx.RoundTripper = &upstreamRT{o: o, next: p}
		} else {
			ctx.RoundTripper = rt
		}
		conn, _ := ctx.UserData.(*trackedConn)
		o.mitm.request(conn)
		p := o.hosts.lookup(req.URL.Host)
		if p == nil {
			m.Outbound.WithLabelValues("", "passthrough").Inc()
			return req, nil
		}
		oc, local := wr.begin(req, p, req.URL.Host)
		if local != nil {
			return req, local
		}
		st := &outState{call: oc, conn: conn}
		if oc.write == nil {
			st.pull = o.pull.begin(req, p, req.URL.Host)
		}
		ctx.UserData = st
		return req, nil
	})
	gp.OnResponse().DoFunc(func(resp *http.Response, ctx *goproxy.ProxyCtx) *http.Response {
		switch st := ctx.UserData.(type) {
		case *outState:
			if !st.ended {
				o.end(ctx, st, resp)
			}
		case *trackedConn:
			o.mitm.response(st)
		}
		if resp == nil && wr.limits != nil && bodyTimedOut(ctx.Req) {
			// The app's body stopped at the read deadline: say so (408)
			// rather than goproxy's 500 naming the upstream.
			return wr.limits.readFailureResponse(ctx.Req, "", ctx.Error)
		}
		return resp
	})
	return o
}

// end records a call's response, filters a matched read's, and gives the
// next request in the tunnel its idle deadline.
func (o *Outbound) end(ctx *goproxy.ProxyCtx, st *outState, resp *http.Response) {
	st.ended = true
	o.mitm.response(st.conn)
	o.wr.end(ctx.Req.Context(), st.call, resp)
	o.pull.end(ctx.Req.Context(), st.pull, resp)
}

// upstreamRT sends the forward proxy's requests upstream. A buffered
// write's body goes as an in-memory reader (one write with the head, see
// outCall.upstreamBody), and the response is recorded and filtered here,
// before goproxy takes it: goproxy re-frames a response whose body a
// response handler replaced as chunked, which it writes inside an
// intercepted CONNECT as a TLS record (and a syscall) per chunk header,
// chunk and trailer; a body replaced here keeps its Content-Length.
type upstreamRT struct {
	o    *Outbound
	next goproxy.RoundTripper
}

func (t *upstreamRT) RoundTrip(req *http.Request, ctx *goproxy.ProxyCtx) (*http.Response, error) {
	st, _ := ctx.UserData.(*outState)
	if st == nil {
		return t.next.RoundTrip(req, ctx)
	}
	out := st.call.upstreamBody(req)
	resp, err := t.next.RoundTrip(out, ctx)
	releaseSent(req, out)
	if err == nil && resp != nil {
		t.o.end(ctx, st, resp)
	}
	return resp, err
}

// ServeHTTP implements http.Handler.
func (o *Outbound) ServeHTTP(w http.ResponseWriter, r *http.Request) { o.gp.ServeHTTP(w, r) }

// zlogPrintf adapts zerolog to goproxy's Printf logger.
type zlogPrintf struct{ log zerolog.Logger }

func (z zlogPrintf) Printf(format string, v ...any) { z.log.Debug().Msgf(format, v...) }
