package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/loopguard/loopguard/filters"
	"github.com/rs/zerolog"
)

// puller removes the echoes of our own writes from the responses of matched
// read routes (delta polls, searches, SOQL queries) before the app sees
// them. Each record of the response's list is decided by the same engine
// as a webhook event; records proven to be ours leave the list, everything
// else in the response stays as sent. The forward proxy and the gateway
// each hold one. It is stateless: nothing a poll returns is recorded (a
// poll does not mean the app applied what it read, and a stale snapshot
// recorded as genuine would clear our pending writes).
type puller struct {
	engine  *filters.Engine
	judge   *filters.Judge
	m       *Metrics
	log     zerolog.Logger
	maxBody int64
	// ring keeps decisions for GET /decisions; nil until the sidecar wires
	// it (decisions are still counted and logged).
	ring *DecisionRing
	// budget bounds the bytes buffered at once across the process; nil
	// until the sidecar wires it (unbounded).
	budget *bodyBudget
}

// pullCall is a matched read in flight.
type pullCall struct {
	p       *filters.Provider // for Decide, which picks the account itself
	ap      *filters.Provider // the account's compiled profile: routes, fields
	route   *filters.WebhookRoute
	params  filters.Params
	account string
	// identityOK: the app accepts an uncompressed answer.
	identityOK bool
	// gql are a GraphQL query's read routes, one per selected root field
	// a route names (see pull_graphql.go); nil for a REST read.
	gql []*filters.WebhookRoute
}

func newPuller(e *filters.Engine, m *Metrics, log zerolog.Logger, maxBody int64, budget *bodyBudget) *puller {
	return &puller{engine: e, judge: filters.NewJudge(e, filters.JudgeOptions{}), m: m, log: log, maxBody: maxBody, budget: budget}
}

// begin matches an outbound request (not a write) to p's read routes. For a
// match it narrows Accept-Encoding to codings the filter can decode and
// returns the call; otherwise nil, and the response streams untouched.
func (pl *puller) begin(req *http.Request, p *filters.Provider, host string) *pullCall {
	if !p.HasReads() {
		return nil
	}
	r, ps, ok := p.MatchRead(req.Method, req.URL.Path)
	account := p.AccountOf(host, req.URL, req.Header, &ps)
	ap := p.ForAccount(account)
	if ap != p {
		r, ps, ok = ap.MatchRead(req.Method, req.URL.Path)
	}
	if !ok {
		return nil
	}
	pc := &pullCall{p: p, ap: ap, route: r, params: ps, account: account}
	if r.GraphQLRead() {
		if pc.gql = pl.graphQLRoutes(req, ap); pc.gql == nil {
			return nil
		}
	}
	pc.identityOK = narrowAcceptEncoding(req.Header)
	return pc
}

// end filters a matched read's response in place. Only a 2xx JSON body of
// known coding and bounded size is buffered; anything else passes
// untouched, as does the body whenever no record is removed.
func (pl *puller) end(ctx context.Context, pc *pullCall, resp *http.Response) {
	if pc == nil || !filterable(resp) {
		return
	}
	coding, ok := responseCoding(resp.Header)
	if !ok {
		pl.whole(pc, filters.ReasonEncoding, "content coding "+coding+" cannot be decoded; response passed untouched")
		return
	}
	raw, l, res := pl.bufferResponse(resp)
	defer keepResponseLease(resp, l) // until the response is copied to the app
	switch res {
	case bodyOK:
	case bodyBusy:
		pl.whole(pc, filters.ReasonBusy, "in-flight body bytes at limits.max_inflight_body_bytes: response passed untouched")
		return
	case bodyFailed:
		pl.whole(pc, filters.ReasonMalformed, "response body read failed: passed on as received")
		return
	default:
		pl.whole(pc, filters.ReasonOversize, "response over outbound.max_body_bytes passed untouched")
		return
	}
	// The body is buffered: every path below sends raw or a rewrite.
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	body, err := decodeBody(coding, raw, pl.maxBody)
	if errors.Is(err, errDecodedTooLarge) {
		pl.whole(pc, filters.ReasonOversize, "decoded response over outbound.max_body_bytes passed untouched")
		return
	}
	if err != nil {
		pl.whole(pc, filters.ReasonMalformed, err.Error())
		return
	}
	d := filters.Delivery{Provider: pc.p, Route: pc.route, Routes: pc.gql, Params: pc.params, Account: pc.account,
		Body: body, Header: resp.Header, Source: filters.SourcePull}
	j := pl.judge.Judge(ctx, d)
	if j.Err != nil {
		pl.report(pc, j.Whole)
		return
	}
	removed := len(j.Events) - j.Kept()
	if removed == 0 {
		pl.reportAll(j)
		pl.m.PullResponses.WithLabelValues(pc.p.Name, "unchanged").Inc()
		return
	}
	out, coding, err := pl.rewrite(pc, j, coding)
	if err != nil {
		// Cannot rewrite: send everything rather than lose anything, and
		// report the drops as what they became (would-be drops).
		pl.log.Warn().Err(err).Str(fieldProvider, pc.p.Name).Msg("pull rewrite failed; response passed untouched")
		pl.m.Doubts.WithLabelValues(pc.p.Name, "rewrite_failed").Inc()
		pl.m.PullResponses.WithLabelValues(pc.p.Name, "rewrite_failed").Inc()
		j.ForwardAll()
		pl.reportAll(j)
		return
	}
	pl.reportAll(j)
	pl.m.PullResponses.WithLabelValues(pc.p.Name, "filtered").Inc()
	setPullBody(resp, out, coding)
	pl.log.Debug().Str(fieldProvider, pc.p.Name).Str(fieldAccount, pc.account).Int("records", len(j.Events)).
		Int("removed", removed).Msg("pull response filtered")
}

