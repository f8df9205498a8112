package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/rs/zerolog"
	"github.com/tidwall/sjson"
)

// BenchmarkPullFilter100 filters one 100-record page, half of it our own
// writes, as the forward proxy does after the upstream answered: buffer,
// decode, extract, decide, rewrite (the rewrite goes out uncompressed).
func BenchmarkPullFilter100(b *testing.B) {
	for _, coding := range []string{"", "gzip", "br"} {
		name := coding
		if name == "" {
			name = "identity"
		}
		b.Run(name, func(b *testing.B) {
			pl, p := benchPuller(b)
			page := benchPage(b, pl, p, 100)
			if coding != "" {
				page = encodeFor(b, coding, page)
			}
			req, _ := http.NewRequest(http.MethodGet, "https://api.crm.test/v1/contacts", nil)
			req.Header.Set("Accept-Encoding", "gzip, br")
			pc := pl.begin(req, p, "api.crm.test")
			if pc == nil {
				b.Fatal("the poll matched no read route")
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.SetBytes(int64(len(page)))
			for b.Loop() {
				resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
					Body: io.NopCloser(bytes.NewReader(page)), ContentLength: int64(len(page))}
				if coding != "" {
					resp.Header.Set("Content-Encoding", coding)
				}
				pl.end(ctx, pc, resp)
				out, _ := io.ReadAll(resp.Body)
				if n := strings.Count(string(out), `"id":"c`); n != 50 {
					b.Fatalf("%d records left, want 50", n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/record")
		})
	}
}

// benchPuller builds a puller over testdata/pull.yaml's provider "crm".
func benchPuller(b *testing.B) (*puller, *filters.Provider) {
	raw, err := os.ReadFile("testdata/pull.yaml")
	if err != nil {
		b.Fatal(err)
	}
	cfg := strings.NewReplacer("{{upstream_ca}}", "", "{{upstream_host}}", "api.crm.test", "{{upstream_url}}", "https://api.crm.test",
		"{{observe}}", "false", "{{provider_observe}}", "false", "{{max_body}}", "1MiB").Replace(string(raw))
	l, err := configs.LoadBytes("pull.yaml", []byte(cfg), nil)
	if err != nil {
		b.Fatal(err)
	}
	store, err := ledger.NewMemory(ledger.Options{Shards: 16, MaxSizeMB: 16})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	e, err := filters.New(l.Providers, store, filters.Options{Agent: "loopguard"})
	if err != nil {
		b.Fatal(err)
	}
	p, _ := e.Provider("crm")
	return newPuller(e, NewMetrics(store), zerolog.Nop(), 1<<20, nil), p
}

// benchPage records our writes of the even records and returns a page of n
// records as the API would list them: ours as written (with the
// sentinel), the odd ones edited by humans.
func benchPage(b *testing.B, pl *puller, p *filters.Provider, n int) []byte {
	var recs []string
	for i := range n {
		id := fmt.Sprintf("c%03d", i)
		body := []byte(fmt.Sprintf(`{"name":"Name %d","email":"user%d@example.com","title":"an untracked field %d"}`, i, i, i))
		if i%2 == 0 {
			r, ps, _ := p.MatchWrite(http.MethodPatch, "/v1/contacts/"+id)
			w := p.Tag(context.Background(), r, &ps, "acct", http.Header{"Content-Type": {"application/json"}}, body, "")
			if err := pl.engine.RecordWrite(context.Background(), w, nil); err != nil || w.Body == nil {
				b.Fatalf("record write %s: %v (%s)", id, err, w.Untagged)
			}
			body = w.Body
		}
		rec, _ := sjson.SetBytes(body, "id", id)
		recs = append(recs, string(rec))
	}
	return []byte(`{"total":` + fmt.Sprint(n) + `,"results":[` + strings.Join(recs, ",") + `],"paging":{"next":{"after":"c099"}}}`)
}
