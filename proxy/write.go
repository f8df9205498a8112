package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/loopguard/loopguard/filters"
	"github.com/rs/zerolog"
)

// writer tags and records matched writes; the forward proxy and the gateway
// share it so both modes behave the same.
type writer struct {
	engine  *filters.Engine
	m       *Metrics
	log     zerolog.Logger
	maxBody int64
	quota   *quota
	guard   *filters.Guard // nil: no loop detector
	latency *observers
	// limits bound the bytes buffered at once and answer bodies that
	// cannot be read; nil: unbounded (tests).
	limits *limits
}

// outCall is one upstream call to a provider's API: its breaker context and,
// for matched writes, the prepared write.
type outCall struct {
	call  *call
	write *filters.Write
	start time.Time // when the app's request arrived (latency histogram)
	kind  string    // passthrough, write_tagged or write_untagged
	// multi is a matched batch or GraphQL write (write is then nil), of
	// multiKind batch or graphql; see write_batch.go.
	multi     *filters.Multi
	multiKind string
	// sent is the buffered body sent upstream; nil when the body streams
	// (see upstreamBody).
	sent []byte
}

// begin inspects an outgoing request to p's API. The account's breaker is
// asked first: while it is open, a write (or, if configured, a read) gets
// loopguard's own 429 as local, with no upstream call. For a matched write it
// buffers the body (bounded by maxBody), stamps headers and the sentinel;
// other requests stream.
func (wr *writer) begin(req *http.Request, p *filters.Provider, host string) (oc *outCall, local *http.Response) {
	start := time.Now()
	route, ps, isWrite := p.MatchWrite(req.Method, req.URL.Path)
	if isWrite && route.Multi() {
		return wr.beginMulti(req, p, host, route, ps, start)
	}
	account := p.AccountOf(host, req.URL, req.Header, &ps)
	if wr.guard != nil {
		wr.guard.SawAccount(p.Name, account)
	}
	c, local := wr.quota.admit(req, p, account, isWrite)
	if local != nil {
		wr.m.Throttled.WithLabelValues(p.Name).Inc()
		if isWrite {
			wr.forgetRefused(req, p.ForAccount(account), route, ps, account)
		}
		return nil, local
	}
	oc = &outCall{call: c, start: start, kind: "passthrough"}
	if !isWrite {
		wr.m.Outbound.WithLabelValues(p.Name, "passthrough").Inc()
		return oc, nil
	}
	ap := p.ForAccount(account)
	body, untagged, l, local := wr.bufferWrite(req, p.Name)
	if local != nil {
		return nil, local
	}
	w := ap.Tag(req.Context(), route, &ps, account, req.Header, body, untagged)
	if wr.guard != nil {
		if q, qi := wr.guard.WriteQuarantined(w); q {
			l.release()
			wr.m.Throttled.WithLabelValues(p.Name).Inc()
			wr.unsent(req.Context(), w)
			return nil, quarantineThrottle(req, qi, wr.engine.Now())
		}
	}
	switch {
	case w.Body != nil:
		setBody(req, w.Body)
		oc.sent = w.Body
	case body != nil:
		setBody(req, body)
		oc.sent = body
	}
	if w.Untagged != "" {
		oc.kind = "write_untagged"
		wr.m.Outbound.WithLabelValues(p.Name, "write_untagged").Inc()
		wr.m.Untagged.WithLabelValues(p.Name, w.Untagged).Inc()
	} else {
		oc.kind = "write_tagged"
		wr.m.Outbound.WithLabelValues(p.Name, "write_tagged").Inc()
		if w.NoOp {
			wr.m.RedundantWrites.WithLabelValues(p.Name).Inc()
		}
	}
	keepLease(req, l) // until the transport has sent the body
	oc.write = w
	return oc, nil
}

func setBody(req *http.Request, b []byte) {
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	req.ContentLength = int64(len(b))
	req.TransferEncoding = nil
	req.Header.Set("Content-Length", strconv.Itoa(len(b)))
}

// end feeds the response's rate-limit signal to the breaker and records a
// write the upstream accepted.
func (wr *writer) end(ctx context.Context, oc *outCall, resp *http.Response) {
	if oc == nil {
		return
	}
	if resp != nil {
		wr.latency.observe(oc.call.key.Provider, oc.kind, time.Since(oc.start))
	}
	wr.quota.observe(oc.call, resp)
	if oc.multi != nil {
		wr.recordMulti(ctx, oc, resp)
		return
	}
	wr.record(ctx, oc.write, resp)
}

// record remembers a write the upstream accepted, as the next version of
// its record's history. The (bounded, identity-encoded) response body is
// read and restored: it names a create's record id and, for most APIs,
// holds the record as the write left it — the state its echo will carry.
func (wr *writer) record(ctx context.Context, w *filters.Write, resp *http.Response) {
	if w == nil || len(w.Fields) == 0 {
		return
	}
	if resp == nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		wr.unsent(ctx, w)
		return
	}
	buf := wr.responseBody(resp, w.Provider.Name)
	if w.Record == "" {
		if buf == nil {
			return
		}
		if w.Record = w.CreatedID(buf); w.Record == "" {
			return
		}
	}
	if err := wr.engine.RecordWrite(ctx, w, buf); err != nil {
		wr.log.Warn().Err(err).Str("provider", w.Provider.Name).Str("record", w.Record).Msg("record write failed")
		wr.m.Doubts.WithLabelValues(w.Provider.Name, "store_error").Inc()
		return
	}
	wr.m.WritesRecorded.WithLabelValues(w.Provider.Name).Inc()
	if wr.guard != nil {
		wr.guard.Wrote(w)
	}
	wr.log.Debug().Str("provider", w.Provider.Name).Str("account", w.Account).Str("object", w.Object).
		Str("record", w.Record).Int("fields", len(w.Fields)).Bool("no_op", w.NoOp).Msg("write recorded")
}

// responseBody buffers a write's response body up to maxBody, within the
// in-flight bound, and puts it back for the app; nil when it is encoded,
// larger, unreadable or over the bound (then the write's expected state is
// not recorded: counted as a busy doubt).
func (wr *writer) responseBody(resp *http.Response, provider string) []byte {
	enc := resp.Header.Get("Content-Encoding")
	if resp.Body == nil || resp.Body == http.NoBody || (enc != "" && enc != "identity") || resp.ContentLength > wr.maxBody {
		return nil
	}
	var l *lease
	if wr.limits != nil {
		l = wr.limits.budget.newLease()
	}
	buf, out, _ := bufferBody(resp.Body, resp.ContentLength, wr.maxBody, l)
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(buf), resp.Body), resp.Body}
	keepResponseLease(resp, l) // until the response is copied to the app
	if out == bodyBusy {
		wr.m.Doubts.WithLabelValues(provider, "busy").Inc()
	}
	if out != bodyOK {
		return nil
	}
	if resp.ContentLength < 0 && len(resp.Trailer) == 0 {
		// Read whole: its length is known now, so the proxies send it
		// with a Content-Length (goproxy would chunk it record by record).
		resp.ContentLength = int64(len(buf))
		resp.TransferEncoding = nil
		resp.Header.Set("Content-Length", strconv.Itoa(len(buf)))
	}
	return buf
}

type readCloser struct {
	io.Reader
	io.Closer
}
