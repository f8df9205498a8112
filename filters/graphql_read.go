package filters

import (
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// GraphQL reads: a query's node list (nodes, or edges[].node) is filtered
// the way a REST list is. A GraphQL read route names the query's root
// field; its list and record paths are relative to the field's result.
// Per request, the route is instantiated with the list's real path in the
// response — "data.<alias>.<list>", each step through the query's aliases
// — so Extract and Rewrite work on it unchanged, and everything outside
// the list (pageInfo, totalCount) is kept as sent.

// gqlRead is a GraphQL read route's query field and paths.
type gqlRead struct {
	query, list, record string
}

// GraphQLRead reports a GraphQL read route: its response is filtered only
// for queries selecting its field (see GraphQLReads).
func (r *WebhookRoute) GraphQLRead() bool { return r.gql != nil }

// GraphQLReads returns, for a GraphQL request at a read route's method and
// path, one read route per root field of its query that a GraphQL read
// route names (a field selected twice under two aliases yields two), each
// with its list path resolved in the response. It returns nil and the
// reason when there is none: the response passes untouched.
func (p *Provider) GraphQLReads(method, path, contentType string, body []byte) ([]*WebhookRoute, error) {
	if p.tooDeep(body) {
		return nil, p.errTooDeep("graphql read") // never handed to a recursive parser
	}
	q, err := ParseGraphQL(contentType, body)
	if err != nil {
		return nil, err
	}
	if q.Kind != ast.Query {
		return nil, ErrNotConfigured
	}
	var out []*WebhookRoute
	for i := range q.fields {
		f := &q.fields[i]
		r := p.graphQLRead(method, path, f.name)
		if r == nil {
			continue
		}
		c := *r
		list, elemSel := q.resolve(f.f.SelectionSet, r.gql.list)
		c.batch = "data." + gjsonKey(f.alias) + "." + list
		if rec := r.gql.record; rec != "" && rec != "@this" && !strings.ContainsAny(rec, "?=:") {
			if resolved, _ := q.resolve(elemSel, rec); resolved != rec {
				c.recPath = compileSpec(resolved)
			}
		}
		c.group = []*WebhookRoute{&c}
		out = append(out, &c)
	}
	if out == nil {
		return nil, ErrNotConfigured
	}
	return out, nil
}

// graphQLRead returns the GraphQL read route for a query field.
func (p *Provider) graphQLRead(method, path, field string) *WebhookRoute {
	var ps Params
	for _, r := range p.reads {
		if r.gql != nil && r.gql.query == field && r.Method == method && r.Tpl.Match(path, &ps) {
			return r
		}
	}
	return nil
}

// resolve maps a dotted path of field names to the response keys the
// query gives them (their aliases), following the selection sets; a name
// the query does not select (or selects only through a path it cannot
// follow) is kept as written. It also returns the selection set of the
// last field.
func (q *GraphQLRequest) resolve(sel ast.SelectionSet, path string) (string, ast.SelectionSet) {
	segs := strings.Split(path, ".")
	out := slices.Clone(segs)
	for i, s := range segs {
		f := q.findField(sel, s, 0)
		if f == nil {
			return strings.Join(out, "."), nil
		}
		out[i] = gjsonKey(f.Alias)
		sel = f.SelectionSet
	}
	return strings.Join(out, "."), sel
}

// findField returns the first field named name in a selection set,
// looking into inline fragments and fragment spreads.
func (q *GraphQLRequest) findField(sel ast.SelectionSet, name string, depth int) *ast.Field {
	if depth > gqlMaxDepth {
		return nil
	}
	for _, s := range sel {
		if q.visits++; q.visits > gqlMaxVisits {
			return nil
		}
		switch s := s.(type) {
		case *ast.Field:
			if s.Name == name {
				return s
			}
		case *ast.InlineFragment:
			if f := q.findField(s.SelectionSet, name, depth+1); f != nil {
				return f
			}
		case *ast.FragmentSpread:
			if fd := q.doc.Fragments.ForName(s.Name); fd != nil {
				if f := q.findField(fd.SelectionSet, name, depth+1); f != nil {
					return f
				}
			}
		}
	}
	return nil
}
