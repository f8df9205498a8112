package filters

import (
	"context"
	"net/http"
	"strings"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/tagging"
	"github.com/tidwall/gjson"
)

// A multi-record write is one request that writes many records: a batch
// route (a list of records, HubSpot's batch/update, Salesforce's sObject
// Collections, a composite request's sub-requests) or a GraphQL mutation
// (one record per selected mutation field). It is many versions, one per
// record: each record is tagged (its own sentinel, bound to it) and,
// after the answer, recorded as its own ledger.Write — only when the
// response reports it written. The single-record path (Tag, RecordWrite)
// is not involved.

// Multi is a matched multi-record write, prepared for tagging and
// recording.
type Multi struct {
	Provider *Provider
	Route    *WriteRoute
	Account  string
	// Writes are the records, in request order (Record "" for a create
	// until its result names it). A record without tracked fields is
	// listed (it is counted) but never recorded.
	Writes []*Write
	// Body is the tagged body; nil when the body was left untouched.
	Body []byte
	// Untagged says why the body was left untouched ("" when tagged, or
	// when no record needed a sentinel).
	Untagged string
	// items match Writes one to one: how each record finds its result.
	items []multiItem
	// n is the number of elements of the request's list (position match).
	n int
}

// multiItem is how a record finds its result in the response.
type multiItem struct {
	// index is the record's position in the request's list.
	index int
	// keys are the record's values of each alternative of response.key.
	keys []string
	// alias is a GraphQL field's response key.
	alias string
	// gql is the GraphQL route of the field.
	gql *gqlRoute
}

// Multi reports whether the route writes many records per request (a
// batch or GraphQL route): its requests go through TagBatch/TagGraphQL and
// RecordMulti instead of Tag and RecordWrite.
func (r *WriteRoute) Multi() bool { return r.batch != nil || r.gql != nil }

// GraphQL reports a GraphQL route.
func (r *WriteRoute) GraphQL() bool { return r.gql != nil }

// batchRoute is a compiled configs.BatchSpec.
type batchRoute struct {
	list     string
	recordID valueSpec
	fields   string
	object   valueSpec
	idsQuery string
	shared   string
	sub      *configs.SubrequestSpec
	resp     batchResp
}

// batchResp is a compiled configs.BatchResponse.
type batchResp struct {
	list    string
	match   []string
	keys    []valueSpec // one per alternative of key
	id      valueSpec
	success valueSpec
	record  string
	time    valueSpec
}

// compileMulti compiles a write route's batch or graphql block.
func (r *WriteRoute) compileMulti(w *configs.WriteRoute) {
	if b := w.Batch; b != nil {
		br := &batchRoute{
			list: b.List, recordID: compileSpec(b.RecordID), fields: b.Fields, object: compileSpec(b.Object),
			idsQuery: b.IDsQuery, shared: b.Shared, sub: b.Subrequests,
			resp: batchResp{
				list: b.Response.List, match: b.Response.Match, id: compileSpec(b.Response.ID),
				success: compileSpec(b.Response.Success), record: b.Response.Record, time: compileSpec(b.Response.Time),
			},
		}
		for _, a := range configs.SpecAlternatives(b.Response.Key) {
			br.resp.keys = append(br.resp.keys, compileOne(a))
		}
		r.batch = br
	}
	if g := w.GraphQL; g != nil {
		r.gql = compileGraphQLWrite(g)
	}
}

// stampHeaders sets the change-agent headers and the idempotency key once
// per request.
func (p *Provider) stampHeaders(h http.Header) {
	pr := p.Profile
	tagging.SetHeaders(h, pr.Tagging.Headers, p.agent)
	if ik := pr.Tagging.IdempotencyKey; ik.Header != "" && h.Get(ik.Header) == "" {
		h.Set(ik.Header, ik.Prefix+randomHex(16))
	}
}

