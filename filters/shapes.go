package filters

import (
	"net/http"
	"strings"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/tagging"
	"github.com/tidwall/gjson"
)

// routeShape is the compiled delivery shape of a webhook route beyond a
// JSON array of full records: an XML body, a batch that may be one event,
// a change header naming the fields an event changes, an order within one
// provider time, and the provider's own acknowledgement.
type routeShape struct {
	xml bool
	// optional: the batch path may hold one event object.
	optional bool
	// changed, nulled and diff list the fields an event changes, sets to
	// null, and sends as diffs (Salesforce ChangeEventHeader).
	changed, nulled, diff valueSpec
	// seq orders events sharing one occurred_at.
	seq valueSpec
	ack *configs.Ack
}

func compileShape(h configs.WebhookRoute) routeShape {
	return routeShape{
		xml:      h.Format == configs.FormatXML,
		optional: h.BatchOptional,
		changed:  compileSpec(h.ChangedFields),
		nulled:   compileSpec(h.NulledFields),
		diff:     compileSpec(h.DiffFields),
		seq:      compileSpec(h.Sequence),
		ack:      h.Ack,
	}
}

// Ack returns what loopguard answers in the app's place for this route's
// deliveries, or nil for the default JSON summary.
func (r *WebhookRoute) Ack() *configs.Ack {
	if r == nil {
		return nil
	}
	return r.shape.ack
}

// eventPaths inverts the profile's compound map (event path → tracked
// field) into tracked field → event path.
func eventPaths(compound map[string]string) map[string]string {
	if len(compound) == 0 {
		return nil
	}
	out := make(map[string]string, len(compound))
	for path, field := range compound {
		out[field] = path
	}
	return out
}

// maxSequence keeps a sequence number within the nanoseconds of one
// millisecond, so that it orders events of one commit without passing the
// next commit's time.
const maxSequence = 999_999

// order adds the event's sequence to its provider time (nanoseconds).
// Without a provider time the sequence alone is not comparable with the
// times of other events and writes, so it is ignored.
func (s *routeShape) order(at int64, ev, root gjson.Result, h http.Header) int64 {
	if at == 0 || s.seq.kind == specNone {
		return at
	}
	v := s.seq.result(ev, root, h)
	if v.Type != gjson.Number && v.Type != gjson.String {
		return at
	}
	n := v.Int()
	if n <= 0 {
		return at
	}
	return at + min(n, maxSequence)
}

// recordFields returns the tracked values an event's record carries. With
// a change header (changed_fields) it counts only the fields the header
// names: an unchanged field's null is not a value. With the profile's
// compound map, a tracked field is read where the events carry it.
//
// changesOnly reports that the values are only the fields that changed (a
// change list, or nulls meaning "unchanged"): a non-empty event then
// changed something.
func (p *Provider) recordFields(r *WebhookRoute, rec, ev, root gjson.Result, h http.Header) (_ []ledger.Field, changesOnly bool) {
	s := &r.shape
	var changed, nulled, diff []string
	if s.changed.kind != specNone {
		changed = stringList(s.changed.result(ev, root, h))
	}
	restrict := len(changed) > 0
	changesOnly = restrict || r.nullsUnchanged
	if !restrict && len(p.eventPaths) == 0 {
		var scratch [16]tagging.FieldHash // toLedger copies: one allocation
		if r.nullsUnchanged {
			return toLedger(p.FP.FromJSONSkipNull(scratch[:0], rec)), true
		}
		return toLedger(p.FP.FromJSON(scratch[:0], rec)), false
	}
	if !rec.IsObject() {
		return nil, changesOnly
	}
	if restrict {
		if encodedBitmap(changed) {
			// Pub/Sub sends these lists as bitmaps over the event schema
			// until a client decodes them: which fields changed is unknown,
			// so no value is taken for one.
			return nil, false
		}
		nulled = stringList(s.nulled.result(ev, root, h))
		diff = stringList(s.diff.result(ev, root, h))
	}
	var out []ledger.Field
	for _, name := range p.FP.Fields() {
		path := name
		if ep, ok := p.eventPaths[name]; ok {
			path = ep
		}
		// A route whose records carry the field flat (Salesforce Outbound
		// Messages: BillingCity) reads it under its own name.
		if path != name && !rec.Get(path).Exists() && rec.Get(name).Exists() {
			path = name
		}
		var v gjson.Result
		switch {
		case restrict && names(diff, path):
			continue // a diff of a long text, not its value
		case restrict && names(nulled, path):
			v = gjson.Result{Type: gjson.Null, Raw: "null"}
		case restrict && !names(changed, path):
			continue // unchanged: its null (Pub/Sub) says nothing
		default:
			if v = rec.Get(path); !v.Exists() || (r.nullsUnchanged && v.Type == gjson.Null) {
				continue
			}
		}
		if fh, ok := p.FP.Property(name, v); ok {
			out = append(out, ledger.Field{Name: fh.Name, Hash: fh.Hash})
		}
	}
	return out, changesOnly
}

// maxListed bounds the entries read from one field list.
const maxListed = 4096

// stringList reads a JSON array of strings (or one string) as a list.
func stringList(r gjson.Result) []string {
	switch {
	case r.Type == gjson.String && r.Str != "":
		return []string{r.Str}
	case !r.IsArray():
		return nil
	}
	var out []string
	r.ForEach(func(_, v gjson.Result) bool {
		if v.Type == gjson.String && v.Str != "" {
			out = append(out, v.Str)
		}
		return len(out) < maxListed
	})
	return out
}

// names reports whether a field list names path, or a compound field path
// belongs to ("BillingAddress" names "BillingAddress.City").
func names(list []string, path string) bool {
	for _, n := range list {
		if n == path || (len(path) > len(n) && path[len(n)] == '.' && strings.HasPrefix(path, n)) {
			return true
		}
	}
	return false
}

// encodedBitmap reports a field list still encoded as Pub/Sub bitmaps
// ("0x1F", "3-0x01").
func encodedBitmap(list []string) bool {
	for _, n := range list {
		if strings.HasPrefix(n, "0x") || strings.Contains(n, "-0x") {
			return true
		}
	}
	return false
}
