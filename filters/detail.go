package filters

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/tidwall/gjson"
)

// What an event carries, spelled out for people (`loopguard explain`):
// its actor, each marker's value, the tracked values as the event holds
// them, and the value specs that read something no layer can use (an
// object where a string is needed: `actor: actor` instead of `actor.id`).

// FieldValue is one tracked field as an event carries it: Raw is its JSON
// text ("null" for a field the change header nulls).
type FieldValue struct{ Name, Raw string }

// MarkValue is one marker of the event's route and the value found.
type MarkValue struct {
	// From is the marker's value spec; Value what it read.
	From, Value string
	// Match and Want are how the marker compares and with what.
	Match, Want string
}

// EventDetail is what one event carries.
type EventDetail struct {
	Route    string // "POST /webhooks/x", "" when no route took the event
	Actor    string
	Marks    []MarkValue
	Values   []FieldValue
	Sentinel string
	// Problems name value specs whose value no layer can use.
	Problems []string
}

// maxRawShown bounds a raw value in an explanation.
const maxRawShown = 80

// Detail spells out an event extracted from body (with the delivery or
// response headers h).
func (p *Provider) Detail(ev *Event, body []byte, h http.Header) EventDetail {
	r := ev.route
	if r == nil {
		return EventDetail{}
	}
	d := EventDetail{Route: r.Method + " " + r.Tpl.String(), Actor: ev.Actor, Sentinel: ev.Sentinel}
	el, root, ok := p.element(r, ev, body, h)
	if !ok {
		return d
	}
	for i, m := range r.markers {
		v := ""
		if i < len(ev.Marks) {
			v = ev.Marks[i]
		}
		d.Marks = append(d.Marks, MarkValue{From: m.from.text, Value: v, Match: m.match, Want: m.value})
	}
	d.Values = p.values(r, ev, el, root, h)
	d.Problems = r.problems(el, root, h)
	return d
}

// element re-reads the element an event came from.
func (p *Provider) element(r *WebhookRoute, ev *Event, body []byte, h http.Header) (el, root gjson.Result, ok bool) {
	if ev.Start < 0 || ev.End > len(body) || ev.Start > ev.End {
		return el, root, false
	}
	if r.shape.xml {
		doc, err := parseXML(body)
		if err != nil {
			return el, root, false
		}
		root = gjson.ParseBytes(doc.docJSON())
		if r.batch == "" {
			return root, root, true
		}
		for _, n := range doc.find(r.batch) {
			if n.start == ev.Start {
				return gjson.ParseBytes(n.appendJSON(nil)), root, true
			}
		}
		return el, root, false
	}
	body, _, err := r.payload(body, h) // the decoded field of a form delivery
	if err != nil || ev.End > len(body) {
		return el, root, false
	}
	root = gjson.ParseBytes(body)
	if ev.Start == 0 && ev.End == len(body) {
		return root, root, true
	}
	return gjson.ParseBytes(body[ev.Start:ev.End]), root, true
}

// values returns the event's tracked values with their raw text.
func (p *Provider) values(r *WebhookRoute, ev *Event, el, root gjson.Result, h http.Header) []FieldValue {
	var out []FieldValue
	if r.propName.kind != specNone {
		if len(ev.Fields) > 0 {
			out = append(out, FieldValue{Name: ev.Fields[0].Name, Raw: shorten(r.propVal.result(el, root, h).Raw)})
		}
		return out
	}
	rec := r.recPath.result(el, root, h)
	for _, f := range ev.Fields {
		path := f.Name
		if ep, ok := p.eventPaths[f.Name]; ok && rec.Get(ep).Exists() {
			path = ep
		}
		raw := "null"
		if v := rec.Get(path); v.Exists() {
			raw = v.Raw
		}
		out = append(out, FieldValue{Name: f.Name, Raw: shorten(raw)})
	}
	return out
}

// problems reports the route's value specs that read an object (or a list
// of several values where one is needed) from this event: such a value is
// never equal to an integration user, an id or a marker, so the layer
// reading it silently abstains.
func (r *WebhookRoute) problems(el, root gjson.Result, h http.Header) []string {
	var out []string
	check := func(name string, s valueSpec, listOK bool) {
		if s.kind == specNone {
			return
		}
		v := s.result(el, root, h)
		switch {
		case v.IsObject():
			out = append(out, fmt.Sprintf("%s: %q reads an object (%s), not a value: name a field inside it, e.g. %s", name, s.text, shorten(v.Raw), suggest(s.text, v)))
		case v.IsArray() && !listOK && len(v.Array()) > 1:
			out = append(out, fmt.Sprintf("%s: %q reads a list of %d values (%s), not one value", name, s.text, len(v.Array()), shorten(v.Raw)))
		}
	}
	check("actor", r.actor, false)
	check("object_type", r.object, false)
	check("account", r.account, false)
	check("occurred_at", r.occurred, false)
	for i, s := range r.eventID {
		check(fmt.Sprintf("event_id[%d]", i), s, false)
	}
	for i, s := range r.record {
		check(fmt.Sprintf("record_id[%d]", i), s, true) // a list of ids fans out
	}
	for i, m := range r.markers {
		check(fmt.Sprintf("markers[%d].from", i), m.from, false)
	}
	return out
}

// suggest names a likely string field inside an object a spec read.
func suggest(spec string, obj gjson.Result) string {
	base := spec
	if alts := strings.Split(spec, " ?? "); len(alts) > 0 {
		base = strings.TrimSpace(alts[0])
	}
	for _, k := range []string{"id", "gid", "accountId", "key", "name", "login", "email"} {
		if v := obj.Get(k); v.Exists() && !v.IsObject() && !v.IsArray() {
			return base + "." + k
		}
	}
	return base + ".<field>"
}

func shorten(raw string) string {
	if len(raw) <= maxRawShown {
		return raw
	}
	return raw[:maxRawShown-1] + "…"
}

// HeaderSpecs returns the headers the route's group reads in its when
// conditions (which pick the route) and in its event and record ids
// (dedup and the record). Markers and other specs may be absent by design.
func (r *WebhookRoute) HeaderSpecs() (when, ids []string) {
	group := r.group
	if len(group) == 0 {
		group = []*WebhookRoute{r}
	}
	add := func(dst *[]string, s valueSpec) {
		for a := &s; a != nil; a = a.next {
			if a.kind == specHeader && !slices.Contains(*dst, a.s) {
				*dst = append(*dst, a.s)
			}
		}
	}
	for _, g := range group {
		if g.when != nil {
			add(&when, g.when.from)
		}
		for _, s := range append(slices.Clone(g.eventID), g.record...) {
			add(&ids, s)
		}
	}
	return when, ids
}
