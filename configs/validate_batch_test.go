package configs

import (
	"strings"
	"testing"
)

// TestValidateBatchRoutes loads profiles with batch and GraphQL routes,
// good and bad: each bad one is rejected naming the key at fault.
func TestValidateBatchRoutes(t *testing.T) {
	base := "providers:\n  - use: generic\n    name: x\n    tracked_fields: [name]\n"
	cases := []struct {
		name, yaml string
		err        string // "" = loads
	}{
		{"batch ok", `    writes: [{path: /batch, methods: [POST], batch: {list: records, record_id: id, fields: fields, response: {list: records, match: [id, position]}}}]`, ""},
		{"graphql routes share a path", `    writes:
      - {path: /graphql, object: issues, graphql: {mutation: issueUpdate, record_id: id, fields: input}}
      - {path: /graphql, object: issues, graphql: {mutation: issueCreate, fields: input, response: issue}}
    reads:
      - {path: /graphql, graphql: {query: issues}, list: nodes, record_id: id}
      - {path: /graphql, graphql: {query: projects}, list: nodes, record_id: id}`, ""},
		{"batch without list", `    writes: [{path: /batch, methods: [POST], batch: {record_id: id}}]`, "batch.list: required"},
		{"ids_query without shared", `    writes: [{path: /b, methods: [PUT], batch: {list: t, ids_query: ids}}]`, "ids_query and shared go together"},
		{"unknown match", `    writes: [{path: /b, methods: [POST], batch: {list: r, response: {list: r, match: order}}}]`, "response.match[0]"},
		{"match key without key", `    writes: [{path: /b, methods: [POST], batch: {list: r, response: {list: r, match: key}}}]`, "response.key: required"},
		{"success without a result list", `    writes: [{path: /b, methods: [POST], batch: {list: r, response: {success: ok}}}]`, "set response.list"},
		{"list with a query", `    writes: [{path: /b, methods: [POST], batch: {list: "r.#(x==1)"}}]`, "plain dotted path"},
		{"tracked field under batch fields", `    writes: [{path: /b, methods: [POST], batch: {list: r, fields: name}}]`, "tracked_fields[0]"},
		{"subrequests with fields", `    writes: [{path: /c, methods: [POST], batch: {list: r, fields: body, subrequests: {}}}]`, "remove record_id, fields and object"},
		{"graphql without mutation", `    writes: [{path: /graphql, object: issues, graphql: {fields: input, record_id: id}}]`, "graphql.mutation: required"},
		{"graphql without object", `    writes: [{path: /graphql, graphql: {mutation: m, fields: input, record_id: id}}]`, "names its object type literally"},
		{"graphql create without id", `    writes: [{path: /graphql, object: o, graphql: {mutation: m, fields: input}}]`, "needs create_id or response"},
		{"graphql sentinel path", `    writes: [{path: /graphql, object: o, graphql: {mutation: m, fields: input, record_id: id, sentinel_field: a.b}}]`, "plain field"},
		{"same mutation twice", `    writes:
      - {path: /graphql, object: o, graphql: {mutation: m, fields: input, record_id: id}}
      - {path: /graphql, object: o, graphql: {mutation: m, fields: input, record_id: id}}`, "already matched by writes[0]"},
		{"graphql read without query", `    reads: [{path: /graphql, graphql: {}, list: nodes, record_id: id}]`, "graphql.query: required"},
		{"batch and graphql", `    writes: [{path: /g, object: o, batch: {list: r}, graphql: {mutation: m, fields: input, record_id: id}}]`, "alternatives"},
		{"unknown batch key", `    writes: [{path: /b, methods: [POST], batch: {lists: r}}]`, "lists"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadBytes("x.yaml", []byte(base+c.yaml+"\n"), nil)
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("err = %v, want one naming %q", err, c.err)
			}
		})
	}
}

// TestBatchDefaults pins what a batch or GraphQL route gets by default.
func TestBatchDefaults(t *testing.T) {
	l, err := LoadBytes("x.yaml", []byte(`providers:
  - use: generic
    name: x
    tracked_fields: [name]
    writes:
      - {path: /b, methods: [POST], batch: {list: r, fields: f, response: {list: r}}}
      - {path: /c, methods: [POST], batch: {list: r, subrequests: {}}}
      - {path: /graphql, object: o, graphql: {mutation: m, fields: input, response: issue}}
    reads:
      - {path: /graphql, graphql: {query: q}, list: nodes, record_id: id}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := l.Providers[0]
	b := p.Writes[0].Batch
	if strings.Join(b.Response.Match, ",") != "position" || b.Response.ID != "id" || b.Response.Record != "f" {
		t.Errorf("batch defaults: %+v", b.Response)
	}
	if s := p.Writes[1].Batch.Subrequests; s.Method != "method" || s.URL != "url" || s.Body != "body" {
		t.Errorf("subrequest defaults: %+v", s)
	}
	g := p.Writes[2]
	if strings.Join(g.Methods, ",") != "POST" || g.GraphQL.CreateID != "issue.id" {
		t.Errorf("graphql defaults: methods %v create_id %q", g.Methods, g.GraphQL.CreateID)
	}
	if p.Reads[0].Method != "POST" {
		t.Errorf("graphql read method %q, want POST", p.Reads[0].Method)
	}
}
