package filters

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/loopguard/loopguard/configs"
	"github.com/tidwall/gjson"
)

func TestMarkerMatches(t *testing.T) {
	cases := []struct {
		name            string
		match, sep, val string
		got             string
		want            bool
	}{
		{"equals", "equals", "", "loopguard", "loopguard", true},
		{"equals other", "equals", "", "loopguard", "loopguard2", false},
		{"list default comma, trimmed", "list", "", "loopguard", "zapier, loopguard", true},
		{"list needs a whole item", "list", "", "loopguard", "zapier,loopguard-staging", false},
		{"list with ';' (Salesforce changeOrigin)", "list", ";", "client=loopguard", "com/salesforce/api/rest/60.0;client=loopguard", true},
		{"list with ';' and a longer client id", "list", ";", "client=loopguard", "com/salesforce/api/rest/60.0;client=loopguard2", false},
		{"list with ';' is not split at ','", "list", ";", "client=loopguard", "a,client=loopguard", false},
		{"prefix (idempotency key)", "prefix", "", "loopguard-", "loopguard-9f86d081", true},
		{"prefix other", "prefix", "", "loopguard-", "af06a7d9-5408", false},
		{"contains", "contains", "", "client=loopguard", "x;client=loopguard;y", true},
		{"an empty value never matches", "prefix", "", "", "anything", false},
		{"an empty value never matches a list", "list", "", "", "a,,b", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := marker{match: c.match, sep: c.sep, value: c.val}
			if got := m.matches(c.got); got != c.want {
				t.Fatalf("matches(%q) = %v, want %v", c.got, got, c.want)
			}
		})
	}
}

func TestValueSpecAlternatives(t *testing.T) {
	ev := gjson.Parse(`{"id":7,"rowId":3,"empty":"","nul":null,"obj":{"a":1},"ids":["x","y"],"one":["z"]}`)
	root := gjson.Parse(`{"webhookId":99,"events":[]}`)
	h := http.Header{"X-Event": {"issues"}}
	cases := []struct{ spec, want string }{
		{"id", "7"},
		{"missing ?? id", "7"},
		{"empty ?? nul ?? rowId", "3"},
		{"missing ?? =-", "-"},
		{"missing ?? header:x-event", "issues"},
		{"header:X-Missing ?? body:webhookId", "99"},
		{"missing ?? also.missing", ""},
		{"obj", `{"a":1}`},
		{"one", "z"},
		{"=", ""},
	}
	for _, c := range cases {
		t.Run(c.spec, func(t *testing.T) {
			if got := compileSpec(c.spec).str(ev, root, h); got != c.want {
				t.Fatalf("str = %q, want %q", got, c.want)
			}
		})
	}
}

func TestCompositeEach(t *testing.T) {
	ev := gjson.Parse(`{"repo":"o/r","n":12,"ids":["a","b"],"pair":["p","q"],"blank":["",""],"one":["z"]}`)
	cases := []struct {
		name  string
		specs []string
		want  []string
	}{
		{"single", []string{"n"}, []string{"12"}},
		{"composite", []string{"repo", "n"}, []string{"o/r:12"}},
		{"missing part empties the whole", []string{"repo", "missing"}, []string{""}},
		{"no spec", nil, []string{""}},
		{"array fans out", []string{"ids"}, []string{"a", "b"}},
		{"one-element array is its element", []string{"one"}, []string{"z"}},
		{"fan-out inside a composite", []string{"repo", "ids", "n"}, []string{"o/r:a:12", "o/r:b:12"}},
		{"only the first array fans out", []string{"ids", "pair"}, []string{`a:["p","q"]`, `b:["p","q"]`}},
		{"an array of empties yields one empty id", []string{"blank"}, []string{""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			compileComposite(c.specs).each(ev, ev, nil, func(s string) { got = append(got, s) })
			if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
				t.Fatalf("each = %q, want %q", got, c.want)
			}
		})
	}
}

func TestExpandParams(t *testing.T) {
	tpl, err := CompileTemplate("/repos/{owner}/{repo}/issues/{id}")
	if err != nil {
		t.Fatal(err)
	}
	var ps Params
	if !tpl.Match("/repos/octocat/Hello-World/issues/1347", &ps) {
		t.Fatal("no match")
	}
	cases := []struct{ tpl, want string }{
		{"{id}", "1347"},
		{"{owner}/{repo}:{id}", "octocat/Hello-World:1347"},
		{"issue-{id}", "issue-1347"},
		{"literal", "literal"},
		{"{owner}:{missing}", ""},
		{"", ""},
	}
	for _, c := range cases {
		t.Run(c.tpl, func(t *testing.T) {
			if got := expandParams(c.tpl, &ps); got != c.want {
				t.Fatalf("expandParams = %q, want %q", got, c.want)
			}
		})
	}
}

