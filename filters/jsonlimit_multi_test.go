package filters

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/multitest"
)

// TestMultiTooDeep: batch and GraphQL writes, their responses and GraphQL
// reads never hand a body nested past the depth limit to a recursive
// parser.
func TestMultiTooDeep(t *testing.T) {
	names, err := multitest.Names(multiDir)
	if err != nil {
		t.Fatal(err)
	}
	store, err := ledger.NewMemory(ledger.Options{Shards: 4, MaxSizeMB: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	deep := bytes.Repeat([]byte("["), 5<<20)
	ctx := context.Background()
	hdr := func() http.Header { return http.Header{"Content-Type": {"application/json"}} }
	for _, n := range names {
		c, err := multitest.Load(filepath.Join(multiDir, n))
		if err != nil {
			t.Fatal(err)
		}
		l, err := configs.LoadBytes("deep.yaml", []byte(c.Deployment("", map[string]string{"upstream_host": "api.test", "upstream_url": "https://api.test"})), nil)
		if err != nil {
			t.Fatal(err)
		}
		eng, err := New(l.Providers, store, Options{Agent: "loopguard"})
		if err != nil {
			t.Fatal(err)
		}
		p := eng.Providers()[0]
		t.Run(n, func(t *testing.T) {
			if c.Read != nil {
				var rerr error
				grew := heapGrowth(func() { _, rerr = p.GraphQLReads(c.Read.Method, c.Read.Path, "application/json", deep) })
				if !errors.Is(rerr, ErrTooDeep) || grew > maxDeepGrowth {
					t.Errorf("GraphQLReads of a too-deep query: %v, grew %d MiB", rerr, grew>>20)
				}
			}
			if c.Write.Path == "" {
				return
			}
			r, ps, ok := p.MatchWrite(c.Write.Method, c.Write.Path)
			if !ok || !r.Multi() {
				return
			}
			u := &url.URL{Path: c.Write.Path}
			var m *Multi
			var terr error
			grew := heapGrowth(func() {
				if r.GraphQL() {
					m, terr = p.TagGraphQL(ctx, c.Write.Method, c.Write.Path, "acct", hdr(), deep)
				} else {
					m = p.TagBatch(ctx, r, &ps, "acct", u, hdr(), deep, "")
				}
			})
			switch {
			case r.GraphQL() && (!errors.Is(terr, ErrTooDeep) || m != nil):
				t.Errorf("TagGraphQL of a too-deep body: %v", terr)
			case !r.GraphQL() && m.Untagged != "too_deep":
				t.Errorf("TagBatch of a too-deep body: untagged %q", m.Untagged)
			}
			if grew > maxDeepGrowth {
				t.Errorf("tagging grew %d MiB", grew>>20)
			}
			body, err := c.File(c.Write.Body)
			if err != nil {
				return
			}
			if r.GraphQL() {
				m, _ = p.TagGraphQL(ctx, c.Write.Method, c.Write.Path, "acct", hdr(), body)
			} else {
				m = p.TagBatch(ctx, r, &ps, "acct", u, hdr(), body, "")
			}
			if m == nil {
				return
			}
			grew = heapGrowth(func() { eng.RecordMulti(ctx, m, deep) })
			if grew > maxDeepGrowth {
				t.Errorf("RecordMulti of a too-deep response grew %d MiB", grew>>20)
			}
		})
	}
}
