package filters

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/ledger"
)

func TestParseGraphQL(t *testing.T) {
	cases := []struct {
		name, ct, body string
		kind           string
		fields         string // root field names, comma-joined
		err            error
	}{
		{"variables", "application/json", `{"query":"mutation U($id: String!) { issueUpdate(id: $id, input: {}) { success } }","variables":{"id":"x"}}`, "mutation", "issueUpdate", nil},
		{"operationName picks", "", `{"query":"query A { a } mutation B { b c: d }","operationName":"B"}`, "mutation", "b,d", nil},
		{"two operations, no name", "", `{"query":"query A { a } query B { b }"}`, "", "", errGQLOpChoice},
		{"unknown operationName", "", `{"query":"query A { a }","operationName":"Z"}`, "", "", errGQLOpChoice},
		{"shorthand query", "", `{"query":"{ issues { nodes { id } } }"}`, "query", "issues", nil},
		{"fragments at the root", "", `{"query":"mutation { ...F ... on Mutation { g } } fragment F on Mutation { f }"}`, "mutation", "f,g", nil},
		{"bare document", "application/graphql", `mutation { issueUpdate(id: "1", input: {title: "t"}) { success } }`, "mutation", "issueUpdate", nil},
		{"persisted query", "", `{"extensions":{"persistedQuery":{"version":1}}}`, "", "", errGQLNoQuery},
		{"query not a string", "", `{"query":{"a":1}}`, "", "", errGQLNoQuery},
		{"batched array", "", `[{"query":"{ a }"}]`, "", "", errGQLBatch},
		{"not JSON", "application/json", `mutation { a }`, "", "", errGQLBody},
		{"syntax error", "", `{"query":"mutation { a( }"}`, "", "", errGQLParse},
		{"self-spreading fragment", "", `{"query":"mutation { ...F } fragment F on M { f ...F }"}`, "mutation", "f", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := ParseGraphQL(c.ct, []byte(c.body))
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(q.Kind) != c.kind || strings.Join(q.Fields(), ",") != c.fields {
				t.Fatalf("kind %s fields %v, want %s %s", q.Kind, q.Fields(), c.kind, c.fields)
			}
		})
	}
	t.Run("fragments spreading each other twice stay bounded", func(t *testing.T) {
		var sb strings.Builder
		sb.WriteString(`mutation { ...F0 }`)
		for i := 0; i < 40; i++ {
			sb.WriteString(" fragment F" + strconv.Itoa(i) + " on M { x" + strconv.Itoa(i) + " ...F" + strconv.Itoa(i+1) + " ...F" + strconv.Itoa(i+1) + " }")
		}
		sb.WriteString(" fragment F40 on M { end }")
		q, err := ParseGraphQL("application/graphql", []byte(sb.String()))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(q.Fields()); n == 0 || n > gqlMaxVisits {
			t.Fatalf("%d root fields", n)
		}
	})
}

func TestGraphQLArguments(t *testing.T) {
	body := `{"query":"mutation M($id: ID!, $in: In!, $n: Int = 7, $missing: String) { f(id: $id, input: $in, inline: {a: [1, 2.5, \"s\", RED, null, true], n: $n, m: $missing, deep: {v: $in}}) { x } }","variables":{"id":"r1","in":{"title":"T","x":{"y":1}}}}`
	q, err := ParseGraphQL("", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	f := q.fields[0].f
	args := q.argsJSON(f)
	want := `{"id":"r1","input":{"title":"T","x":{"y":1}},"inline":{"a":[1,2.5,"s","RED",null,true],"n":7,"m":null,"deep":{"v":{"title":"T","x":{"y":1}}}}}`
	if args.Raw != want {
		t.Fatalf("args\n got %s\nwant %s", args.Raw, want)
	}
	for path, vp := range map[string]string{
		"input": "variables.in", "input.x": "variables.in.x", "inline": "", "inline.deep.v": "variables.in",
		"inline.deep.v.x": "variables.in.x", "inline.m": "", "nope": "",
	} {
		if got := q.varPath(f, path); got != vp {
			t.Errorf("varPath(%s) = %q, want %q", path, got, vp)
		}
	}
}

// TestRecordGraphQLOutcomes checks which mutation fields count as written.
func TestRecordGraphQLOutcomes(t *testing.T) {
	prof := `
name: gql
tracked_fields: [title]
writes:
  - path: /graphql
    object: issues
    graphql: {mutation: issueUpdate, record_id: id, fields: input, response: issue, success: success, user_errors: userErrors}
`
	req := `{"query":"mutation { a: issueUpdate(id: \"1\", input: {title: \"A\"}) { success } b: issueUpdate(id: \"2\", input: {title: \"B\"}) { success } c: issueUpdate(id: \"3\", input: {title: \"C\"}) { success } d: issueUpdate(id: \"4\", input: {title: \"D\"}) { success } e: issueUpdate(id: \"5\", input: {title: \"E\"}) { success } }"}`
	resp := `{"data":{"a":{"success":true,"issue":{"id":"1","title":"A"},"userErrors":[]},"b":{"success":false},"c":null,"d":{"success":true,"userErrors":[{"message":"no"}]},"e":{"success":true}},"errors":[{"message":"boom","path":["e","issue"]}]}`
	cases := []struct {
		name     string
		resp     string
		recorded []string
		failed   int
		unmatch  int
	}{
		{"mixed", resp, []string{"1"}, 4, 0},
		{"unreadable response", `<html>`, nil, 0, 5},
		{"no data", `{"errors":[{"message":"bad"}]}`, nil, 5, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			eng, p := gqlEngine(t, prof)
			m, err := p.TagGraphQL(context.Background(), "POST", "/graphql", "acct", http.Header{}, []byte(req))
			if err != nil {
				t.Fatal(err)
			}
			out := eng.RecordMulti(context.Background(), m, []byte(c.resp))
			var got []string
			for _, w := range out.Recorded {
				got = append(got, w.Record)
			}
			if strings.Join(got, ",") != strings.Join(c.recorded, ",") || out.Failed != c.failed || out.Unmatched != c.unmatch {
				t.Fatalf("recorded %v failed %d unmatched %d, want %v %d %d", got, out.Failed, out.Unmatched, c.recorded, c.failed, c.unmatch)
			}
		})
	}
}

func gqlEngine(t *testing.T, profile string) (*Engine, *Provider) {
	t.Helper()
	store, err := ledger.NewMemory(ledger.Options{Shards: 4, MaxSizeMB: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	dir := t.TempDir()
	path := dir + "/gql.yaml"
	if err := os.WriteFile(path, []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := configs.LoadBytes("test.yaml", []byte("agent: loopguard\nprovider_files: [\""+path+"\"]\nproviders:\n  - use: gql\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := New(l.Providers, store, Options{Agent: "loopguard"})
	if err != nil {
		t.Fatal(err)
	}
	return eng, eng.Providers()[0]
}
