package filters

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
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
// (credentials) are hashed, never kept.
func (p *Provider) AccountOf(host string, u *url.URL, h http.Header, ps *Params) string {
	a := p.Profile.Account
	switch a.From {
	case "header":
		v := h.Get(a.Header)
		if v == "" {
			return "unknown"
		}
		sum := sha256.Sum256([]byte(v))
		return "h:" + hex.EncodeToString(sum[:6])
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
// and the sentinel in the body (JSON in place, or form-encoded). body may be
// nil when it was not buffered (too large); then only headers are stamped.
func (p *Provider) Tag(r *WriteRoute, ps *Params, account string, h http.Header, body []byte, untagged string) *Write {
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
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json") || (mt == "" && gjson.ValidBytes(body)):
		rec := gjson.ParseBytes(body)
		if r.Fields != "" {
			rec = rec.Get(r.Fields)
		}
		if !rec.IsObject() {
			w.Untagged = "not_an_object"
			return w
		}
		fields = p.FP.FromJSON(nil, rec)
		w.FP = tagging.Combine(fields)
		if pr.Tagging.SentinelField != "" {
			out, err := tagging.SetJSON(body, r.Fields, pr.Tagging.SentinelField, tagging.Sentinel(p.agent, w.FP))
			if err != nil {
				w.Untagged = "sentinel_failed"
			} else {
				w.Body = out
			}
		}
	case mt == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			w.Untagged = "malformed_form"
			return w
		}
		fields = p.FP.FromForm(nil, vals)
		w.FP = tagging.Combine(fields)
		if pr.Tagging.SentinelField != "" {
			w.Body = tagging.SetForm(body, tagging.FormKey(pr.Tagging.SentinelField), tagging.Sentinel(p.agent, w.FP))
		}
	default:
		w.Untagged = "content_type"
		return w
	}
	w.Fields = toLedger(fields)
	return w
}

// CreatedID reads a created record's id from the response body; a route
// whose record_id is a template gets the template with {id} = that id.
func (w *Write) CreatedID(resp []byte) string {
	if w.Route.CreateID == "" || !gjson.ValidBytes(resp) {
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

// RecordWrite remembers a write the upstream accepted (2xx).
func (e *Engine) RecordWrite(ctx context.Context, w *Write) error {
	if w.Record == "" || len(w.Fields) == 0 {
		return nil
	}
	return e.store.RecordWrite(ctx, w.Key(), w.Fields, w.FP, e.now())
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
