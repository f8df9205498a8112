package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/loopguard/loopguard/filters"
)

// Multi-record writes (batch routes, GraphQL mutations): one request, many
// records — each tagged with its own sentinel and recorded as its own
// version, only when the response reports it written. The forward proxy
// and the gateway reach this through writer.begin like any write.

// beginMulti prepares a request to a batch or GraphQL write route. A
// GraphQL request whose operation names no configured mutation (a query,
// another mutation) passes untouched and is admitted as a read; its
// response may still be filtered by a GraphQL read route.
func (wr *writer) beginMulti(req *http.Request, p *filters.Provider, host string, route *filters.WriteRoute, ps filters.Params, start time.Time) (*outCall, *http.Response) {
	account := p.AccountOf(host, req.URL, req.Header, &ps)
	if wr.guard != nil {
		wr.guard.SawAccount(p.Name, account)
	}
	ap := p.ForAccount(account)
	body, untagged, l, local := wr.bufferWrite(req, p.Name)
	if local != nil {
		return nil, local
	}
	var m *filters.Multi
	kind := "batch"
	if route.GraphQL() {
		kind = "graphql"
		var why error = errors.New(untagged)
		if body != nil && untagged == "" {
			m, why = ap.TagGraphQL(req.Context(), req.Method, req.URL.Path, account, req.Header, body)
		}
		if m == nil {
			if body != nil {
				setBody(req, body)
			}
			wr.log.Debug().Str("provider", p.Name).Str("reason", why.Error()).Msg("graphql request passed untouched")
			oc, local := wr.passMulti(req, p, account, start)
			if local != nil {
				l.release() // never sent: nothing will close the body
			} else {
				keepLease(req, l) // until the transport has sent the body
			}
			return oc, local
		}
	} else {
		m = ap.TagBatch(req.Context(), route, &ps, account, req.URL, req.Header, body, untagged)
	}
	c, local := wr.quota.admit(req, p, account, true)
	if local != nil {
		l.release()
		wr.m.Throttled.WithLabelValues(p.Name).Inc()
		wr.unsentAll(req.Context(), m.Writes)
		return nil, local
	}
	if wr.guard != nil {
		for _, w := range m.Writes {
			if q, qi := wr.guard.WriteQuarantined(w); q {
				// The request is not split: a quarantined record holds it
				// whole, as it would hold a write of that record alone.
				l.release()
				wr.m.Throttled.WithLabelValues(p.Name).Inc()
				wr.unsentAll(req.Context(), m.Writes)
				return nil, quarantineThrottle(req, qi, wr.engine.Now())
			}
		}
	}
	oc := &outCall{call: c, start: start, multi: m, multiKind: kind}
	switch {
	case m.Body != nil:
		setBody(req, m.Body)
		oc.sent = m.Body
	case body != nil:
		setBody(req, body)
		oc.sent = body
	}
	keepLease(req, l) // until the transport has sent the body
	if m.Untagged != "" {
		oc.kind = "write_untagged"
		wr.m.Outbound.WithLabelValues(p.Name, "write_untagged").Inc()
		wr.m.Untagged.WithLabelValues(p.Name, m.Untagged).Inc()
	} else {
		oc.kind = "write_tagged"
		wr.m.Outbound.WithLabelValues(p.Name, "write_tagged").Inc()
	}
	for _, w := range m.Writes {
		if w.NoOp {
			wr.m.RedundantWrites.WithLabelValues(p.Name).Inc()
		}
	}
	wr.m.BatchRecords.WithLabelValues(p.Name, kind, "tagged").Add(float64(len(m.Writes)))
	return oc, nil
}

// passMulti admits an untouched request to a GraphQL path as a read.
func (wr *writer) passMulti(req *http.Request, p *filters.Provider, account string, start time.Time) (*outCall, *http.Response) {
	c, local := wr.quota.admit(req, p, account, false)
	if local != nil {
		wr.m.Throttled.WithLabelValues(p.Name).Inc()
		return nil, local
	}
	wr.m.Outbound.WithLabelValues(p.Name, "passthrough").Inc()
	return &outCall{call: c, start: start, kind: "passthrough"}, nil
}

// recordMulti records the records of a multi-record write that the
// upstream accepted (2xx) and whose result says they were written. The
// response body is read (bounded, decoded when compressed) and restored
// for the app byte for byte.
func (wr *writer) recordMulti(ctx context.Context, oc *outCall, resp *http.Response) {
	m := oc.multi
	if resp == nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		wr.unsentAll(ctx, m.Writes)
		return
	}
	if len(m.Writes) == 0 {
		return
	}
	buf := wr.decodedResponse(resp)
	out := wr.engine.RecordMulti(ctx, m, buf)
	name := m.Provider.Name
	if out.Err != nil {
		wr.log.Warn().Err(out.Err).Str("provider", name).Msg("record batch write failed")
		wr.m.Doubts.WithLabelValues(name, "store_error").Inc()
	}
	if unrecorded := len(m.Writes) - len(out.Recorded) - out.Failed - out.Unmatched - out.Empty; unrecorded > 0 {
		wr.m.BatchRecords.WithLabelValues(name, oc.multiKind, "store_error").Add(float64(unrecorded))
	}
	if out.Unmatched > 0 {
		wr.m.Doubts.WithLabelValues(name, "batch_unmatched").Add(float64(out.Unmatched))
	}
	for outcome, n := range map[string]int{"recorded": len(out.Recorded), "failed": out.Failed, "unmatched": out.Unmatched, "empty": out.Empty} {
		if n > 0 {
			wr.m.BatchRecords.WithLabelValues(name, oc.multiKind, outcome).Add(float64(n))
		}
	}
	for _, w := range out.Recorded {
		wr.m.WritesRecorded.WithLabelValues(name).Inc()
		if wr.guard != nil {
			wr.guard.Wrote(w)
		}
	}
	wr.log.Debug().Str("provider", name).Str("account", m.Account).Str("kind", oc.multiKind).Int("records", len(m.Writes)).
		Int("recorded", len(out.Recorded)).Int("failed", out.Failed).Int("unmatched", out.Unmatched).Msg("batch write recorded")
}

// decodedResponse buffers a response body up to maxBody, puts the bytes
// back for the app unchanged, and returns them decoded (gzip, deflate, br);
// nil when the body is larger, unreadable or in an unknown coding.
func (wr *writer) decodedResponse(resp *http.Response) []byte {
	if resp.Body == nil || resp.Body == http.NoBody || resp.ContentLength > wr.maxBody {
		return nil
	}
	coding, ok := responseCoding(resp.Header)
	if !ok {
		return nil
	}
	var l *lease
	if wr.limits != nil {
		l = wr.limits.budget.newLease()
	}
	raw, res, _ := bufferBody(resp.Body, resp.ContentLength, wr.maxBody, l)
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(raw), resp.Body), resp.Body}
	keepResponseLease(resp, l) // until the response is copied to the app
	if res != bodyOK {
		return nil
	}
	out, err := decodeBody(coding, raw, wr.maxBody)
	if err != nil {
		return nil
	}
	return out
}
