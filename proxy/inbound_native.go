package proxy

// The native path of the fasthttp-served inbound listener (issue 19): a
// matched, non-handshake delivery of a provider whose deliveries are not
// held for the app, with a Content-Length within inbound.max_body_bytes, no
// upgrade or trailer, not a HEAD and with a query ReverseProxy keeps as is,
// is read and judged on fasthttp's types and forwarded to the app with the
// provider's request itself; the app's answer streams back as the
// provider's. It does what Inbound.ServeHTTP does for such a delivery —
// same judgement, decisions, metrics, canonical line and latency — in
// fewer allocations. Its rare turns (rewritten bodies, holds refused, an
// app that failed or switched protocols) run the net/http code through the
// bridge. Whatever it does not take goes to the net/http handler before
// any byte of the body is read: a busy budget, a read that failed (the
// bytes read and the error are handed on, so the answer is bufferDelivery's).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/spool"
	"github.com/valyala/fasthttp"
)

// b2s views b as a string (b must outlive the string's use).
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// deliveryID names the n-th delivery in its decisions ("d" and n), in
// one allocation.
func deliveryID(n uint64) string {
	var b [24]byte
	return string(strconv.AppendUint(append(b[:0], 'd'), n, 10))
}

// nativeDelivery is a delivery on the native path: the rest of its work
// (finish, the body's reservation) is done once, by whoever ends it.
type nativeDelivery struct {
	in    *Inbound
	ctx   *fasthttp.RequestCtx
	h     http.Handler // the net/http handler (limits.handler around in)
	d     *delivery
	route *filters.WebhookRoute
	tr    inTrace
	l     *lease
	// bridged: the rest runs in a bridged net/http handler, which ends it.
	bridged bool
	// The delivery, the body's reservation and the app's answer body live
	// here: one allocation for the four (d, l and forward's body point
	// into it).
	dv delivery
	lv lease
	ab fastBody
}

func (nd *nativeDelivery) end() {
	nd.l.release()
	nd.in.finish(nd.d, nd.route, &nd.tr)
}

// serveNative serves ctx natively; false: it read nothing of the body and
// judged nothing — the caller serves it with h.
func (in *Inbound) serveNative(ctx *fasthttp.RequestCtx, h http.Handler) bool {
	if in.direct == nil || ctx.IsHead() || !netHTTPPath(ctx) {
		return false
	}
	var ip *inProvider
	var route *filters.WebhookRoute
	for _, p := range in.providers {
		if rt, ok := p.p.MatchWebhook(b2s(ctx.Method()), b2s(ctx.Path())); ok {
			ip, route = p, rt
			break
		}
	}
	rh := &ctx.Request.Header
	size := int64(rh.ContentLength())
	if ip == nil || in.holdsForApp(ip) || nativeHandshake(ip.p, ctx) || size < 0 || size > in.maxBody ||
		len(rh.Peek("Upgrade")) > 0 || len(rh.Peek("Trailer")) > 0 || !cleanQuery(b2s(ctx.URI().QueryString())) {
		return false
	}
	nd := &nativeDelivery{in: in, ctx: ctx, h: h, route: route, tr: inTrace{start: time.Now()}}
	nd.dv.ip = ip
	nd.d = &nd.dv
	var l *lease
	if in.limits != nil {
		nd.lv.b = in.limits.budget // newLease, in place
		l = &nd.lv
		if !l.grow(size) {
			return false // busy: bufferDelivery answers it
		}
	}
	nd.l = l
	body := make([]byte, size)
	if size > 0 {
		stream := ctx.RequestBodyStream()
		if stream == nil {
			stream = bytes.NewReader(nil)
		}
		if n, err := io.ReadFull(stream, body); err != nil {
			// bufferDelivery answers it: 408 at the read deadline, else 400.
			l.release()
			serveBridged(ctx, h, io.MultiReader(bytes.NewReader(body[:n]), errReader{err}))
			return true
		}
	}
	ctx.Request.SetBodyRaw(body)
	in.native.Add(1)
	defer func() {
		if !nd.bridged {
			nd.end()
		}
	}()
	nd.judge(body)
	return true
}

