package filters

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/multitest"
)

func benchProvider(b *testing.B, name string) (*Engine, *Provider, *multitest.Case) {
	b.Helper()
	c, err := multitest.Load(filepath.Join(multiDir, name))
	if err != nil {
		b.Fatal(err)
	}
	l, err := configs.LoadBytes("bench.yaml", []byte(c.Deployment("", map[string]string{"upstream_host": "api.test", "upstream_url": "https://api.test"})), nil)
	if err != nil {
		b.Fatal(err)
	}
	store, err := ledger.NewMemory(ledger.Options{Shards: 64, MaxSizeMB: 64})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	eng, err := New(l.Providers, store, Options{Agent: "loopguard"})
	if err != nil {
		b.Fatal(err)
	}
	return eng, eng.Providers()[0], c
}

// BenchmarkTagBatch100 tags a HubSpot batch/update of 100 records (a
// sentinel each) and records the 200 answer.
func BenchmarkTagBatch100(b *testing.B) {
	eng, p, _ := benchProvider(b, "hubspot_batch_update")
	var in, out []string
	for i := range 100 {
		in = append(in, fmt.Sprintf(`{"id":"%d","properties":{"firstname":"Ada %d","lastname":"L","email":"a%d@example.com"}}`, 1000+i, i, i))
		out = append(out, fmt.Sprintf(`{"id":"%d","properties":{"firstname":"Ada %d","lastname":"L","email":"a%d@example.com"},"updatedAt":"2026-11-27T10:00:04Z"}`, 1000+i, i, i))
	}
	body := []byte(`{"inputs":[` + strings.Join(in, ",") + `]}`)
	resp := []byte(`{"status":"COMPLETE","results":[` + strings.Join(out, ",") + `]}`)
	r, ps, _ := p.MatchWrite("POST", "/crm/v3/objects/contacts/batch/update")
	u := &url.URL{Path: "/crm/v3/objects/contacts/batch/update"}
	ctx := context.Background()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		m := p.TagBatch(ctx, r, &ps, "acct", u, http.Header{"Content-Type": {"application/json"}}, body, "")
		if o := eng.RecordMulti(ctx, m, resp); len(o.Recorded) != 100 {
			b.Fatalf("recorded %d", len(o.Recorded))
		}
	}
}

// BenchmarkTagGraphQL parses and tags the Linear-style two-field mutation
// (no recording).
func BenchmarkTagGraphQL(b *testing.B) {
	_, p, c := benchProvider(b, "linear_issue_update")
	body, err := c.File(c.Write.Body)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if m, err := p.TagGraphQL(ctx, "POST", "/graphql", "acct", http.Header{"Content-Type": {"application/json"}}, body); err != nil || len(m.Writes) != 2 {
			b.Fatal(err)
		}
	}
}
