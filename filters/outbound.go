package filters

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/tagging"
	"github.com/tidwall/gjson"
)

// Write is a matched outbound write, prepared for tagging and recording.
type Write struct {
	Provider *Provider
	Route    *WriteRoute
	Account  string
	Object   string
	// Record is the record id; empty for a create until the response names it.
	Record string
	Fields []ledger.Field
	FP     uint64
	// Body is the tagged body; nil when the body was left untouched.
	Body []byte
	// Untagged says why the body was left untouched ("" when tagged).
	Untagged string
	// NoOp: every written value is what the app already holds.
	NoOp bool
	// Nonce identifies the write's sentinel (0: none); Created, that it
	// was stamped on a create, before the record had an id.
	Nonce   uint64
	Created bool
	// params are the matched path parameters, for a create's record id
	// template.
	params Params
}

// Key is the ledger key of the written record.
func (w *Write) Key() ledger.Key {
	return ledger.Key{Provider: w.Provider.Name, Object: w.Object, Record: w.Record}
}

// MatchWrite finds the write route for a request.
func (p *Provider) MatchWrite(method, path string) (*WriteRoute, Params, bool) {
	var ps Params
	for _, r := range p.writes {
		if slices.Contains(r.Methods, method) && r.Tpl.Match(path, &ps) {
			return r, ps, true
		}
	}
	return nil, ps, false
}

// HasWrites reports whether the provider has write routes.
func (p *Provider) HasWrites() bool { return len(p.writes) > 0 }

// AccountOf finds the account of an outbound request. Header values
// (credentials) are never kept: they are keyed with the deployment key
// (see accountKey).
func (p *Provider) AccountOf(host string, u *url.URL, h http.Header, ps *Params) string {
	a := p.Profile.Account
	switch a.From {
	case "header":
		v := h.Get(a.Header)
		if v == "" {
			return "unknown"
		}
		return accountKey(p.secret, v)
	case "host":
		return host
	case "path":
		if v, ok := ps.Get(a.Param); ok {
			return v
		}
	case "query":
		if v := u.Query().Get(a.Param); v != "" {
			return v
		}
	case "static":
		return a.Value
	}
	return "unknown"
}

// Tag stamps a matched write: change-agent headers and idempotency key on h,
// and the sentinel in the body (JSON edited in place, or a form pair). body
// may be nil when it was not buffered (too large); then only headers are
// stamped. The body's kind is sniffed, not taken from Content-Type alone: a
// JSON body sent as form data is tagged as JSON, and form pairs are added
// only to a body that is form data — a body is never corrupted.
//
// A write that changes nothing (every written value is what the app
// already holds) gets no sentinel: on an API that stores the field, the
// sentinel alone would make it a change (one more event, an updatedAt bump).
func (p *Provider) Tag(ctx context.Context, r *WriteRoute, ps *Params, account string, h http.Header, body []byte, untagged string) *Write {
	w := &Write{Provider: p, Route: r, Account: account, Object: p.canonObject(resolveParam(r.Object, ps)), Record: expandParams(r.RecordID, ps), Untagged: untagged, params: *ps}
	pr := p.Profile
	tagging.SetHeaders(h, pr.Tagging.Headers, p.agent)
	if ik := pr.Tagging.IdempotencyKey; ik.Header != "" && h.Get(ik.Header) == "" {
		h.Set(ik.Header, ik.Prefix+randomHex(16))
	}
	if r.TagOnly {
		// Headers only: the body is left as sent and nothing is recorded.
		return w
	}
	if body == nil || untagged != "" {
		if w.Untagged == "" {
			w.Untagged = "no_body"
		}
		return w
	}
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	var fields []tagging.FieldHash
	if p.tooDeep(body) {
		w.Untagged = "too_deep" // never handed to a recursive parser (sniffBody's gjson.Valid)
		return w
	}
	var sentinel func(s string) ([]byte, error)
	switch kind := sniffBody(mt, body); kind {
	case bodyJSON:
		rec := gjson.ParseBytes(body)
		if r.Fields != "" {
			rec = rec.Get(r.Fields)
		}
		if !rec.IsObject() {
			w.Untagged = "not_an_object"
			return w
		}
		fields = p.FP.FromJSON(nil, rec)
		sentinel = func(s string) ([]byte, error) { return tagging.SetJSON(body, r.Fields, pr.Tagging.SentinelField, s) }
	case bodyForm:
		vals, _ := url.ParseQuery(string(body))
		fields = p.FP.FromForm(nil, vals)
		sentinel = func(s string) ([]byte, error) {
			return tagging.SetForm(body, tagging.FormKey(pr.Tagging.SentinelField), s), nil
		}
	default:
		w.Untagged = string(kind)
		return w
	}
	w.Fields = toLedger(fields)
	w.FP = tagging.Combine(fields)
	if len(w.Fields) == 0 {
		return w
	}
	// A write that changes nothing is known as such whether or not it is
	// stamped: it must never be matched as a later event's "echo".
	if w.NoOp = p.holds(ctx, w); w.NoOp || pr.Tagging.SentinelField == "" {
		return w
	}
	w.Nonce = randomNonce()
	rec := w.Record
	if rec == "" {
		w.Created = true
	}
	out, err := sentinel(p.key.Sentinel(p.agent, tagging.Binding{Provider: p.Name, Object: w.Object, Record: rec, Nonce: w.Nonce, FP: w.FP}))
	if err != nil {
		w.Untagged, w.Nonce, w.Created = "sentinel_failed", 0, false
		return w
	}
	w.Body = out
	return w
}

