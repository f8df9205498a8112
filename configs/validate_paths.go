package configs

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Checks for paths and routes that are well-formed but can never match, so
// that `loopguard validate` reports them instead of a deployment silently
// forwarding every echo.

// fingerprints reports whether anything in the profile computes a
// fingerprint, which needs tracked_fields.
func fingerprints(p *Profile) bool {
	for _, w := range p.Writes {
		if !w.TagOnly {
			return true
		}
	}
	for _, h := range p.Webhooks {
		if h.Record != "" || h.PropertyName != "" {
			return true
		}
	}
	// A read route always reads a record's values (record defaults to the
	// list element).
	return len(p.Reads) > 0
}

// templateRefs returns the names of every "{name}" in a record_id template.
func templateRefs(v string) []string {
	var out []string
	for {
		i := strings.IndexByte(v, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(v[i:], '}')
		if j < 0 {
			return out
		}
		out = append(out, strings.TrimSuffix(v[i+1:i+j], "..."))
		v = v[i+j+1:]
	}
}

// isCreate reports a create route: POST, with no {id} in its path. Its
// record_id template may use {id} for the created record's id.
func isCreate(w WriteRoute, params []string) bool {
	return slices.Contains(w.Methods, http.MethodPost) && !slices.Contains(params, "id")
}

// unseenHeaders are request headers a Go server never leaves in the header
// map (it moves them to Request.Host and Request.TransferEncoding), so a
// "header:" spec naming them can never have a value.
var unseenHeaders = []string{"Host", "Transfer-Encoding"}

func validatePaths(p *Profile) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	errs = append(errs, validateWritePaths(p)...)
	for i, h := range p.Webhooks {
		field := fmt.Sprintf("webhooks[%d]", i)
		specs := webhookSpecs(h)
		for _, s := range specs {
			if err := checkReachable(h.Batch, s.spec); err != nil {
				add("%s.%s: %w", field, s.name, err)
			}
		}
		if len(h.EventID) > 0 && allLiteral(h.EventID) {
			add("%s.event_id: %q is the same for every event, so every event after the first would be dropped as a redelivery", field, []string(h.EventID))
		}
		if h.When != nil {
			if h.When.From == "" || (len(h.When.In) == 0 && len(h.When.Prefix) == 0) {
				add("%s.when: set from and at least one of in or prefix", field)
			}
		}
		for j, m := range h.Markers {
			if m.Separator != "" && m.Match != "list" {
				add("%s.markers[%d].separator: applies only to match: list", field, j)
			}
			if v := expandMarker(m.Value, p); v == "" {
				add("%s.markers[%d].value: %q is empty once expanded (is tagging.idempotency_key.header set?), and an empty value would match every event", field, j, m.Value)
			}
		}
		if rec := plainPath(h.Record); rec != "" && rec != "@this" {
			for k, f := range p.TrackedFields {
				if under(f, rec) {
					add("tracked_fields[%d]: %q is relative to the record, which %s reads from %q, so it can never match: write %q", k, f, field, rec, strings.TrimPrefix(f, rec+"."))
				}
			}
			if under(h.Sentinel, rec) {
				add("%s.sentinel: %q is relative to the record %q, so it can never match: write %q", field, h.Sentinel, rec, strings.TrimPrefix(h.Sentinel, rec+"."))
			}
		}
		for j := 0; j < i; j++ {
			e := p.Webhooks[j]
			if e.Method != h.Method || e.Path != h.Path {
				continue
			}
			if e.Batch != h.Batch {
				add("%s.batch: %q differs from webhooks[%d]'s %q; routes sharing a path share one batch", field, h.Batch, j, e.Batch)
			}
			if e.Body != h.Body {
				add("%s.body: %q differs from webhooks[%d]'s %q; routes sharing a path share one body", field, h.Body, j, e.Body)
			}
			if e.When == nil {
				add("%s: webhooks[%d] has the same method and path and no when, so it takes every event and this route can never match", field, j)
				break
			}
		}
	}
	return errs
}

