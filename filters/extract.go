package filters

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/tagging"
	"github.com/tidwall/gjson"
)

// ErrMalformed is returned for a delivery that cannot be split into events;
// the proxy forwards such a delivery untouched.
var ErrMalformed = errors.New("malformed delivery")

// Extract splits a delivery into events using the route's paths. The
// events' spans point into body (into the decoded form field, for a route
// reading one: see payload). A body that is not JSON, or whose batch path
// is not an array of objects, is ErrMalformed (ErrTooDeep, checked first,
// when it is nested past the depth limit); on error dst is returned as it
// came (no events of a malformed delivery are ever decided).
func (p *Provider) Extract(r *WebhookRoute, body []byte, h http.Header, dst []Event) ([]Event, error) {
	if r.shape.xml {
		return p.extractXML(r, body, h, dst)
	}
	body, form, err := r.payload(body, h)
	if err != nil {
		return dst, fmt.Errorf("extract %s: %w", p.Name, err)
	}
	n0 := len(dst)
	dst, err = p.extractJSON(r, body, h, dst)
	for i := n0; form && err == nil && i < len(dst); i++ {
		dst[i].inForm = true
	}
	return dst, err
}

// extractJSON splits a JSON payload into events.
func (p *Provider) extractJSON(r *WebhookRoute, body []byte, h http.Header, dst []Event) ([]Event, error) {
	switch valid, tooDeep := p.checkJSON(body); {
	case tooDeep:
		return dst, p.errTooDeep("extract")
	case !valid:
		return dst, fmt.Errorf("extract %s: %w: not valid JSON", p.Name, ErrMalformed)
	}
	// Parsed where it lies (gjson.ParseBytes would copy it: 5 MiB more
	// per 5 MiB delivery). Safe: a buffered body is never changed (a
	// rewrite or a sentinel makes a new slice), and every string an event
	// keeps is detached from it.
	root := gjson.Parse(unsafe.String(unsafe.SliceData(body), len(body)))
	if r.batch == "" {
		if !root.IsObject() {
			return dst, fmt.Errorf("extract %s: %w: want a JSON object", p.Name, ErrMalformed)
		}
		return p.events(r, root, root, h, 0, len(body), dst), nil
	}
	arr := root
	if r.batch != "@this" {
		arr = root.Get(r.batch)
	}
	if !arr.IsArray() {
		if r.shape.optional && arr.IsObject() {
			return p.single(r, arr, root, body, h, dst)
		}
		return dst, fmt.Errorf("extract %s: %w: %q is not an array", p.Name, ErrMalformed, r.batch)
	}
	var err error
	n0 := len(dst)
	arr.ForEach(func(_, v gjson.Result) bool {
		if !v.IsObject() {
			err = fmt.Errorf("extract %s: %w: batch element is not an object", p.Name, ErrMalformed)
			return false
		}
		// The span must be the element's own bytes (a batch path that
		// builds a new array, e.g. with a modifier, has no such span).
		if end := v.Index + len(v.Raw); v.Index <= 0 || end > len(body) || string(body[v.Index:end]) != v.Raw {
			err = fmt.Errorf("extract %s: %w: batch element has no span in the body", p.Name, ErrMalformed)
			return false
		}
		dst = p.events(r, v, root, h, v.Index, v.Index+len(v.Raw), dst)
		return true
	})
	if err != nil {
		return dst[:n0], err
	}
	return dst, nil
}

// single extracts a batch that holds one event object instead of an array
// (batch_optional): the object is the one element, its bytes its span.
func (p *Provider) single(r *WebhookRoute, v, root gjson.Result, body []byte, h http.Header, dst []Event) ([]Event, error) {
	if r.batch == "@this" {
		return p.events(r, v, root, h, 0, len(body), dst), nil
	}
	if end := v.Index + len(v.Raw); v.Index <= 0 || end > len(body) || string(body[v.Index:end]) != v.Raw {
		return dst, fmt.Errorf("extract %s: %w: batch element has no span in the body", p.Name, ErrMalformed)
	}
	return p.events(r, v, root, h, v.Index, v.Index+len(v.Raw), dst), nil
}