// salesforceProvider compiles the built-in salesforce profile.
func salesforceProvider(t *testing.T) *harness {
	t.Helper()
	l, err := configs.LoadBytes("sf.yaml", []byte("providers: [{use: salesforce}]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return newHarnessFor(t, l.Providers)
}

func TestRewriteKeepsAFannedElementOnce(t *testing.T) {
	h := salesforceProvider(t)
	body := []byte(`[` +
		`{"data":{"payload":{"ChangeEventHeader":{"entityName":"Account","recordIds":["001A","001B"],"transactionKey":"t1","sequenceNumber":1}}}},` +
		`{"data":{"payload":{"ChangeEventHeader":{"entityName":"Account","recordIds":["001C"],"transactionKey":"t2","sequenceNumber":1}}}}]`)
	route, ok := h.p.MatchWebhook(http.MethodPost, "/webhooks/salesforce")
	if !ok {
		t.Fatal("no route")
	}
	evs, err := h.p.Extract(route, body, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || evs[0].Record != "001A" || evs[1].Record != "001B" || evs[2].Record != "001C" ||
		evs[0].Start != evs[1].Start || evs[0].ID != "t1:1" || evs[1].ID != "t1:1" {
		t.Fatalf("events = %+v", evs)
	}
	first := `{"data":{"payload":{"ChangeEventHeader":{"entityName":"Account","recordIds":["001A","001B"],"transactionKey":"t1","sequenceNumber":1}}}}`
	second := `{"data":{"payload":{"ChangeEventHeader":{"entityName":"Account","recordIds":["001C"],"transactionKey":"t2","sequenceNumber":1}}}}`
	cases := []struct {
		name string
		keep []bool
		want string
	}{
		{"first record of the element kept", []bool{true, false, false}, "[" + first + "]"},
		{"second record of the element kept", []bool{false, true, false}, "[" + first + "]"},
		{"both records kept: the element once", []bool{true, true, false}, "[" + first + "]"},
		{"the other element only", []bool{false, false, true}, "[" + second + "]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := h.p.Rewrite(route, body, evs, c.keep)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != c.want {
				t.Fatalf("Rewrite = %s, want %s", out, c.want)
			}
		})
	}
}

func TestEventNoRouteTakesIsForwardedUnevaluated(t *testing.T) {
	l, err := configs.LoadBytes("w.yaml", []byte(`providers:
  - use: generic
    integration_users: [u1]
    webhooks:
      - {path: /h, batch: events, event_id: [id], record_id: rid, actor: actor, when: {from: type, in: [a]}}
      - {path: /h, batch: events, event_id: [id], record_id: rid, actor: actor, when: {from: type, prefix: [b.]}}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessFor(t, l.Providers)
	route, _ := h.p.MatchWebhook(http.MethodPost, "/h")
	body := []byte(`{"events":[{"type":"a","id":"1","rid":"r1","actor":"u1"},{"type":"b.x","id":"2","rid":"r2","actor":"u1"},{"type":"c","id":"3","rid":"r3","actor":"u1"}]}`)
	evs, err := h.p.Extract(route, body, nil, nil)
	if err != nil || len(evs) != 3 {
		t.Fatalf("Extract: %d events, %v", len(evs), err)
	}
	cases := []struct {
		record string
		action Action
		layer  string
	}{
		{"r1", Drop, "actor"},
		{"r2", Drop, "actor"},
		{"", Forward, "chain"},
	}
	for i, c := range cases {
		d := h.eng.Decide(context.Background(), h.p, &evs[i])
		if evs[i].Record != c.record || d.Action != c.action || d.Layer != c.layer {
			t.Errorf("event %d: record %q %s by %s, want %q %s by %s", i, evs[i].Record, d.Action, d.Layer, c.record, c.action, c.layer)
		}
	}
	if evs[2].Start == 0 || string(body[evs[2].Start:evs[2].End]) != `{"type":"c","id":"3","rid":"r3","actor":"u1"}` {
		t.Fatalf("the unevaluated event keeps its span: %d-%d", evs[2].Start, evs[2].End)
	}
}