// netHTTPPath is whether fasthttp's path of ctx (percent-decoded, dot
// segments and repeated slashes removed) is the one net/http's handler
// would match (percent-decoded only): the path as sent has no escape and
// nothing to normalise. Any other request is served by the net/http
// handler, so that both servers judge the same requests (a webhook route
// reached through "/x/../webhooks/..." is not one for net/http).
func netHTTPPath(ctx *fasthttp.RequestCtx) bool {
	raw := ctx.URI().PathOriginal()
	return bytes.IndexByte(raw, '%') < 0 && bytes.Equal(raw, ctx.Path())
}

// errReader fails every read with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// judge is Inbound.ServeHTTP from the judgement on.
func (nd *nativeDelivery) judge(body []byte) {
	in, ctx, d, tr := nd.in, nd.ctx, nd.d, &nd.tr
	p := d.ip.p
	rh := &ctx.Request.Header
	// The judgement reads only the fields the route's specs name; a
	// signature may cover any, so a signed provider's gets them all.
	var hdr http.Header
	if d.ip.scheme != nil {
		hdr = nativeHeader(rh)
	} else {
		hdr = judgedHeader(rh, nd.route.HeaderNames())
	}
	var why string
	d.trust, why = in.verifyNative(d.ip, ctx, hdr, body)
	d.route = nd.route
	d.j = in.judge.Judge(ctx, filters.Delivery{Provider: p, Route: nd.route, Body: body, Header: hdr,
		Verification: d.trust, Why: why, ID: deliveryID(in.deliveries.Add(1))})
	j := d.j
	if j.Err != nil {
		outcome := j.Whole.Reason.String()
		in.counted(&tr.outcome, p.Name, outcome)
		in.report(j.Whole)
		in.m.Doubts.WithLabelValues(p.Name, outcome).Inc()
		tr.set(nd.forward(body))
		return
	}
	if j.SettleErr != nil {
		in.log.Warn().Err(j.SettleErr).Str(fieldProvider, p.Name).Msg("settle echoed writes failed")
		in.m.Doubts.WithLabelValues(p.Name, "store_error").Inc()
	}
	kept := j.Kept()
	if len(j.Holds) > 0 || (kept > 0 && kept < len(j.Events)) {
		// Holds (refused with 503 for a provider that is not held for the
		// app) and rewritten bodies: the net/http code.
		nd.bridge(nativeHeader(rh), body, func(w http.ResponseWriter, r *http.Request) {
			if len(j.Holds) > 0 && !in.holdEvents(w, r, d) {
				in.reportAll(j)
				tr.outcome = "rejected_held"
				return
			}
			switch {
			case kept == 0 && len(j.Events) > 0:
				in.reportAll(j)
				in.counted(&tr.outcome, p.Name, "held")
				localAnswer{kind: answerHeld, route: nd.route, events: len(j.Events)}.write(w)
			case kept < len(j.Events):
				tr.set(in.forwardRewritten(w, r, d, tr))
			default:
				in.reportAll(j)
				in.counted(&tr.outcome, p.Name, "forwarded")
				tr.set(in.forward(w, r, body, d))
			}
		})
		return
	}
	if kept == 0 && len(j.Events) > 0 {
		in.reportAll(j)
		in.counted(&tr.outcome, p.Name, "all_echoes")
		writeNative(ctx, localAnswer{kind: answerDropped, route: nd.route, events: len(j.Events)})
		return
	}
	in.reportAll(j)
	in.counted(&tr.outcome, p.Name, "forwarded")
	tr.set(nd.forward(body))
}

// bridge runs the rest of the delivery as net/http code (fn), which ends
// it; r carries hdr (the provider's header: as judged, or as forwarded
// once forward has changed it — appFailed reads none of it for a provider
// whose deliveries are not held for the app) and body.
func (nd *nativeDelivery) bridge(hdr http.Header, body []byte, fn func(w http.ResponseWriter, r *http.Request)) {
	nd.bridged = true
	serveBridged(nd.ctx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer nd.end()
		r.Header = hdr
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		r = r.WithContext(context.WithValue(r.Context(), reqLimitsKey{}, &reqLimits{listener: "inbound"}))
		fn(w, r)
	}), nil)
}

func nativeHandshake(p *filters.Provider, ctx *fasthttp.RequestCtx) bool {
	for _, h := range p.Profile.Handshakes {
		if h.Header != "" && len(ctx.Request.Header.Peek(h.Header)) > 0 {
			return true
		}
		if h.Query != "" && ctx.QueryArgs().Has(h.Query) {
			return true
		}
	}
	return false
}

