package filters

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"slices"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// GraphQL requests are parsed with github.com/vektah/gqlparser/v2 (the
// parser of gqlgen): no schema is needed to read an operation's root
// fields, their aliases and arguments. The parser bounds nesting itself
// (ast depth 1000); gqlMaxTokens bounds the work per query.

// gqlMaxTokens bounds the tokens of a parsed query (gqlgen's default).
const gqlMaxTokens = 15000

// gqlMaxDepth bounds the nesting of a value converted to JSON and of
// fragment spreads followed when looking for a field.
const gqlMaxDepth = 64

// gqlMaxVisits bounds the selections visited while listing root fields
// (fragments spreading each other twice at every level would otherwise
// grow exponentially).
const gqlMaxVisits = 4096

// Why a GraphQL request is passed untouched (the values double as log
// reasons).
var (
	errGQLNoQuery  = errors.New("graphql_no_query")  // persisted query: no text
	errGQLBatch    = errors.New("graphql_batch")     // an array of operations
	errGQLParse    = errors.New("graphql_parse")     // not a GraphQL document
	errGQLOpChoice = errors.New("graphql_operation") // no single operation selected
	errGQLBody     = errors.New("graphql_body")      // not a GraphQL request body
)

// GraphQLRequest is a parsed GraphQL request: the selected operation's
// kind and root fields, and the request's variables.
type GraphQLRequest struct {
	Kind   ast.Operation
	fields []gqlField
	vars   gjson.Result
	op     *ast.OperationDefinition
	doc    *ast.QueryDocument
	visits int
}

// gqlField is a root field of the operation.
type gqlField struct {
	name, alias string
	f           *ast.Field
}

// ParseGraphQL reads a GraphQL request body: JSON {"query", "variables",
// "operationName"}, or a bare document sent as application/graphql. The
// operation is the one operationName names, else the document's only one.
func ParseGraphQL(contentType string, body []byte) (*GraphQLRequest, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	var query, opName string
	var vars gjson.Result
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	switch {
	case mt == "application/graphql":
		query = string(body)
	case len(trimmed) > 0 && trimmed[0] == '[':
		return nil, errGQLBatch
	case len(trimmed) > 0 && trimmed[0] == '{' && gjson.ValidBytes(body):
		root := gjson.ParseBytes(body)
		q := root.Get("query")
		if q.Type != gjson.String || q.Str == "" {
			return nil, errGQLNoQuery
		}
		query = q.Str
		if v := root.Get("variables"); v.IsObject() {
			vars = v
		}
		opName = root.Get("operationName").String()
	default:
		return nil, errGQLBody
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, gqlMaxTokens)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errGQLParse, err)
	}
	var op *ast.OperationDefinition
	switch {
	case opName != "":
		op = doc.Operations.ForName(opName)
	case len(doc.Operations) == 1:
		op = doc.Operations[0]
	}
	if op == nil {
		return nil, errGQLOpChoice
	}
	q := &GraphQLRequest{Kind: op.Operation, vars: vars, op: op, doc: doc}
	q.fields = q.rootFields(op.SelectionSet, nil, 0)
	return q, nil
}

// rootFields lists the fields of a selection set, looking into inline
// fragments and fragment spreads.
func (q *GraphQLRequest) rootFields(sel ast.SelectionSet, dst []gqlField, depth int) []gqlField {
	if depth > gqlMaxDepth {
		return dst
	}
	for _, s := range sel {
		if q.visits++; q.visits > gqlMaxVisits {
			return dst
		}
		switch s := s.(type) {
		case *ast.Field:
			// Fields with one response key are merged into one by the
			// server (GraphQL field merging): one record per alias.
			if !slices.ContainsFunc(dst, func(f gqlField) bool { return f.alias == s.Alias }) {
				dst = append(dst, gqlField{name: s.Name, alias: s.Alias, f: s})
			}
		case *ast.InlineFragment:
			dst = q.rootFields(s.SelectionSet, dst, depth+1)
		case *ast.FragmentSpread:
			if fd := q.doc.Fragments.ForName(s.Name); fd != nil {
				dst = q.rootFields(fd.SelectionSet, dst, depth+1)
			}
		}
	}
	return dst
}

