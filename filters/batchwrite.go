package filters

import (
	"context"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/loopguard/loopguard/tagging"
	"github.com/tidwall/gjson"
)

// maxBatchRecords bounds the records one batch request is split into (the
// largest documented batch is Salesforce's 200; Zendesk takes 100 ids):
// past it the request is tagged with headers only and nothing is recorded.
const maxBatchRecords = 1000

// TagBatch stamps a batch write: headers once, and a sentinel per record
// (where the profile has a sentinel field) inserted into each record's
// fields in place. u is the request URL (ids_query). body may be nil when
// it was not buffered; then only headers are stamped and nothing will be
// recorded.
func (p *Provider) TagBatch(ctx context.Context, r *WriteRoute, ps *Params, account string, u *url.URL, h http.Header, body []byte, untagged string) *Multi {
	m := &Multi{Provider: p, Route: r, Account: account, Untagged: untagged}
	p.stampHeaders(h)
	if body == nil || untagged != "" {
		if m.Untagged == "" {
			m.Untagged = "no_body"
		}
		return m
	}
	if p.tooDeep(body) {
		m.Untagged = "too_deep" // never handed to a recursive parser (sniffBody's gjson.Valid)
		return m
	}
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	if kind := sniffBody(mt, body); kind != bodyJSON {
		m.Untagged = string(kind)
		return m
	}
	b := r.batch
	root := gjson.ParseBytes(body)
	if b.idsQuery != "" {
		if ids := u.Query().Get(b.idsQuery); ids != "" {
			p.tagShared(ctx, m, ps, root, ids)
			return m
		}
	}
	list := root
	if b.list != "@this" {
		list = root.Get(b.list)
	}
	if !list.IsArray() {
		m.Untagged = "not_a_list"
		return m
	}
	elems := list.Array()
	if len(elems) > maxBatchRecords {
		m.Untagged = "batch_too_large"
		return m
	}
	m.n = len(elems)
	sentinelField := p.Profile.Tagging.SentinelField
	var ins []tagging.Insert
	var owners []*Write
	for i, el := range elems {
		w, rec, ok := p.batchRecord(m, ps, el, root)
		if !ok {
			continue
		}
		if s := p.tagRecord(ctx, w, rec, sentinelField); s != "" {
			ins = append(ins, tagging.Insert{Obj: rec, Field: sentinelField, Value: s})
			owners = append(owners, w)
		}
		m.Writes = append(m.Writes, w)
		m.items = append(m.items, multiItem{index: i})
	}
	m.applyInserts(body, ins, owners)
	m.readKeys(body)
	return m
}

// batchRecord reads one list element: its record's write (object, id) and
// fields object; ok is false for an element that is not a record of ours
// (a sub-request no write route takes, or one naming another
// sub-request's result).
func (p *Provider) batchRecord(m *Multi, ps *Params, el, root gjson.Result) (*Write, gjson.Result, bool) {
	b := m.Route.batch
	if !el.IsObject() {
		return nil, gjson.Result{}, false
	}
	if b.sub != nil {
		return p.subrequest(m, el)
	}
	w := &Write{Provider: p, Route: m.Route, Account: m.Account, params: *ps}
	w.Object = p.canonObject(resolveParam(m.Route.Object, ps))
	if b.object.kind != specNone {
		if o := b.object.str(el, root, nil); o != "" {
			w.Object = p.canonObject(o)
		}
	}
	w.Record = b.recordID.str(el, root, nil)
	rec := el
	if b.fields != "" {
		rec = el.Get(b.fields)
	}
	return w, rec, true
}

// subrequest reads a composite request's element as the single write it
// names: the profile's own write route for its method and URL path says
// where the record's id, object and fields are.
func (p *Provider) subrequest(m *Multi, el gjson.Result) (*Write, gjson.Result, bool) {
	s := m.Route.batch.sub
	method := el.Get(s.Method).String()
	raw := el.Get(s.URL).String()
	path, _, _ := strings.Cut(raw, "?")
	if u, err := url.Parse(path); err == nil && u.Path != "" {
		path = u.Path
	}
	r, ps, ok := p.MatchWrite(method, path)
	if !ok || r.Multi() || r.TagOnly {
		return nil, gjson.Result{}, false
	}
	w := &Write{Provider: p, Route: r, Account: m.Account, params: ps}
	w.Object = p.canonObject(resolveParam(r.Object, &ps))
	w.Record = expandParams(r.RecordID, &ps)
	if strings.Contains(w.Record, "@{") || strings.Contains(w.Object, "@{") {
		// A reference to another sub-request's result: the record is not
		// known before the answer.
		return nil, gjson.Result{}, false
	}
	rec := el.Get(s.Body)
	if r.Fields != "" {
		rec = rec.Get(r.Fields)
	}
	return w, rec, true
}

