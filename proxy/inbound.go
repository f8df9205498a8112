package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/signature"
	"github.com/loopguard/loopguard/filters/spool"
	"github.com/rs/zerolog"
)

// Inbound is the reverse proxy in front of the app's webhook endpoints.
// Deliveries on configured webhook routes are judged (filters.Judge: split
// into events, echoes removed, events that must wait held); every other
// request streams to the app untouched. The app's answer goes back to the
// provider unchanged, so provider retries keep working. Inbound itself
// only matches, reads, verifies, does the spool's I/O and answers.
type Inbound struct {
	// native counts the deliveries the fasthttp listener judged natively
	// (inbound_native.go).
	native atomic.Uint64
	// deliveries numbers the deliveries judged (Decision.Delivery).
	deliveries atomic.Uint64
	engine     *filters.Engine
	judge      *filters.Judge
	embedded   bool // the ledger is the in-process one (no store deadline)
	providers  []*inProvider
	rp         *httputil.ReverseProxy
	m          *Metrics
	log        zerolog.Logger
	ring       *DecisionRing
	maxBody    int64
	holder     *holder // nil: nothing is held
	latency    *observers
	limits     *limits        // nil: no in-flight bound (tests)
	direct     *directForward // nil: deliveries go through rp
}

type inProvider struct {
	p      *filters.Provider
	scheme signature.Scheme // nil: no secret configured, markers are trusted
}

type inKey struct{}

// delivery is the per-request state handed to ModifyResponse.
type delivery struct {
	ip      *inProvider
	route   *filters.WebhookRoute // nil: not judged (oversize, busy)
	j       *filters.Judgement    // nil: not judged
	req     *http.Request         // the provider's request, as forwarded
	body    []byte                // the body forwarded to the app
	outcome string                // the last outcome counted (latency histogram)
	// trust is whether the delivery's signature verified; a held copy
	// keeps it (an untrusted one is replayed untouched, never accepted).
	trust spool.Verification
	// spill holds the body of an oversize delivery streamed to the app
	// (body is nil then); see serveSpilled.
	spill *spill
}

// InboundOptions configure NewInbound.
type InboundOptions struct {
	AppURL  *url.URL
	MaxBody int64
	Ring    *DecisionRing
	Observe bool

	guard  *filters.Guard // nil: no loop detector or breaker holds
	limits *limits        // nil: no in-flight bound (tests)
	hold   *holdOptions   // nil: nothing is held
}

// NewInbound builds the inbound proxy.
func NewInbound(e *filters.Engine, tr http.RoundTripper, m *Metrics, log zerolog.Logger, opts InboundOptions) (*Inbound, error) {
	in := &Inbound{engine: e, m: m, log: log, ring: opts.Ring, maxBody: opts.MaxBody,
		latency: newObservers(m.InboundDuration), limits: opts.limits}
	_, in.embedded = e.Store().(*ledger.Memory)
	for _, p := range e.Providers() {
		ip := &inProvider{p: p}
		sig := p.Profile.Signature
		if sig.Scheme != "" && sig.Secret.Value() != "" {
			s, err := signature.New(signature.Config{
				Scheme: sig.Scheme, Secret: sig.Secret.Value(), Header: sig.Header, Encoding: sig.Encoding,
				Prefix: sig.Prefix, TimestampHeader: sig.TimestampHeader, Payload: sig.Payload, Tolerance: sig.Tolerance.D(),
			})
			if err != nil {
				return nil, fmt.Errorf("inbound: provider %s: signature: %w", p.Name, err)
			}
			ip.scheme = s
			m.UnsignedTrusted.WithLabelValues(p.Name).Set(0)
		} else if sig.Scheme != "" {
			// configs.Load refuses this without trust_unsigned; so does a
			// configuration built in code.
			if !configs.UnsignedTrusted(p.Profile) {
				return nil, fmt.Errorf("inbound: provider %s: signature.secret: required for scheme %q (or set signature.trust_unsigned: true)", p.Name, sig.Scheme)
			}
			log.Warn().Str("provider", p.Name).Str("scheme", sig.Scheme).
				Msg("signature.trust_unsigned: deliveries are not verified; anyone who reaches the inbound listener can forge events, ids and markers that the app accepts")
			m.UnsignedTrusted.WithLabelValues(p.Name).Set(1)
		}
		in.providers = append(in.providers, ip)
	}
	target := opts.AppURL
	bufs := newBufferPool()
	in.direct = newDirectForward(tr, target, bufs)
	in.rp = &httputil.ReverseProxy{
		Transport: tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		ModifyResponse: in.modifyResponse,
		ErrorHandler:   in.errorHandler,
		// 0: no periodic flushing of small webhook answers; ReverseProxy
		// still flushes at once for streamed (unknown-length) responses.
		FlushInterval: 0,
		BufferPool:    bufs,
	}
	jo := filters.JudgeOptions{Observe: opts.Observe, Guard: opts.guard}
	if h := opts.hold; h != nil {
		// The holder replays into this proxy's providers (their signature
		// schemes re-sign) and records what the app accepted.
		in.holder = newHolder(h.spool, in, h.app, h.tr, h.ready, h.cfg, m, log)
		jo.Backlog = in.holder // (a nil *holder must not become a non-nil Backlog)
	}
	in.judge = filters.NewJudge(e, jo)
	return in, nil
}