// events appends the events of one delivery element (its bytes are
// body[start:end]): normally one, one per record id when the record id is
// an array, and a bare one (forwarded without evaluation) when no route of
// the group applies to it.
func (p *Provider) events(group *WebhookRoute, ev, root gjson.Result, h http.Header, start, end int, dst []Event) []Event {
	r := group.pick(ev, root, h)
	if r == nil {
		return append(dst, Event{Source: group.source, Provider: p.Name, Start: start, End: end})
	}
	x := view(ev)
	x.scan(r.heads)
	e := p.event(r, &x, root, h)
	e.Start, e.End = start, end
	detach(&e)
	r.record.eachIn(&x, root, h, func(id string) {
		e.Record = strings.Clone(id)
		dst = append(dst, e)
	})
	return dst
}

// event extracts everything but the record id.
func (p *Provider) event(r *WebhookRoute, x *evView, root gjson.Result, h http.Header) Event {
	ev := x.ev
	e := Event{
		Source:   r.source,
		Provider: p.Name,
		Object:   p.canonObject(r.object.strIn(x, root, h)),
		Account:  r.account.strIn(x, root, h),
		Actor:    r.actor.strIn(x, root, h),
		ID:       r.eventID.strIn(x, root, h),
		route:    r,
	}
	if r.occurred.kind != specNone {
		e.OccurredAt = parseTime(r.occurred.resultIn(x, root, h))
		if !e.OccurredAt.IsZero() {
			e.ProviderAt = r.shape.order(e.OccurredAt.UnixNano(), ev, root, h)
		}
	}
	if len(r.markers) > 0 {
		e.Marks = make([]string, len(r.markers))
		for i, m := range r.markers {
			e.Marks[i] = m.from.strIn(x, root, h)
		}
	}
	e.Unordered, e.EveryWrite = r.unordered, r.everyWrite
	switch {
	case r.recPath.kind != specNone:
		rec := r.recPath.resultIn(x, root, h)
		var changesOnly bool
		e.Fields, changesOnly = p.recordFields(r, rec, ev, root, h)
		if r.nullsUnchanged && len(e.Fields) == 0 {
			// Every tracked field null: the change touched none of them.
			e.Untouched = len(p.FP.FromJSON(nil, rec)) > 0
		}
		e.Partial = r.partial || changesOnly
		if r.sentinel != "" {
			if s := rec.Get(r.sentinel); s.Type == gjson.String {
				e.Sentinel = s.Str
			}
		}
	case r.propName.kind != specNone:
		name := r.propName.strIn(x, root, h)
		val := r.propVal.resultIn(x, root, h)
		e.Partial = true
		if name != "" && name == r.sentinel {
			e.SentinelChange, e.Sentinel = true, val.String()
		} else if fh, ok := p.FP.Property(name, val); ok {
			if i, ok := p.FP.Tracked(name); ok {
				fh.Name = p.FP.Fields()[i] // the profile's string, not the body's (see detach)
			}
			e.Fields = []ledger.Field{{Name: fh.Name, Hash: fh.Hash}}
		}
	}
	return e
}

func toLedger(fs []tagging.FieldHash) []ledger.Field {
	if len(fs) == 0 {
		return nil
	}
	out := make([]ledger.Field, len(fs))
	for i, f := range fs {
		out[i] = ledger.Field{Name: f.Name, Hash: f.Hash}
	}
	return out
}

// parseTime reads epoch seconds or milliseconds, RFC 3339, the
// Salesforce/Jira form ("2026-11-27T10:00:05.000+0000": no colon in the
// offset) or Pipedrive v1's ("2026-11-27 10:00:05", UTC).
func parseTime(r gjson.Result) time.Time {
	switch r.Type {
	case gjson.Number:
		n := r.Int()
		if n > 1e12 {
			return time.UnixMilli(n)
		}
		return time.Unix(n, 0)
	case gjson.String:
		for _, layout := range [...]string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999-0700", time.DateTime} {
			if t, err := time.Parse(layout, r.Str); err == nil {
				return t
			}
		}
		if n, err := strconv.ParseInt(r.Str, 10, 64); err == nil {
			return parseTime(gjson.Result{Type: gjson.Number, Num: float64(n), Raw: r.Str})
		}
	}
	return time.Time{}
}