func validateWritePaths(p *Profile) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for i, w := range p.Writes {
		field := fmt.Sprintf("writes[%d]", i)
		params, _ := TemplateParams(w.Path)
		hasID := w.RecordID != "" || slices.Contains(params, "id")
		if !hasID && !w.TagOnly && !isCreate(w, params) && w.Batch == nil && w.GraphQL == nil {
			add("%s: %s %s has no record id ({id} in the path or record_id) and is not a create (POST), so its writes can never be recorded: add one, or set tag_only", field, strings.Join(w.Methods, ","), w.Path)
		}
		if f := w.Fields; f != "" {
			for k, t := range p.TrackedFields {
				if under(t, f) {
					add("tracked_fields[%d]: %q is relative to the record, which %s reads from %q, so it can never match: write %q", k, t, field, f, strings.TrimPrefix(t, f+"."))
				}
			}
			if under(p.Tagging.SentinelField, f) {
				add("tagging.sentinel_field: %q is relative to the record, which %s reads from %q: write %q", p.Tagging.SentinelField, field, f, strings.TrimPrefix(p.Tagging.SentinelField, f+"."))
			}
		}
		for j := 0; j < i; j++ {
			e := p.Writes[j]
			if e.Path != w.Path || multiRoute(e, w) {
				continue
			}
			for _, m := range w.Methods {
				if slices.Contains(e.Methods, m) {
					add("%s: %s %s is already matched by writes[%d], so this route can never match it", field, m, w.Path, j)
				}
			}
		}
	}
	return errs
}

type namedSpec struct{ name, spec string }

func webhookSpecs(h WebhookRoute) []namedSpec {
	out := []namedSpec{
		{"object_type", h.ObjectType}, {"account", h.Account}, {"actor", h.Actor},
		{"occurred_at", h.OccurredAt}, {"record", h.Record},
		{"property_name", h.PropertyName}, {"property_value", h.PropertyValue},
	}
	for i, s := range h.RecordID {
		out = append(out, namedSpec{fmt.Sprintf("record_id[%d]", i), s})
	}
	for i, s := range h.EventID {
		out = append(out, namedSpec{fmt.Sprintf("event_id[%d]", i), s})
	}
	for i, m := range h.Markers {
		out = append(out, namedSpec{fmt.Sprintf("markers[%d].from", i), m.From})
	}
	if h.When != nil {
		out = append(out, namedSpec{"when.from", h.When.From})
	}
	out = append(out, namedSpec{"changed_fields", h.ChangedFields}, namedSpec{"nulled_fields", h.NulledFields},
		namedSpec{"diff_fields", h.DiffFields}, namedSpec{"sequence", h.Sequence})
	return out
}

// checkReachable reports a spec alternative that can never have a value:
// an event path rooted at the batch array (paths are relative to each
// event), an array index or "#" applied to an event (events are objects),
// or a header a server never sees.
func checkReachable(batch, spec string) error {
	for _, a := range SpecAlternatives(spec) {
		switch {
		case a == "" || strings.HasPrefix(a, "=") || strings.HasPrefix(a, "body:"):
			continue
		case strings.HasPrefix(a, "header:"):
			name := http.CanonicalHeaderKey(strings.TrimPrefix(a, "header:"))
			if slices.Contains(unseenHeaders, name) {
				return fmt.Errorf("%q: a server never sees a %s header in the delivery's header map, so it can never match", a, name)
			}
			if !validHeaderName(name) {
				return fmt.Errorf("%q: %q is not a valid header name, so it can never match", a, name)
			}
		case batch != "" && batch != "@this" && (a == batch || strings.HasPrefix(a, batch+".")):
			return fmt.Errorf("%q is rooted at the batch %q, but paths are relative to each event, so it can never match: write %q (or body:%s for the whole delivery)", a, batch, strings.TrimPrefix(a, batch+"."), a)
		case strings.HasPrefix(a, "#"):
			return fmt.Errorf("%q indexes an array, but each event is a JSON object, so it can never match", a)
		case batch == "@this" && startsWithIndex(a):
			return fmt.Errorf("%q indexes the root array, but paths are relative to each event, so it can never match: drop the index", a)
		}
	}
	return nil
}

func startsWithIndex(a string) bool {
	seg, _, _ := strings.Cut(a, ".")
	if seg == "" {
		return false
	}
	for _, r := range seg {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// validHeaderName reports an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

// allLiteral reports specs that are all "=literal".
func allLiteral(specs []string) bool {
	for _, s := range specs {
		for _, a := range SpecAlternatives(s) {
			if !strings.HasPrefix(a, "=") {
				return false
			}
		}
	}
	return true
}

// plainPath returns spec when it is a single event path (no alternatives,
// header, body or literal), else "".
func plainPath(spec string) string {
	alts := SpecAlternatives(spec)
	if len(alts) != 1 || strings.HasPrefix(alts[0], "=") || strings.HasPrefix(alts[0], "header:") || strings.HasPrefix(alts[0], "body:") {
		return ""
	}
	return alts[0]
}

// under reports whether the dotted path f starts with the path base.
func under(f, base string) bool {
	return f != "" && (f == base || strings.HasPrefix(f, base+"."))
}

// expandMarker expands a marker value as the engine does, with a stand-in
// agent (the agent itself is validated elsewhere and never empty).
func expandMarker(v string, p *Profile) string {
	return strings.NewReplacer("{agent}", "agent", "{idempotency_prefix}", p.Tagging.IdempotencyKey.Prefix).Replace(v)
}