// holds reports whether the app already holds every written value of the
// record (the write changes nothing): what the ledger says it holds, or
// what is being handed to it right now (the app's write-back of an event,
// made before it answered the delivery); false when unknown.
func (p *Provider) holds(ctx context.Context, w *Write) bool {
	if w.Record == "" || p.store == nil {
		return false
	}
	var st ledger.State
	ok, err := p.store.Get(ctx, w.Key(), &st)
	if err != nil {
		return false
	}
	offered, fresh := p.offers.getFresh(w.Key())
	// A write-back writes the whole event back (or at least every field
	// it carried), at once; an edit that leaves one of them out, or comes
	// seconds later, is not one.
	writeBack := offered != nil && fresh
	for _, o := range offered {
		if _, ok := findField(w.Fields, o.Name); !ok {
			writeBack = false
			break
		}
	}
	for _, f := range w.Fields {
		v, known := st.AppValue(f.Name)
		if ok && known && v.Hash == f.Hash {
			continue
		}
		i, has := findField(offered, f.Name)
		if has && offered[i].Hash == f.Hash {
			continue
		}
		// Writing back an event it is being handed, the app writes the
		// rest of its copy too: a field loopguard knows nothing of is
		// taken to be what the app holds (not for a write that leaves out
		// a field of the event: an edit, simulator seed 3905).
		if writeBack && !has && !(ok && known) {
			continue
		}
		return false
	}
	return len(w.Fields) > 0
}

// bodyKind is what a write body is, whatever its Content-Type says (the
// values double as untagged reasons).
type bodyKind string

const (
	bodyJSON     bodyKind = "json"
	bodyForm     bodyKind = "form"
	bodyJSONLike bodyKind = "malformed_json"
	bodyBadForm  bodyKind = "malformed_form"
	bodyOther    bodyKind = "content_type"
)