// Fields returns the names of the operation's root fields (for logs and
// tests).
func (q *GraphQLRequest) Fields() []string {
	out := make([]string, len(q.fields))
	for i, f := range q.fields {
		out[i] = f.name
	}
	return out
}

// argsJSON renders a field's arguments as one JSON object, variables
// replaced by their values from the request (or their defaults), so ids
// and fields are read with plain paths whatever mix of variables and
// inline values the query uses.
func (q *GraphQLRequest) argsJSON(f *ast.Field) gjson.Result {
	b := []byte{'{'}
	for i, a := range f.Arguments {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, a.Name) // names are [_A-Za-z0-9]: Go and JSON quoting agree
		b = append(b, ':')
		b = q.valueJSON(b, a.Value, 0)
	}
	b = append(b, '}')
	if !gjson.ValidBytes(b) {
		return gjson.Result{}
	}
	return gjson.ParseBytes(b)
}

// valueJSON appends v as JSON.
func (q *GraphQLRequest) valueJSON(b []byte, v *ast.Value, depth int) []byte {
	if v == nil || depth > gqlMaxDepth {
		return append(b, "null"...)
	}
	switch v.Kind {
	case ast.Variable:
		if r := q.vars.Get(gjsonKey(v.Raw)); r.Exists() {
			return append(b, r.Raw...)
		}
		if d := q.op.VariableDefinitions.ForName(v.Raw); d != nil && d.DefaultValue != nil {
			return q.valueJSON(b, d.DefaultValue, depth+1)
		}
		return append(b, "null"...)
	case ast.IntValue, ast.FloatValue:
		if json.Valid([]byte(v.Raw)) {
			return append(b, v.Raw...)
		}
		return appendJSONString(b, v.Raw)
	case ast.BooleanValue:
		if v.Raw == "true" {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case ast.NullValue:
		return append(b, "null"...)
	case ast.StringValue, ast.BlockValue, ast.EnumValue:
		return appendJSONString(b, v.Raw)
	case ast.ListValue:
		b = append(b, '[')
		for i, c := range v.Children {
			if i > 0 {
				b = append(b, ',')
			}
			b = q.valueJSON(b, c.Value, depth+1)
		}
		return append(b, ']')
	case ast.ObjectValue:
		b = append(b, '{')
		for i, c := range v.Children {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, c.Name)
			b = append(b, ':')
			b = q.valueJSON(b, c.Value, depth+1)
		}
		return append(b, '}')
	}
	return append(b, "null"...)
}

func appendJSONString(b []byte, s string) []byte {
	enc, _ := json.Marshal(s)
	return append(b, enc...)
}

// gjsonKey escapes a key for use as one gjson path component.
func gjsonKey(k string) string {
	if !strings.ContainsAny(k, `.*?#|@!\"{}[]()`+"\x00") {
		return k
	}
	var sb strings.Builder
	for _, c := range k {
		if strings.ContainsRune(`.*?#|@!\"{}[]()`, c) {
			sb.WriteByte('\\')
		}
		sb.WriteRune(c)
	}
	return sb.String()
}

// varPath returns the request-body path ("variables.input.data") of the
// argument value at path, when that value is passed whole in a variable the
// request supplies; "" when it is written (partly) inline in the query,
// which is never rewritten.
func (q *GraphQLRequest) varPath(f *ast.Field, path string) string {
	segs := strings.Split(path, ".")
	a := f.Arguments.ForName(segs[0])
	if a == nil {
		return ""
	}
	v := a.Value
	for i := 1; ; i++ {
		if v == nil {
			return ""
		}
		if v.Kind == ast.Variable {
			if !q.vars.Get(gjsonKey(v.Raw)).Exists() {
				return ""
			}
			return strings.Join(append([]string{"variables", gjsonKey(v.Raw)}, segs[i:]...), ".")
		}
		if i == len(segs) || v.Kind != ast.ObjectValue {
			return ""
		}
		v = v.Children.ForName(segs[i])
	}
}