func (in *Inbound) match(r *http.Request) (*inProvider, *filters.WebhookRoute) {
	for _, ip := range in.providers {
		if rt, ok := ip.p.MatchWebhook(r.Method, r.URL.Path); ok {
			return ip, rt
		}
	}
	return nil, nil
}

func isHandshake(p *filters.Provider, r *http.Request) bool {
	for _, h := range p.Profile.Handshakes {
		if h.Header != "" && r.Header.Get(h.Header) != "" {
			return true
		}
		if h.Query != "" && r.URL.Query().Has(h.Query) {
			return true
		}
	}
	return false
}

// ServeHTTP implements http.Handler.
func (in *Inbound) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ip, route := in.match(r)
	if ip == nil {
		in.rp.ServeHTTP(w, r)
		return
	}
	p := ip.p
	tr := inTrace{start: time.Now()}
	d := &delivery{ip: ip}
	defer in.finish(d, route, &tr)
	if isHandshake(p, r) {
		in.whole(&tr, p.Name, "handshake", filters.ReasonHandshake, "verification request passed to the app")
		in.rp.ServeHTTP(w, r)
		return
	}
	body, release, done := in.bufferDelivery(w, r, ip, &tr)
	if done {
		return
	}
	defer release()
	var why string
	d.trust, why = in.verify(ip, r, body)
	d.route = route
	d.j = in.judge.Judge(r.Context(), filters.Delivery{Provider: p, Route: route, Body: body, Header: r.Header,
		Verification: d.trust, Why: why, ID: deliveryID(in.deliveries.Add(1))})
	j := d.j
	if j.Err != nil {
		outcome := j.Whole.Reason.String() // malformed or too_deep
		in.counted(&tr.outcome, p.Name, outcome)
		in.report(j.Whole)
		in.m.Doubts.WithLabelValues(p.Name, outcome).Inc()
		// Not judged, but still held if the app fails it (hold policy).
		tr.set(in.forward(w, r, body, d))
		return
	}
	if j.SettleErr != nil {
		in.log.Warn().Err(j.SettleErr).Str(fieldProvider, p.Name).Msg("settle echoed writes failed")
		in.m.Doubts.WithLabelValues(p.Name, "store_error").Inc()
	}
	if len(j.Holds) > 0 && !in.holdEvents(w, r, d) {
		in.reportAll(j)
		tr.outcome = "hold_failed"
		if !in.holdsForApp(ip) {
			tr.outcome = "rejected_held"
		}
		return
	}
	switch kept := j.Kept(); {
	case kept == 0 && len(j.Events) > 0:
		in.reportAll(j)
		a := localAnswer{kind: answerDropped, route: route, events: len(j.Events)}
		outcome := "all_echoes"
		if len(j.Holds) > 0 {
			a.kind, outcome = answerHeld, "held"
		}
		in.counted(&tr.outcome, p.Name, outcome)
		a.write(w)
	case kept < len(j.Events):
		tr.set(in.forwardRewritten(w, r, d, &tr))
	default:
		in.reportAll(j)
		in.counted(&tr.outcome, p.Name, "forwarded")
		tr.set(in.forward(w, r, body, d))
	}
}

