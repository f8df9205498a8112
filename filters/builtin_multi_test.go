package filters

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/loopguard/loopguard/configs"
)

// TestBuiltinMultiWrites: the GraphQL and batch write routes of the
// shopify and airtable profiles tag and record each record under the id
// its webhooks and payloads name.
func TestBuiltinMultiWrites(t *testing.T) {
	cases := []struct {
		name, entry, method, path, body, resp string
		object, record                        string
	}{
		{"shopify productUpdate (2024-10+)", "{use: shopify, hosts: [acme.myshopify.com], signature: {secret: s}}", "POST", "/admin/api/2024-10/graphql.json",
			`{"query":"mutation P($p: ProductUpdateInput!) { productUpdate(product: $p) { product { id title vendor updatedAt } userErrors { field message } } }","variables":{"p":{"id":"gid://shopify/Product/632910392","title":"Sync Tee","vendor":"Acme"}}}`,
			`{"data":{"productUpdate":{"product":{"id":"gid://shopify/Product/632910392","title":"Sync Tee","vendor":"Acme","updatedAt":"2026-11-27T10:00:05Z"},"userErrors":[]}}}`,
			"products", "gid://shopify/Product/632910392"},
		{"shopify productUpdate (input)", "{use: shopify, hosts: [acme.myshopify.com], signature: {secret: s}}", "POST", "/admin/api/2024-01/graphql.json",
			`{"query":"mutation { productUpdate(input: {id: \"gid://shopify/Product/7\", title: \"T\"}) { product { id title } userErrors { message } } }"}`,
			`{"data":{"productUpdate":{"product":{"id":"gid://shopify/Product/7","title":"T"},"userErrors":[]}}}`,
			"products", "gid://shopify/Product/7"},
		{"airtable multi-record PATCH", "{use: airtable, signature: {secret: \"eA==\"}}", "PATCH", "/v0/appAcme00000001/tblTasks000001",
			`{"records":[{"id":"rec0001","fields":{"Name":"A","Status":"Done"}},{"id":"rec0002","fields":{"Name":"B"}}]}`,
			`{"records":[{"id":"rec0001","createdTime":"2026-11-20T09:00:00.000Z","fields":{"Name":"A","Status":"Done"}},{"id":"rec0002","createdTime":"2026-11-20T09:00:00.000Z","fields":{"Name":"B"}}]}`,
			"tblTasks000001", "rec0002"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := configs.LoadBytes("x.yaml", []byte("providers: ["+c.entry+"]\n"), nil)
			if err != nil {
				t.Fatal(err)
			}
			h := newHarnessFor(t, l.Providers)
			route, ps, ok := h.p.MatchWrite(c.method, c.path)
			if !ok || !route.Multi() {
				t.Fatalf("no batch or GraphQL route for %s %s", c.method, c.path)
			}
			ctx := context.Background()
			hdr := http.Header{"Content-Type": {"application/json"}}
			var m *Multi
			if route.GraphQL() {
				if m, err = h.p.TagGraphQL(ctx, c.method, c.path, "acct", hdr, []byte(c.body)); err != nil {
					t.Fatal(err)
				}
			} else {
				m = h.p.TagBatch(ctx, route, &ps, "acct", &url.URL{Path: c.path}, hdr, []byte(c.body), "")
			}
			out := h.eng.RecordMulti(ctx, m, []byte(c.resp))
			for _, w := range out.Recorded {
				if w.Object == c.object && w.Record == c.record {
					return
				}
			}
			t.Fatalf("%s/%s not recorded: %+v", c.object, c.record, out)
		})
	}
}