// sniffBody decides how a write body may be tagged. A body that looks like
// JSON (first non-space byte '{' or '[') is JSON when it is valid and is
// never treated as form data; form pairs are added only to bodies declared
// as forms that parse as forms.
func sniffBody(mt string, body []byte) bodyKind {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	jsonish := len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[')
	declaredJSON := mt == "application/json" || strings.HasSuffix(mt, "+json")
	switch {
	case jsonish || declaredJSON:
		if jsonish && gjson.ValidBytes(body) {
			return bodyJSON
		}
		return bodyJSONLike
	case mt == "application/x-www-form-urlencoded":
		if _, err := url.ParseQuery(string(body)); err != nil {
			return bodyBadForm
		}
		return bodyForm
	case mt == "" && len(trimmed) == 0:
		return bodyOther
	}
	return bodyOther
}

// CreatedID reads a created record's id from the response body; a route
// whose record_id is a template gets the template with {id} = that id.
func (w *Write) CreatedID(resp []byte) string {
	if w.Route.CreateID == "" || !w.Provider.validJSON(resp) {
		return ""
	}
	id := gjson.GetBytes(resp, w.Route.CreateID).String()
	if id == "" || !strings.Contains(w.Route.RecordID, "{") {
		return id
	}
	ps := w.params
	ps.add("id", id)
	return expandParams(w.Route.RecordID, &ps)
}

// RecordWrite remembers a write the upstream accepted (2xx) as the next
// version of its record's history. resp is the response body (nil when it
// was not read): when it holds the record (see WriteRoute.Response), its
// tracked fields are the state the write is expected to leave.
func (e *Engine) RecordWrite(ctx context.Context, w *Write, resp []byte) error {
	if w.Record == "" || len(w.Fields) == 0 {
		return nil
	}
	e.offers.supersede(w.Key(), w.Fields)
	lw := ledger.Write{Fields: w.Fields, At: e.now(), FP: w.FP, Nonce: w.Nonce, Created: w.Created, NoOp: w.NoOp}
	if r := w.Route.Response; r != "-" && len(resp) > 0 && w.Provider.validJSON(resp) {
		root := gjson.ParseBytes(resp)
		rec := root
		if r != "" {
			rec = root.Get(r)
		}
		if rec.IsObject() {
			if fs := w.Provider.FP.FromJSON(nil, rec); len(fs) > 0 {
				lw.Response = toLedger(fs)
			}
			if w.Route.ResponseTime.kind != specNone {
				if t := parseTime(w.Route.ResponseTime.result(rec, root, nil)); !t.IsZero() {
					lw.ProviderAt = t.UnixNano()
				}
			}
		}
	}
	return e.store.RecordWrite(ctx, w.Key(), lw)
}

// Unsent tells the ledger that a write did not land: loopguard answered
// it locally (an open breaker, a quarantined record) or the API did not
// accept it. The app still holds the values it tried to write, which the
// ledger then no longer claims to know: an event carrying those fields is
// neither "no news" for the app nor matched through them.
func (e *Engine) Unsent(ctx context.Context, w *Write) error {
	if w == nil || w.Record == "" || len(w.Fields) == 0 {
		return nil
	}
	e.offers.supersede(w.Key(), w.Fields)
	return e.store.RecordWrite(ctx, w.Key(), ledger.Write{Fields: w.Fields, At: e.now(), Unsent: true})
}

func randomNonce() uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:])
		if n := binary.BigEndian.Uint64(b[:]); n != 0 {
			return n
		}
	}
}

func resolveParam(v string, ps *Params) string {
	if len(v) > 2 && v[0] == '{' && v[len(v)-1] == '}' {
		s, _ := ps.Get(strings.TrimSuffix(v[1:len(v)-1], "..."))
		return s
	}
	return v
}

// expandParams replaces every "{name}" (or "{name...}") in a record id
// template with the path parameter; "" when one is missing.
func expandParams(tpl string, ps *Params) string {
	if !strings.Contains(tpl, "{") {
		return tpl
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(tpl, '{')
		if i < 0 {
			b.WriteString(tpl)
			return b.String()
		}
		j := strings.IndexByte(tpl[i:], '}')
		if j < 0 {
			b.WriteString(tpl)
			return b.String()
		}
		v, ok := ps.Get(strings.TrimSuffix(tpl[i+1:i+j], "..."))
		if !ok || v == "" {
			return ""
		}
		b.WriteString(tpl[:i])
		b.WriteString(v)
		tpl = tpl[i+j+1:]
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