// rewrite encodes the judgement's body (without the dropped records) for
// the app: uncompressed when it accepts that, else in the upstream's
// coding. It returns the body and its coding.
func (pl *puller) rewrite(pc *pullCall, j *filters.Judgement, coding string) ([]byte, string, error) {
	nb, err := j.Body()
	if err != nil {
		return nil, "", err
	}
	if pc.identityOK {
		coding = codingIdentity
	}
	out, err := encodeBody(coding, nb)
	return out, coding, err
}

// filterable reports a response the filter may buffer: a 2xx with a body
// (not a range or an empty answer) whose media type is JSON. An event
// stream or any other type passes untouched.
func filterable(resp *http.Response) bool {
	if resp == nil || resp.Body == nil || resp.Body == http.NoBody || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return false
	}
	switch resp.StatusCode {
	case http.StatusNoContent, http.StatusResetContent, http.StatusPartialContent:
		return false
	}
	ct := resp.Header.Get("Content-Type")
	if ct == "" {
		// Untyped: Extract decides whether it is JSON.
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// bufferResponse buffers a response body up to maxBody, within the
// process's in-flight bound. Unless the outcome is bodyOK, what was read is
// put back in front of the rest: the response streams on untouched. l is
// the reservation of what is buffered (see keepResponseLease).
func (pl *puller) bufferResponse(resp *http.Response) ([]byte, *lease, bodyOutcome) {
	var l *lease
	if pl.budget != nil {
		l = pl.budget.newLease()
	}
	buf, out, _ := bufferBody(resp.Body, resp.ContentLength, pl.maxBody, l)
	if out != bodyOK {
		if len(buf) > 0 {
			resp.Body = readCloser{io.MultiReader(bytes.NewReader(buf), resp.Body), resp.Body}
		}
		return nil, l, out
	}
	_ = resp.Body.Close()
	return buf, l, out
}

// keepResponseLease ties a buffered response's reservation to the body
// that carries its bytes to the app: the proxies close it once copied.
func keepResponseLease(resp *http.Response, l *lease) {
	if l == nil || l.n.Load() == 0 {
		return // nothing reserved: the body is left as it is
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		l.release()
		return
	}
	resp.Body = &releasingBody{Reader: resp.Body, close: resp.Body.Close, l: l}
}

// setPullBody installs a rewritten body with headers that describe it:
// length, coding, no digest of the old bytes, and a weak ETag (the list is
// semantically the API's, no longer byte for byte).
func setPullBody(resp *http.Response, b []byte, coding string) {
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.TransferEncoding = nil
	resp.Uncompressed = false
	h := resp.Header
	h.Set("Content-Length", strconv.Itoa(len(b)))
	if coding == codingIdentity {
		h.Del("Content-Encoding")
	} else {
		h.Set("Content-Encoding", coding)
	}
	for _, k := range []string{"Content-Md5", "Digest", "Content-Digest", "Repr-Digest"} {
		h.Del(k)
	}
	if et := h.Get("Etag"); et != "" && !strings.HasPrefix(et, "W/") {
		h.Set("Etag", "W/"+et)
	}
}

// whole reports a matched read response whose records were not evaluated.
func (pl *puller) whole(pc *pullCall, r filters.Reason, detail string) {
	pl.report(pc, pl.engine.WholePull(pc.p.Name, pc.account, r, detail))
}

// report reports the decision about a whole response (passed untouched).
func (pl *puller) report(pc *pullCall, d filters.Decision) {
	pl.m.Doubts.WithLabelValues(pc.p.Name, d.Reason.String()).Inc()
	pl.m.PullResponses.WithLabelValues(pc.p.Name, "untouched_"+d.Reason.String()).Inc()
	reportDecision(pl.m, pl.ring, pl.log, d)
}

func (pl *puller) reportAll(j *filters.Judgement) {
	for i := range j.Decisions {
		reportDecision(pl.m, pl.ring, pl.log, j.Decisions[i])
	}
}