// nativeHeader is the request's header as net/http would give it (Host
// and Transfer-Encoding apart), in one map whose keys and values share one
// buffer.
func nativeHeader(rh *fasthttp.RequestHeader) http.Header {
	n, size := 0, 0
	for k, v := range rh.All() {
		n++
		size += len(k) + len(v)
	}
	hd := make(http.Header, n)
	if size == 0 {
		return hd
	}
	buf := make([]byte, 0, size) // never grows: the strings below stay valid
	vals := make([]string, 0, n)
	for k, v := range rh.All() {
		if string(k) == "Host" || string(k) == "Transfer-Encoding" {
			continue
		}
		off := len(buf)
		buf = append(buf, k...)
		key := unsafe.String(&buf[off], len(k))
		off = len(buf)
		buf = append(buf, v...)
		val := ""
		if len(v) > 0 {
			val = unsafe.String(&buf[off], len(v))
		}
		if cur, ok := hd[key]; ok {
			hd[key] = append(cur, val)
			continue
		}
		vals = append(vals, val)
		hd[key] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	return hd
}

// judgedHeader is nativeHeader holding only the fields named (those the
// judgement reads: WebhookRoute.HeaderNames); nil when there are none.
func judgedHeader(rh *fasthttp.RequestHeader, names []string) http.Header {
	if len(names) == 0 {
		return nil
	}
	var hd http.Header
	for k, v := range rh.All() {
		i := slices.Index(names, b2s(k))
		if i < 0 || names[i] == "Host" || names[i] == "Transfer-Encoding" {
			continue
		}
		if hd == nil {
			hd = make(http.Header, len(names))
		}
		hd[names[i]] = append(hd[names[i]], string(v))
	}
	return hd
}

// verifyNative is verify without an *http.Request.
func (in *Inbound) verifyNative(ip *inProvider, ctx *fasthttp.RequestCtx, hdr http.Header, body []byte) (spool.Verification, string) {
	if ip.scheme == nil {
		return spool.Unsigned, ""
	}
	scheme := "http"
	if ctx.IsTLS() {
		scheme = "https"
	}
	if p := hdr.Get("X-Forwarded-Proto"); p != "" {
		scheme = p
	}
	uri := scheme + "://" + string(ctx.Host()) + string(ctx.RequestURI())
	if err := ip.scheme.Verify(signRequest(string(ctx.Method()), uri, hdr), body, in.engine.Now()); err != nil {
		in.m.SignatureFailures.WithLabelValues(ip.p.Name, sigReason(err)).Inc()
		return spool.Unverified, err.Error()
	}
	return spool.Verified, ""
}

// forward sends the provider's request itself (ctx.Request, its
// hop-by-hop headers removed, X-Forwarded-* set: what forwardDirect sends)
// to the app and streams the app's answer back as forwardDirect does; it
// records after a 2xx and returns the last outcome counted.
func (nd *nativeDelivery) forward(body []byte) string {
	in, ctx, d := nd.in, nd.ctx, nd.d
	d.body = body
	req := &ctx.Request
	closeAfter := req.Header.ConnectionClose()
	hv := readHops(&req.Header)
	for f := range strings.SplitSeq(b2s(hv.conn), ",") {
		if f = textproto.TrimString(f); f != "" {
			req.Header.Del(f)
		}
	}
	for i, k := range hopFields {
		if hv.present&(1<<i) != 0 {
			req.Header.Del(k)
		}
	}
	req.Header.ResetConnectionClose()
	if hv.teTrailers {
		req.Header.Set("Te", "trailers")
	}
	if hv.userAgents == 1 && hv.userAgentEmpty {
		req.Header.Del("User-Agent") // no User-Agent of loopguard's own
	}
	var ipb [64]byte
	if a, ok := netip.AddrFromSlice(ctx.RemoteIP()); ok {
		req.Header.SetBytesV("X-Forwarded-For", a.Unmap().AppendTo(ipb[:0]))
	}
	req.Header.SetBytesV("X-Forwarded-Host", ctx.Host())
	if ctx.IsTLS() {
		req.Header.Set("X-Forwarded-Proto", "https")
	} else {
		req.Header.Set("X-Forwarded-Proto", "http")
	}
	resp := fasthttp.AcquireResponse()
	resp.Header.SetNoDefaultContentType(true)
	if err := in.direct.hc.Do(req, resp); err != nil {
		fasthttp.ReleaseResponse(resp)
		if errors.Is(err, fasthttp.ErrTimeout) {
			err = fmt.Errorf("forward to the app: %w (%w)", err, context.DeadlineExceeded)
		} else {
			err = fmt.Errorf("forward to the app: %w", err)
		}
		nd.bridge(nativeHeader(&req.Header), body, func(w http.ResponseWriter, r *http.Request) {
			in.appFailed(w, r, d, err)
			nd.tr.set(d.outcome)
		})
		return ""
	}
	nd.ab.resp = resp
	ab := &nd.ab
	status := resp.StatusCode()
	if status == http.StatusSwitchingProtocols {
		// As forwardDirect: judged, then refused (nothing asked for an
		// upgrade).
		in.appAnswered(ctx, d, status, ab)
		_ = ab.Close()
		nd.bridge(nativeHeader(&req.Header), body, func(w http.ResponseWriter, r *http.Request) {
			in.appFailed(w, r, d, errors.New("forward to the app: the app switched protocols unasked"))
			nd.tr.set(d.outcome)
		})
		return ""
	}
	// Not a hold-policy provider: appAnswered never answers in the app's
	// place nor closes the body.
	in.appAnswered(ctx, d, status, ab)
	n := nativeAnswerHeader(&ctx.Response.Header, resp)
	ctx.SetStatusCode(status)
	// The server writes the app's body as it arrives and closes ab (giving
	// the app's connection back) once written; a failed read of it cuts
	// the provider's connection, as ReverseProxy's abort does.
	var stream io.Reader = ab
	if len(resp.Header.Peek("Content-Type")) == 0 && len(resp.Header.Peek("Content-Encoding")) == 0 && bodyAllowed(status) && n != 0 {
		// As net/http's server: the type is sniffed from the first bytes.
		first, src := sniffFirst(ab, n)
		if len(first) > 0 {
			ctx.Response.Header.Set("Content-Type", http.DetectContentType(first))
		}
		stream = readCloser{src, ab}
	}
	ctx.Response.SetBodyStream(stream, n)
	if closeAfter {
		ctx.SetConnectionClose()
	}
	return d.outcome
}

// sniffFirst reads the first bytes of an answer of length n (-1: unknown)
// as ReverseProxy's first read gives them to net/http's sniffer, and
// returns them with the whole answer to stream.
func sniffFirst(body io.Reader, n int) ([]byte, io.Reader) {
	buf := make([]byte, 512)
	var k int
	var err error
	if n > 0 {
		k, err = io.ReadFull(body, buf[:min(n, len(buf))])
	} else {
		k, err = io.ReadAtLeast(body, buf, 1)
	}
	first := buf[:k]
	if err != nil && err != io.EOF {
		// The read's failure comes after what was read (the provider's
		// connection is cut then, as ReverseProxy cuts it).
		return first, io.MultiReader(bytes.NewReader(first), errReader{err})
	}
	return first, io.MultiReader(bytes.NewReader(first), body)
}

// nativeAnswerHeader copies the app's answer header into h as
// forwardDirect's answerHeader does (canonical names, hop-by-hop and
// Connection-named fields dropped; the app's Date kept, net/http's when it
// sent none); it returns the answer's length (-1: unknown).
func nativeAnswerHeader(h *fasthttp.ResponseHeader, resp *fasthttp.Response) int {
	n := resp.Header.ContentLength()
	var conn []string
	for k, v := range resp.Header.All() {
		if strings.EqualFold(b2s(k), "Connection") {
			conn = append(conn, string(v))
		}
	}
	if d := resp.Header.Peek("Date"); d != nil {
		startHeader(h, d)
	} else {
		startHeader(h, nowDate())
	}
	for k, v := range resp.Header.All() {
		key := b2s(k) // resp is not changed while key is used
		if !isCanonicalKey(k) {
			key = canonicalKey(k)
		}
		if key == "Date" || hopByHop(key) || key == "Content-Length" || (len(conn) > 0 && namedIn(conn, key)) {
			continue
		}
		h.Add(key, b2s(v))
	}
	if n < 0 {
		return -1
	}
	return n
}

// writeNative puts a local answer into ctx.Response as net/http's server
// sends it.
func writeNative(ctx *fasthttp.RequestCtx, a localAnswer) {
	status, h, body := a.render()
	startHeader(&ctx.Response.Header, nowDate())
	for k, vs := range h {
		for _, v := range vs {
			ctx.Response.Header.Add(k, v)
		}
	}
	ctx.SetStatusCode(status)
	ctx.SetBody(body)
}