// forwardRewritten forwards what of a delivery is kept: its body
// rewritten without the dropped and held events, re-signed when its own
// signature verified. When either fails, the whole delivery goes on
// rather than lose anything (filters.Judgement.ForwardAll), and its
// decisions say so.
func (in *Inbound) forwardRewritten(w http.ResponseWriter, r *http.Request, d *delivery, tr *inTrace) string {
	j, name := d.j, d.ip.p.Name
	nb, err := j.Body()
	outcome, failed := "rewritten", "rewrite_failed"
	if err == nil && j.Resign() {
		failed = "resign_failed"
		h := r.Header.Clone()
		if err = d.ip.scheme.Sign(signRequest(r.Method, publicURI(r), r.Header), nb, in.engine.Now(), h); err == nil {
			r.Header = h
		}
	}
	if err != nil {
		outcome = failed
		in.log.Warn().Err(err).Str(fieldProvider, name).Str(fieldOutcome, failed).Msg("forwarding the whole delivery: its rewrite could not be made or signed")
		j.ForwardAll()
		nb, _ = j.Body()
	}
	in.counted(&tr.outcome, name, outcome)
	in.reportAll(j)
	return in.forward(w, r, nb, d)
}

// verify checks a delivery's signature: Verified or Unverified (with why),
// or Unsigned when the provider has no secret configured.
func (in *Inbound) verify(ip *inProvider, r *http.Request, body []byte) (spool.Verification, string) {
	if ip.scheme == nil {
		return spool.Unsigned, ""
	}
	if err := ip.scheme.Verify(signRequest(r.Method, publicURI(r), r.Header), body, in.engine.Now()); err != nil {
		in.m.SignatureFailures.WithLabelValues(ip.p.Name, sigReason(err)).Inc()
		return spool.Unverified, err.Error()
	}
	return spool.Verified, ""
}

// forward sends body to the app; with a delivery, it returns the last
// outcome counted on the way ("" if none).
func (in *Inbound) forward(w http.ResponseWriter, r *http.Request, body []byte, d *delivery) string {
	ctx := r.Context()
	if d != nil {
		d.req, d.body = r, body
		if in.holdsForApp(d.ip) && in.holdBehindApp(w, d) {
			return d.outcome
		}
	}
	setContentLength(r.Header, len(body))
	if d != nil {
		if in.direct.takes(r, d) {
			return in.forwardDirect(w, r, d)
		}
		ctx = context.WithValue(ctx, inKey{}, d)
	}
	r2 := r.WithContext(ctx)
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	r2.TransferEncoding = nil
	in.rp.ServeHTTP(w, r2)
	if d == nil {
		return ""
	}
	return d.outcome
}

// setContentLength sets h's Content-Length to n (without allocating when
// it already says so).
func setContentLength(h http.Header, n int) {
	var buf [20]byte
	v := strconv.AppendInt(buf[:0], int64(n), 10)
	if cur := h["Content-Length"]; len(cur) == 1 && cur[0] == string(v) {
		return
	}
	h.Set("Content-Length", string(v))
}

// modifyResponse is appAnswered for ReverseProxy.
func (in *Inbound) modifyResponse(resp *http.Response) error {
	d, ok := resp.Request.Context().Value(inKey{}).(*delivery)
	if !ok {
		return nil
	}
	if a := in.appAnswered(resp.Request.Context(), d, resp.StatusCode, resp.Body); a != nil {
		a.into(resp)
	}
	return nil
}

