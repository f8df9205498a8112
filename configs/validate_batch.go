package configs

import (
	"fmt"
	"slices"
	"strings"
)

// Checks of batch and GraphQL routes: what is required, and what could
// never match.

// validateBatch checks every batch and GraphQL write route and GraphQL read
// route of a resolved profile.
func validateBatch(p *Profile) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for i, w := range p.Writes {
		field := fmt.Sprintf("writes[%d]", i)
		if w.Batch != nil && w.GraphQL != nil {
			add("%s: batch and graphql are alternatives; set one", field)
		}
		if (w.Batch != nil || w.GraphQL != nil) && w.TagOnly {
			add("%s: tag_only leaves the body as sent and records nothing, so batch/graphql would never apply", field)
		}
		if b := w.Batch; b != nil {
			errs = append(errs, checkBatch(p, field+".batch", b)...)
		}
		if g := w.GraphQL; g != nil {
			errs = append(errs, checkGraphQLWrite(p, field, w, g)...)
		}
	}
	for i, r := range p.Reads {
		if r.GraphQL != nil && r.GraphQL.Query == "" {
			add("reads[%d].graphql.query: required: the query's root field whose result holds the list", i)
		}
	}
	return errs
}

func checkBatch(p *Profile, field string, b *BatchSpec) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch {
	case b.List == "" && b.IDsQuery == "":
		add("%s.list: required: the request body path of the records array (%q for a root array), or ids_query", field, "@this")
	case b.List != "":
		if err := checkListPath(b.List); err != nil {
			add("%s.list: %w", field, err)
		}
	}
	if (b.IDsQuery == "") != (b.Shared == "") {
		add("%s: ids_query and shared go together", field)
	}
	if b.Subrequests != nil && (b.RecordID != "" || b.Fields != "" || b.Object != "") {
		add("%s: with subrequests, each sub-request's write route says where its record id, object and fields are: remove record_id, fields and object", field)
	}
	for _, s := range []namedSpec{{"record_id", b.RecordID}, {"object", b.Object}, {"response.key", b.Response.Key},
		{"response.id", b.Response.ID}, {"response.success", b.Response.Success}, {"response.time", b.Response.Time}} {
		if err := CheckValueSpec(s.spec); err != nil {
			add("%s.%s: %w", field, s.name, err)
		}
	}
	for _, f := range []string{b.Fields, b.Shared} {
		if f == "" {
			continue
		}
		for k, t := range p.TrackedFields {
			if under(t, f) {
				add("tracked_fields[%d]: %q is relative to the record, which %s reads from %q, so it can never match: write %q", k, t, field, f, strings.TrimPrefix(t, f+"."))
			}
		}
	}
	r := b.Response
	if r.List != "" {
		if err := checkListPath(r.List); err != nil {
			add("%s.response.list: %w", field, err)
		}
	} else if r.Success != "" || r.Key != "" || (len(r.Match) > 0 && !slices.Equal(r.Match, StringList{DefaultBatchMatch})) {
		add("%s.response: match, key and success read per-record results: set response.list", field)
	}
	for j, m := range r.Match {
		if err := oneOf(fmt.Sprintf("%s.response.match[%d]", field, j), m, BatchMatches); err != nil {
			errs = append(errs, err)
		}
		if m == "key" && r.Key == "" {
			add("%s.response.key: required with match: key", field)
		}
	}
	return errs
}

func checkGraphQLWrite(p *Profile, field string, w WriteRoute, g *GraphQLWrite) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if g.Mutation == "" {
		add("%s.graphql.mutation: required: the mutation's root field, e.g. issueUpdate", field)
	}
	if g.Fields == "" {
		add("%s.graphql.fields: required: the argument holding the record's fields, e.g. input", field)
	}
	if _, ok := paramRef(w.Object); ok || w.Object == "" {
		add("%s.object: a GraphQL write names its object type literally (e.g. issues): the path is the same for every mutation", field)
	}
	if strings.ContainsAny(g.SentinelField, ".*?#|@!") {
		add("%s.graphql.sentinel_field: %q must be a plain field of the input object", field, g.SentinelField)
	}
	if g.RecordID == "" && g.CreateID == "" {
		add("%s.graphql: a create (no record_id) needs create_id or response to find the created record's id", field)
	}
	for _, s := range []namedSpec{{"graphql.success", g.Success}, {"graphql.response_time", g.ResponseTime}} {
		if err := CheckValueSpec(s.spec); err != nil {
			add("%s.%s: %w", field, s.name, err)
		}
	}
	for _, f := range SpecAlternatives(g.Fields) {
		for k, t := range p.TrackedFields {
			if under(t, f) {
				add("tracked_fields[%d]: %q is relative to the record, which %s reads from the argument %q, so it can never match: write %q", k, t, field, f, strings.TrimPrefix(t, f+"."))
			}
		}
	}
	return errs
}

// multiRoute reports write routes that share a method and path without
// shadowing each other: GraphQL routes told apart by their mutation field.
func multiRoute(a, b WriteRoute) bool {
	return a.GraphQL != nil && b.GraphQL != nil && a.GraphQL.Mutation != b.GraphQL.Mutation
}

// graphQLShared reports a read route that shares its method and path with
// a write or read route without being shadowed: GraphQL routes are told
// apart by their operation and root field.
func graphQLShared(r ReadRoute, w *WriteRoute, e *ReadRoute) bool {
	switch {
	case w != nil:
		return r.GraphQL != nil && w.GraphQL != nil
	case e != nil:
		return r.GraphQL != nil && e.GraphQL != nil && r.GraphQL.Query != e.GraphQL.Query
	}
	return false
}
