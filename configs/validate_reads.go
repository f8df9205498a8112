package configs

import (
	"fmt"
	"slices"
	"strings"
)

// Checks of read routes: the same checks as webhook routes (a record of a
// read response is an event), plus what only a read can get wrong — a list
// path whose records cannot be removed byte for byte, a route a write route
// takes first, or a route that could never remove anything.

// validateReads checks every read route of a resolved profile.
func validateReads(p *Profile) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for i, r := range p.Reads {
		field := fmt.Sprintf("reads[%d]", i)
		params, err := TemplateParams(r.Path)
		if err != nil {
			add("%s.path: %w", field, err)
		}
		if r.Method == "" || strings.ToUpper(r.Method) != r.Method {
			add("%s.method: %q must be an upper-case HTTP method", field, r.Method)
		}
		if err := checkListPath(r.List); err != nil {
			add("%s.list: %w", field, err)
		}
		if len(r.RecordID) == 0 && r.Actor == "" && len(r.Markers) == 0 {
			add("%s: no record_id, actor or markers, so no record could ever be recognised as our write", field)
		}
		if name, ok := paramRef(r.ObjectType); ok {
			if !slices.Contains(params, name) {
				add("%s.object_type: %q names no parameter of path %q, so it can never match", field, r.ObjectType, r.Path)
			}
		}
		for _, s := range readSpecs(r) {
			if _, ok := paramRef(s.spec); ok && s.name == "object_type" {
				continue
			}
			if err := CheckValueSpec(s.spec); err != nil {
				add("%s: %w", field, err)
			} else if err := checkReachable(reachBase(r.List), s.spec); err != nil {
				add("%s.%s: %w", field, s.name, err)
			}
		}
		for j, m := range r.Markers {
			mf := fmt.Sprintf("%s.markers[%d]", field, j)
			if m.From == "" {
				add("%s.from: required", mf)
			}
			if err := oneOf(mf+".match", m.Match, MarkerMatches); err != nil {
				errs = append(errs, err)
			}
			if m.Separator != "" && m.Match != "list" {
				add("%s.separator: applies only to match: list", mf)
			}
			if v := expandMarker(m.Value, p); v == "" {
				add("%s.value: %q is empty once expanded (is tagging.idempotency_key.header set?), and an empty value would match every record", mf, m.Value)
			}
		}
		if rec := plainPath(r.Record); rec != "" && rec != "@this" {
			for k, f := range p.TrackedFields {
				if under(f, rec) {
					add("tracked_fields[%d]: %q is relative to the record, which %s reads from %q, so it can never match: write %q", k, f, field, rec, strings.TrimPrefix(f, rec+"."))
				}
			}
			if under(r.Sentinel, rec) {
				add("%s.sentinel: %q is relative to the record %q, so it can never match: write %q", field, r.Sentinel, rec, strings.TrimPrefix(r.Sentinel, rec+"."))
			}
		}
		errs = append(errs, readShadowed(p, i)...)
	}
	return errs
}

// checkListPath accepts "@this" or a plain dotted path: a list built by a
// gjson query, wildcard or modifier has no bytes of its own in the
// response, so no record of it could be removed.
func checkListPath(list string) error {
	switch {
	case list == "":
		return fmt.Errorf("required: the path of the records array (%q for a root array)", "@this")
	case list == "@this":
		return nil
	case strings.ContainsAny(list, "#*?|@!{}[]\\ "):
		return fmt.Errorf("%q must be a plain dotted path (or %q): a list built by a query, wildcard or modifier cannot be rewritten", list, "@this")
	}
	return nil
}

// reachBase is the batch checkReachable checks a read's specs against.
// Unlike a webhook's, a read's specs are not checked for being rooted at
// the list: records often hold a key named like their list (a Stripe event
// in /v1/events's "data" has its own "data.object").
func reachBase(list string) string {
	if list == "@this" {
		return list
	}
	return ""
}

// readShadowed reports read route i when an earlier read route or a write
// route with the same method and path takes its requests first (writes are
// matched before reads).
func readShadowed(p *Profile, i int) []error {
	r := p.Reads[i]
	var errs []error
	for j, w := range p.Writes {
		if w.Path == r.Path && slices.Contains(w.Methods, r.Method) && !graphQLShared(r, &w, nil) {
			errs = append(errs, fmt.Errorf("reads[%d]: %s %s is matched by writes[%d] first, so this read route can never match", i, r.Method, r.Path, j))
		}
	}
	for j := 0; j < i; j++ {
		if e := p.Reads[j]; e.Method == r.Method && e.Path == r.Path && !graphQLShared(r, nil, &e) {
			errs = append(errs, fmt.Errorf("reads[%d]: %s %s is already matched by reads[%d], so this route can never match", i, r.Method, r.Path, j))
		}
	}
	return errs
}

func readSpecs(r ReadRoute) []namedSpec {
	out := []namedSpec{
		{"object_type", r.ObjectType}, {"actor", r.Actor}, {"modified_at", r.ModifiedAt}, {"record", r.Record},
	}
	for i, s := range r.RecordID {
		out = append(out, namedSpec{fmt.Sprintf("record_id[%d]", i), s})
	}
	for i, m := range r.Markers {
		out = append(out, namedSpec{fmt.Sprintf("markers[%d].from", i), m.From})
	}
	return out
}