// appAnswered records, once the app accepted a delivery, what it now
// knows (dedup ids, last genuine state). A 5xx of a hold-policy provider's
// delivery is held instead of passed on (the provider would not
// redeliver): it returns the answer to give in the app's place then (the
// app's, body, is closed first), nil to pass the app's on.
func (in *Inbound) appAnswered(ctx context.Context, d *delivery, status int, body io.Closer) *localAnswer {
	if status >= 500 && in.holdsForApp(d.ip) {
		_ = body.Close()
		if err := in.holdForApp(d); err != nil {
			in.holdFailed(&d.outcome, d.ip.p.Name, "app answered "+strconv.Itoa(status), err)
			a := holdFailedAnswer(err)
			return &a
		}
		in.counted(&d.outcome, d.ip.p.Name, "app_error_held")
		a := d.held()
		return &a
	}
	if status < 200 || status > 299 {
		in.counted(&d.outcome, d.ip.p.Name, "app_rejected")
		return nil
	}
	if d.j == nil || len(d.j.Events) == 0 {
		return nil
	}
	if !in.embedded {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		defer cancel()
	}
	if err := in.judge.Accept(ctx, d.j); err != nil {
		in.log.Warn().Err(err).Str(fieldProvider, d.ip.p.Name).Msg("record accepted delivery failed")
		in.m.Doubts.WithLabelValues(d.ip.p.Name, "store_error").Inc()
	}
	return nil
}

// storeTimeout bounds state updates after a delivery on a shared store
// (the embedded one never waits, and takes no deadline: a timer and five
// allocations a delivery).
const storeTimeout = 2 * time.Second

func (in *Inbound) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	d, _ := r.Context().Value(inKey{}).(*delivery)
	in.appFailed(w, r, d, err)
}

// appFailed answers a request (of delivery d; nil: not a delivery) that
// the app could not be asked: it is held when its provider's policy says
// so.
func (in *Inbound) appFailed(w http.ResponseWriter, r *http.Request, d *delivery, err error) {
	if bodyTimedOut(r) && in.limits != nil {
		// The provider's body stopped at the read deadline; the app is
		// not to blame (and nothing is held: the delivery is incomplete).
		in.limits.answerReadFailure(w, r, "", err)
		return
	}
	status := statusForUpstreamError(err)
	name := ""
	if d != nil {
		name = d.ip.p.Name
		in.counted(&d.outcome, name, "app_error")
		if in.holdsForApp(d.ip) {
			if herr := in.holdForApp(d); herr != nil {
				in.holdFailed(&d.outcome, name, "app unreachable: "+err.Error(), herr)
				holdFailedAnswer(herr).write(w)
				return
			}
			in.log.Warn().Err(err).Str(fieldProvider, name).Str("path", r.URL.Path).Msg("app unreachable; delivery held for replay")
			d.held().write(w)
			return
		}
	}
	in.log.Warn().Err(err).Str("provider", name).Str("path", r.URL.Path).Int("status", status).Msg("app unreachable")
	http.Error(w, "loopguard: app unavailable", status)
}

// report logs, counts and keeps one decision (see reportDecision).
func (in *Inbound) report(d filters.Decision) { reportDecision(in.m, in.ring, in.log, d) }

// reportAll reports a judged delivery's decisions, once its body is
// settled: after a fallback to the whole delivery they say what happened.
func (in *Inbound) reportAll(j *filters.Judgement) {
	for i := range j.Decisions {
		in.report(j.Decisions[i])
	}
}

// held is the answer for a delivery safe in the spool.
func (d *delivery) held() localAnswer {
	n := 0
	if d.j != nil {
		n = len(d.j.Events)
	}
	return localAnswer{kind: answerHeld, route: d.route, events: n}
}

func (in *Inbound) whole(tr *inTrace, provider, outcome string, r filters.Reason, detail string) {
	in.counted(&tr.outcome, provider, outcome)
	in.report(in.engine.Whole(provider, filters.Forward, "delivery", r, detail))
}

// publicURI rebuilds the URI the provider called (HubSpot v3 signs it).
func publicURI(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme = p
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

func sigReason(err error) string {
	switch {
	case errorsIs(err, signature.ErrMissing):
		return "missing"
	case errorsIs(err, signature.ErrExpired):
		return "expired"
	case errorsIs(err, signature.ErrMalformed):
		return "malformed"
	}
	return "mismatch"
}