// tagShared handles the ids form (Zendesk update_many?ids=1,2 with one
// "ticket" body): the one record is written to every id. It gets no
// sentinel — one value cannot be bound to several records.
func (p *Provider) tagShared(ctx context.Context, m *Multi, ps *Params, root gjson.Result, ids string) {
	b := m.Route.batch
	rec := root.Get(b.shared)
	seen := map[string]bool{}
	for _, id := range strings.Split(ids, ",") {
		id = strings.TrimSpace(id)
		if id == "" || seen[id] {
			continue
		}
		if len(seen) == maxBatchRecords {
			m.Writes, m.items, m.Untagged = nil, nil, "batch_too_large"
			return
		}
		seen[id] = true
		w := &Write{Provider: p, Route: m.Route, Account: m.Account, Record: id, params: *ps}
		w.Object = p.canonObject(resolveParam(m.Route.Object, ps))
		p.tagRecord(ctx, w, rec, "")
		m.items = append(m.items, multiItem{index: len(m.Writes)})
		m.Writes = append(m.Writes, w)
	}
	m.n = len(m.Writes)
}

// readKeys reads each record's match keys from the body as sent upstream
// (tagged: a sentinel can be the key).
func (m *Multi) readKeys(orig []byte) {
	b := m.Route.batch
	if len(b.resp.keys) == 0 {
		return
	}
	body := orig
	if m.Body != nil {
		body = m.Body
	}
	root := gjson.ParseBytes(body)
	list := root
	if b.list != "@this" {
		list = root.Get(b.list)
	}
	if !list.IsArray() {
		return
	}
	elems := list.Array()
	for i := range m.items {
		it := &m.items[i]
		if it.index >= len(elems) {
			continue
		}
		it.keys = make([]string, len(b.resp.keys))
		for k, spec := range b.resp.keys {
			it.keys[k] = spec.str(elems[it.index], root, nil)
		}
	}
}

// recordBatch records the batch's records the response reports written.
func (e *Engine) recordBatch(ctx context.Context, m *Multi, resp []byte, out *MultiOutcome) {
	rs := &m.Route.batch.resp
	if rs.list == "" {
		// The response reports nothing per record (an asynchronous job):
		// every record of a 2xx answer counts as written.
		for _, w := range m.Writes {
			switch {
			case len(w.Fields) == 0:
				out.Empty++
			case w.Record == "":
				out.Unmatched++
			default:
				e.recordOne(ctx, w, gjson.Result{}, 0, out)
			}
		}
		return
	}
	var results []gjson.Result
	var root gjson.Result
	if len(resp) > 0 && gjson.ValidBytes(resp) {
		root = gjson.ParseBytes(resp)
		list := root
		if rs.list != "@this" {
			list = root.Get(rs.list)
		}
		if list.IsArray() {
			results = list.Array()
		}
	}
	ix := newResultIndex(rs, results, root)
	for i, w := range m.Writes {
		if len(w.Fields) == 0 {
			out.Empty++
			continue
		}
		j := ix.find(rs, m, i)
		if j < 0 {
			out.Unmatched++
			continue
		}
		res := results[j]
		if rs.success.kind != specNone && !written(rs.success.result(res, root, nil)) {
			e.failedItem(ctx, w, out)
			continue
		}
		if w.Record == "" {
			if w.Record = createdRecord(w, rs.id.str(res, root, nil)); w.Record == "" {
				out.Unmatched++
				continue
			}
		}
		var state gjson.Result
		if rs.record != "-" {
			state = res.Get(rs.record)
		}
		var at int64
		if rs.time.kind != specNone {
			if t := parseTime(rs.time.result(res, root, nil)); !t.IsZero() {
				at = t.UnixNano()
			}
		}
		e.recordOne(ctx, w, state, at, out)
	}
}

// resultIndex finds a record's result by id or by key; a value two
// results share finds neither.
type resultIndex struct {
	n     int
	byID  map[string]int
	byKey []map[string]int
}

func newResultIndex(rs *batchResp, results []gjson.Result, root gjson.Result) *resultIndex {
	ix := &resultIndex{n: len(results)}
	add := func(m map[string]int, v string, j int) {
		if v == "" {
			return
		}
		if _, dup := m[v]; dup {
			m[v] = -1
			return
		}
		m[v] = j
	}
	for _, how := range rs.match {
		switch {
		case how == "id" && ix.byID == nil:
			ix.byID = make(map[string]int, len(results))
			for j, res := range results {
				add(ix.byID, rs.id.str(res, root, nil), j)
			}
		case how == "key" && ix.byKey == nil:
			ix.byKey = make([]map[string]int, len(rs.keys))
			for k, spec := range rs.keys {
				ix.byKey[k] = make(map[string]int, len(results))
				for j, res := range results {
					add(ix.byKey[k], spec.str(res, root, nil), j)
				}
			}
		}
	}
	return ix
}

// find returns the index of record i's result, or -1: the match methods
// are tried in order.
func (ix *resultIndex) find(rs *batchResp, m *Multi, i int) int {
	w, it := m.Writes[i], &m.items[i]
	for _, how := range rs.match {
		switch how {
		case "id":
			if j, ok := ix.byID[w.Record]; ok && w.Record != "" && j >= 0 {
				return j
			}
		case "key":
			for k, v := range it.keys {
				if j, ok := ix.byKey[k][v]; ok && v != "" && j >= 0 {
					return j
				}
			}
		case "position":
			if ix.n == m.n && it.index < ix.n {
				return it.index
			}
		}
	}
	return -1
}
