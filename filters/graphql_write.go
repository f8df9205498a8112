package filters

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/tagging"
	"github.com/tidwall/gjson"
	"github.com/vektah/gqlparser/v2/ast"
)

// gqlRoute is a compiled configs.GraphQLWrite.
type gqlRoute struct {
	mutation   string
	recordID   valueSpec
	fields     []string // alternatives: the first that is an object
	sentinel   string
	response   string
	respTime   valueSpec
	createID   string
	success    valueSpec
	userErrors string
}

func compileGraphQLWrite(g *configs.GraphQLWrite) *gqlRoute {
	return &gqlRoute{
		mutation: g.Mutation, recordID: compileSpec(g.RecordID), fields: configs.SpecAlternatives(g.Fields),
		sentinel: g.SentinelField, response: g.Response, respTime: compileSpec(g.ResponseTime),
		createID: g.CreateID, success: compileSpec(g.Success), userErrors: g.UserErrors,
	}
}

// ErrNotConfigured says a GraphQL request names no configured mutation
// field: it passes untouched.
var ErrNotConfigured = errors.New("graphql_not_configured")

// graphQLRoute returns the GraphQL write route for a mutation field at
// method and path, with the path's parameters.
func (p *Provider) graphQLRoute(method, path, field string) (*WriteRoute, Params, bool) {
	var ps Params
	for _, r := range p.writes {
		if r.gql != nil && r.gql.mutation == field && slices.Contains(r.Methods, method) && r.Tpl.Match(path, &ps) {
			return r, ps, true
		}
	}
	return nil, ps, false
}

// TagGraphQL prepares a GraphQL request to a GraphQL write route's path:
// when its operation is a mutation selecting configured fields, each
// selection is one record — headers are stamped once, a sentinel is
// written into each record's input object where the route names a
// sentinel field and the object is a variable, and the records are
// returned for recording. Anything else (a query, another mutation, a body
// that is no GraphQL request) returns a nil Multi and the reason: the
// request passes untouched, without our headers.
func (p *Provider) TagGraphQL(ctx context.Context, method, path, account string, h http.Header, body []byte) (*Multi, error) {
	if p.tooDeep(body) {
		return nil, p.errTooDeep("graphql") // never handed to a recursive parser
	}
	q, err := ParseGraphQL(h.Get("Content-Type"), body)
	if err != nil {
		return nil, err
	}
	if q.Kind != ast.Mutation {
		return nil, ErrNotConfigured
	}
	var m *Multi
	var ins []tagging.Insert
	var owners []*Write
	for i := range q.fields {
		f := &q.fields[i]
		r, ps, ok := p.graphQLRoute(method, path, f.name)
		if !ok {
			continue
		}
		if m == nil {
			m = &Multi{Provider: p, Route: r, Account: account}
			p.stampHeaders(h)
		}
		w := &Write{Provider: p, Route: r, Account: account, params: ps}
		w.Object = p.canonObject(resolveParam(r.Object, &ps))
		args := q.argsJSON(f.f)
		g := r.gql
		w.Record = g.recordID.str(args, args, nil)
		rec, at := gjson.Result{}, ""
		for _, alt := range g.fields {
			if v := args.Get(alt); v.IsObject() {
				rec, at = v, alt
				break
			}
		}
		field := ""
		var obj gjson.Result
		if g.sentinel != "" && at != "" {
			if vp := q.varPath(f.f, at); vp != "" {
				if obj = gjson.GetBytes(body, vp); obj.IsObject() {
					field = g.sentinel
				}
			}
		}
		if s := p.tagRecord(ctx, w, rec, field); s != "" {
			ins = append(ins, tagging.Insert{Obj: obj, Field: field, Value: s})
			owners = append(owners, w)
		}
		m.Writes = append(m.Writes, w)
		m.items = append(m.items, multiItem{index: len(m.items), alias: f.alias, gql: g})
	}
	if m == nil {
		return nil, ErrNotConfigured
	}
	m.n = len(m.Writes)
	m.applyInserts(body, ins, owners)
	return m, nil
}

// recordGraphQL records each mutation field the response reports written:
// data.<alias> is an object, no error's path starts at the alias, success
// (if configured) is true and user errors (if configured) are empty.
func (e *Engine) recordGraphQL(ctx context.Context, m *Multi, resp []byte, out *MultiOutcome) {
	if len(resp) == 0 || !gjson.ValidBytes(resp) {
		for _, w := range m.Writes {
			if len(w.Fields) == 0 {
				out.Empty++
			} else {
				out.Unmatched++
			}
		}
		return
	}
	root := gjson.ParseBytes(resp)
	data := root.Get("data")
	failed := map[string]bool{}
	root.Get("errors").ForEach(func(_, e gjson.Result) bool {
		if p := e.Get("path.0"); p.Type == gjson.String {
			failed[p.Str] = true
		}
		return true
	})
	for i, w := range m.Writes {
		it := &m.items[i]
		g := it.gql
		if len(w.Fields) == 0 {
			out.Empty++
			continue
		}
		d := data.Get(gjsonKey(it.alias))
		if !d.IsObject() || failed[it.alias] {
			e.failedItem(ctx, w, out)
			continue
		}
		if g.success.kind != specNone && g.success.result(d, root, nil).Type != gjson.True {
			e.failedItem(ctx, w, out)
			continue
		}
		if g.userErrors != "" {
			if ue := d.Get(g.userErrors); ue.IsArray() && len(ue.Array()) > 0 {
				e.failedItem(ctx, w, out)
				continue
			}
		}
		var obj gjson.Result
		if g.response != "" && g.response != "-" {
			obj = d.Get(g.response)
		}
		if w.Record == "" {
			if g.createID != "" {
				w.Record = createdRecord(w, d.Get(g.createID).String())
			}
			if w.Record == "" {
				out.Unmatched++
				continue
			}
		}
		var at int64
		if g.respTime.kind != specNone && obj.IsObject() {
			if t := parseTime(g.respTime.result(obj, root, nil)); !t.IsZero() {
				at = t.UnixNano()
			}
		}
		e.recordOne(ctx, w, obj, at, out)
	}
}