// tagRecord fingerprints one record's fields (rec) into w and, when the
// profile puts a sentinel in it (sentinelField) and the write changes
// something, returns the sentinel bound to w's record (or to "" for a
// create), with w.Nonce and w.Created set. "" means no sentinel.
func (p *Provider) tagRecord(ctx context.Context, w *Write, rec gjson.Result, sentinelField string) string {
	if !rec.IsObject() {
		w.Untagged = "not_an_object"
		return ""
	}
	fs := p.FP.FromJSON(nil, rec)
	w.Fields = toLedger(fs)
	w.FP = tagging.Combine(fs)
	if len(w.Fields) == 0 {
		return ""
	}
	// A write that changes nothing is known as such whether or not it is
	// stamped (as in Tag): it must never be matched as a later event's
	// "echo" (simulator seed 6545).
	if w.NoOp = p.holds(ctx, w); w.NoOp || sentinelField == "" {
		return ""
	}
	w.Nonce = randomNonce()
	w.Created = w.Record == ""
	return p.key.Sentinel(p.agent, tagging.Binding{Provider: p.Name, Object: w.Object, Record: w.Record, Nonce: w.Nonce, FP: w.FP})
}

// applyInserts writes the records' sentinels into body in one pass. When
// that fails (two records sharing one object, an object not found), the
// body is left as sent and no record keeps a sentinel: headers and the
// ledger still apply.
func (m *Multi) applyInserts(body []byte, ins []tagging.Insert, owners []*Write) {
	if len(ins) == 0 {
		return
	}
	out, err := tagging.SetJSONMany(body, ins)
	if err != nil {
		m.Untagged = "sentinel_failed"
		for _, w := range owners {
			w.Nonce, w.Created = 0, false
		}
		return
	}
	m.Body = out
}

// MultiOutcome is what recording a multi-record write did.
type MultiOutcome struct {
	// Recorded are the records written to the ledger.
	Recorded []*Write
	// Failed counts records the response reports as not written.
	Failed int
	// Unmatched counts records no result could be matched to (or the
	// response could not be read).
	Unmatched int
	// Empty counts records without tracked fields (nothing to record).
	Empty int
	// Err is the first store error (its record is not in Recorded).
	Err error
}

// recordOne appends w to its record's history: res is the record's state
// as the response shows it (missing: none) and at its provider time (0:
// unknown).
func (e *Engine) recordOne(ctx context.Context, w *Write, res gjson.Result, at int64, out *MultiOutcome) {
	e.offers.supersede(w.Key(), w.Fields)
	lw := ledger.Write{Fields: w.Fields, At: e.now(), FP: w.FP, Nonce: w.Nonce, Created: w.Created, NoOp: w.NoOp, ProviderAt: at}
	if res.IsObject() {
		if fs := w.Provider.FP.FromJSON(nil, res); len(fs) > 0 {
			lw.Response = toLedger(fs)
		}
	}
	if err := e.store.RecordWrite(ctx, w.Key(), lw); err != nil {
		if out.Err == nil {
			out.Err = err
		}
		return
	}
	out.Recorded = append(out.Recorded, w)
}

// RecordMulti records the records of a multi-record write the upstream
// accepted (2xx) that the response reports as written, each as the next
// version of its own record's history. resp is the (decoded) response
// body; nil when it could not be read, which records nothing unless the
// route's response reports nothing per record anyway.
func (e *Engine) RecordMulti(ctx context.Context, m *Multi, resp []byte) MultiOutcome {
	var out MultiOutcome
	if m.Provider.tooDeep(resp) {
		resp = nil // never handed to a recursive parser: as if unread
	}
	switch {
	case m.Route.gql != nil:
		e.recordGraphQL(ctx, m, resp, &out)
	default:
		e.recordBatch(ctx, m, resp, &out)
	}
	return out
}

// createdRecord is a create's record id from the id its result names: the
// route's record_id template with {id} = id, or id itself.
func createdRecord(w *Write, id string) string {
	if id == "" || !strings.Contains(w.Route.RecordID, "{") {
		return id
	}
	ps := w.params
	ps.add("id", id)
	return expandParams(w.Route.RecordID, &ps)
}

// written reports a result's success value: true, or a number (an HTTP
// status) from 200 to 299.
func written(v gjson.Result) bool {
	switch v.Type {
	case gjson.True:
		return true
	case gjson.Number:
		return v.Num >= 200 && v.Num <= 299
	}
	return false
}

// failedItem counts a record the response reports not written, and tells
// the ledger the app's write of it did not land (see Unsent).
func (e *Engine) failedItem(ctx context.Context, w *Write, out *MultiOutcome) {
	out.Failed++
	if err := e.Unsent(ctx, w); err != nil && out.Err == nil {
		out.Err = err
	}
}
