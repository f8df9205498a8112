package filters

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/multitest"
	"github.com/tidwall/gjson"
)

// multiFuzzEngine builds an engine over every case profile of
// testdata/multi, keyed by case name.
func multiFuzzEngine(f *testing.F) (map[string]*Provider, map[string]*multitest.Case, *Engine) {
	names, err := multitest.Names(multiDir)
	if err != nil {
		f.Fatal(err)
	}
	ps, cs := map[string]*Provider{}, map[string]*multitest.Case{}
	store, err := ledger.NewMemory(ledger.Options{Shards: 4, MaxSizeMB: 4})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = store.Close() })
	var eng *Engine
	for _, n := range names {
		c, err := multitest.Load(filepath.Join(multiDir, n))
		if err != nil {
			f.Fatal(err)
		}
		l, err := configs.LoadBytes("fuzz.yaml", []byte(c.Deployment("", map[string]string{"upstream_host": "api.test", "upstream_url": "https://api.test"})), nil)
		if err != nil {
			f.Fatal(err)
		}
		if eng, err = New(l.Providers, store, Options{Agent: "loopguard"}); err != nil {
			f.Fatal(err)
		}
		ps[n], cs[n] = eng.Providers()[0], c
		if b, err := c.File(c.Write.Body); err == nil {
			f.Add(n, b, []byte(`{}`))
			if r, err := c.File(c.Write.Response); err == nil {
				f.Add(n, b, r)
			}
		}
	}
	return ps, cs, eng
}

// FuzzBatchExtract feeds arbitrary bodies and responses to every batch
// route of the cases: tagging never panics, a tagged body is valid JSON
// that differs from the request only by the inserted sentinels, and
// recording never records more records than the request holds.
func FuzzBatchExtract(f *testing.F) {
	ps, cs, eng := multiFuzzEngine(f)
	f.Add("hubspot_batch_update", []byte(`{"inputs":[{"id":"1","properties":{"firstname":"x"}},{"id":"1","properties":{"firstname":"y"}}]}`), []byte(`{"results":[{"id":"1"},{"id":"1"}]}`))
	f.Add("salesforce_composite", []byte(`{"compositeRequest":[{"method":"PATCH","url":"/services/data/v60.0/sobjects/Account/@{x.id}","body":{"Name":"n"}},{"method":"POST","url":"http://[::1","body":1}]}`), []byte(`[]`))
	f.Fuzz(func(t *testing.T, name string, body, resp []byte) {
		p, c := ps[name], cs[name]
		if p == nil {
			return
		}
		r, params, ok := p.MatchWrite(c.Write.Method, c.Write.Path)
		if !ok || r.GraphQL() || !r.Multi() {
			return
		}
		hdr := http.Header{"Content-Type": {"application/json"}}
		orig := bytes.Clone(body)
		m := p.TagBatch(context.Background(), r, &params, "acct", &url.URL{Path: c.Write.Path, RawQuery: c.Write.Query}, hdr, body, "")
		if !bytes.Equal(body, orig) {
			t.Fatal("TagBatch changed the request's bytes in place")
		}
		if m.Body != nil {
			if !gjson.ValidBytes(m.Body) {
				t.Fatalf("tagged body is not valid JSON: %s", m.Body)
			}
			if back := multitest.StripSentinels(m.Body); !bytes.Equal(back, body) {
				t.Fatalf("tagged body differs beyond the sentinels:\n%s\n%s", back, body)
			}
		}
		out := eng.RecordMulti(context.Background(), m, resp)
		if len(out.Recorded)+out.Failed+out.Unmatched+out.Empty > len(m.Writes) {
			t.Fatalf("outcomes exceed the %d records: %+v", len(m.Writes), out)
		}
	})
}

// FuzzGraphQLMatch feeds arbitrary request bodies to the GraphQL routes
// of the cases: matching never panics; a configured mutation's tagged
// body is valid JSON that differs only by sentinels; anything else is left
// alone (nil, and no header stamped).
func FuzzGraphQLMatch(f *testing.F) {
	ps, cs, _ := multiFuzzEngine(f)
	for _, s := range []string{
		`{"query":"mutation($i: In!) { a: issueUpdate(id: \"1\", input: $i) { success } b: issueUpdate(id: \"1\", input: $i) { success } }","variables":{"i":{"title":"t"}}}`,
		`{"query":"mutation { ...F } fragment F on Mutation { ...F updateDeal(where: {id: \"d\"}, data: {name: \"n\"}) { deal { id } } }"}`,
		`{"query":"mutation($d: DealInput!) { updateDeal(where: {id: $d}, data: $d) { deal { id } } }","variables":{"d":"not an object"}}`,
		`{"query":"query { catalog: products { edges { node { id } } } }"}`,
	} {
		for n := range ps {
			f.Add(n, []byte(s), []byte(`{"data":null}`))
		}
	}
	f.Fuzz(func(t *testing.T, name string, body, _ []byte) {
		p, c := ps[name], cs[name]
		if p == nil {
			return
		}
		r, _, ok := p.MatchWrite(c.Write.Method, c.Write.Path)
		if !ok || !r.GraphQL() {
			return
		}
		hdr := http.Header{"Content-Type": {"application/json"}}
		m, err := p.TagGraphQL(context.Background(), c.Write.Method, c.Write.Path, "acct", hdr, body)
		if m == nil {
			if err == nil {
				t.Fatal("nil Multi without a reason")
			}
			if len(hdr) != 1 {
				t.Fatalf("headers stamped on an untouched request: %v", hdr)
			}
			_, _ = p.GraphQLReads(c.Write.Method, c.Write.Path, "application/json", body)
			return
		}
		if m.Body != nil {
			if !gjson.ValidBytes(m.Body) {
				t.Fatalf("tagged body is not valid JSON: %s", m.Body)
			}
			if back := multitest.StripSentinels(m.Body); !bytes.Equal(back, body) {
				t.Fatalf("tagged body differs beyond the sentinels:\n%s\n%s", back, body)
			}
		}
	})
}
