package filters

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/multitest"
	"github.com/loopguard/loopguard/tagging"
	"github.com/tidwall/gjson"
)

// multiDir holds one folder per batch or GraphQL write route case (see
// package multitest); proxy tests run the same cases through the forward
// proxy and the gateway.
const multiDir = "testdata/multi"

// TestMultiWrites runs every case's write through matching, tagging and
// recording as proxy/write_batch.go does, then its echo and genuine
// deliveries (and pulled list) through the engine.
func TestMultiWrites(t *testing.T) {
	names, err := multitest.Names(multiDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(multiDir, name)
			c, err := multitest.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			read := func(f string) []byte {
				b, err := c.File(f)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			cfg := c.Deployment("", map[string]string{"upstream_host": "api.test", "upstream_url": "https://api.test"})
			l, err := configs.LoadBytes(filepath.Join(dir, "loopguard.yaml"), []byte(cfg), nil)
			if err != nil {
				t.Fatalf("load: %v\n%s", err, cfg)
			}
			clock := newFakeClock()
			store, err := ledger.NewMemory(ledger.Options{Shards: 16, MaxSizeMB: 16, Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = store.Close() })
			eng, err := New(l.Providers, store, Options{Agent: "loopguard", Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			p := eng.Providers()[0]
			ctx := context.Background()

			route, ps, ok := p.MatchWrite(c.Write.Method, c.Write.Path)
			if !ok || !route.Multi() {
				t.Fatalf("%s %s: matched %v, multi %v", c.Write.Method, c.Write.Path, ok, ok && route.Multi())
			}
			body := read(c.Write.Body)
			hdr := http.Header{"Content-Type": {"application/json"}}
			u := &url.URL{Path: c.Write.Path, RawQuery: c.Write.Query}
			var m *Multi
			if route.GraphQL() {
				if m, err = p.TagGraphQL(ctx, c.Write.Method, c.Write.Path, "acct", hdr, body); err != nil {
					t.Fatalf("TagGraphQL: %v", err)
				}
			} else {
				m = p.TagBatch(ctx, route, &ps, "acct", u, hdr, body, "")
			}
			if m.Untagged != "" {
				t.Fatalf("untagged: %s", m.Untagged)
			}
			for k, v := range c.Write.Headers {
				if got := hdr.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			sent := body
			if m.Body != nil {
				sent = m.Body
			}
			if back := multitest.StripSentinels(sent); !bytes.Equal(back, body) {
				t.Errorf("tagged body differs beyond the sentinels:\n got %s\nwant %s", back, body)
			}
			if len(m.Writes) != len(c.Records) {
				t.Fatalf("%d records, want %d", len(m.Writes), len(c.Records))
			}
			for i, want := range c.Records {
				w := m.Writes[i]
				if len(w.Fields) == 0 {
					t.Errorf("record %d has no tracked fields", i)
				}
				got := ""
				if want.Sentinel != "" {
					got = gjson.GetBytes(sent, want.Sentinel).String()
				}
				nonce, mac, ours := tagging.ParseSentinel(got, "loopguard")
				if (want.Sentinel != "") != ours || (ours && nonce != w.Nonce) {
					t.Errorf("record %d: sentinel %q at %q (ours %v), write nonce %x", i, got, want.Sentinel, ours, w.Nonce)
				}
				if ours {
					bound := w.Record
					if w.Created {
						bound = ""
					}
					if !p.key.Verify(tagging.Binding{Provider: p.Name, Object: w.Object, Record: bound, Nonce: nonce, FP: w.FP}, mac) {
						t.Errorf("record %d: sentinel not bound to %s/%q", i, w.Object, bound)
					}
				}
			}
			resp := multitest.Fill(read(c.Write.Response), sent, nil)
			out := eng.RecordMulti(ctx, m, resp)
			if out.Err != nil {
				t.Fatal(out.Err)
			}
			for i, want := range c.Records {
				w := m.Writes[i]
				var st ledger.State
				ok, err := store.Get(ctx, ledger.Key{Provider: p.Name, Object: want.Object, Record: want.Record}, &st)
				if err != nil {
					t.Fatal(err)
				}
				if ok != want.Recorded {
					t.Errorf("record %d (%s/%s): recorded %v, want %v (write %s/%q)", i, want.Object, want.Record, ok, want.Recorded, w.Object, w.Record)
					continue
				}
				if ok && (len(st.Writes) != 1 || st.Writes[0].Nonce != w.Nonce) {
					t.Errorf("record %d: ledger %+v, want one write with nonce %x", i, st.Writes, w.Nonce)
				}
			}
			clock.Advance(1e9)
			if c.Read != nil {
				checkPull(t, p, eng, c, multitest.Fill(read(c.Read.Response), sent, resp), read)
			}
			for i, f := range c.Echo {
				deliverMulti(t, p, eng, c, multitest.Fill(read(f), sent, resp), multitest.HeaderAt(c.EchoHeaders, i), Drop)
			}
			for i, f := range c.Genuine {
				deliverMulti(t, p, eng, c, multitest.Fill(read(f), sent, resp), multitest.HeaderAt(c.GenuineHeaders, i), Forward)
			}
		})
	}
}

func deliverMulti(t *testing.T, p *Provider, eng *Engine, c *multitest.Case, body []byte, headers map[string]string, want Action) {
	t.Helper()
	route, ok := p.MatchWebhook(http.MethodPost, c.Webhook.Path)
	if !ok {
		t.Fatalf("no webhook route %s", c.Webhook.Path)
	}
	hdr := http.Header{"Content-Type": {"application/json"}}
	for k, v := range headers {
		hdr.Set(k, v)
	}
	evs, err := p.Extract(route, body, hdr, nil)
	if err != nil || len(evs) == 0 {
		t.Fatalf("Extract: %d events, %v", len(evs), err)
	}
	ds := make([]Decision, len(evs))
	for i := range evs {
		ds[i] = eng.Decide(context.Background(), p, &evs[i])
		if ds[i].Action != want {
			t.Errorf("event %d (%s/%s): %s by %s (%s: %s), want %s", i, ds[i].Object, ds[i].Record, ds[i].Action, ds[i].Layer, ds[i].Reason.String(), ds[i].Detail, want)
		}
	}
	if err := eng.Accepted(context.Background(), p, evs, ds); err != nil {
		t.Fatal(err)
	}
}

func checkPull(t *testing.T, p *Provider, eng *Engine, c *multitest.Case, body []byte, read func(string) []byte) {
	t.Helper()
	r, ps, ok := p.MatchRead(c.Read.Method, c.Read.Path)
	if !ok {
		t.Fatalf("no read route %s %s", c.Read.Method, c.Read.Path)
	}
	routes := []*WebhookRoute{r}
	if r.GraphQLRead() {
		var err error
		if routes, err = p.GraphQLReads(c.Read.Method, c.Read.Path, "application/json", read(c.Read.Body)); err != nil {
			t.Fatalf("GraphQLReads: %v", err)
		}
	}
	for _, r := range routes {
		evs, err := p.ExtractRead(r, &ps, "acct", body, http.Header{}, nil)
		if err != nil {
			t.Fatalf("ExtractRead: %v", err)
		}
		keep := make([]bool, len(evs))
		for i := range evs {
			keep[i] = eng.Decide(context.Background(), p, &evs[i]).Action == Forward
		}
		if body, err = p.Rewrite(r, body, evs, keep); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, v := range gjson.GetBytes(body, c.Read.IDs).Array() {
		got = append(got, v.String())
	}
	if strings.Join(got, ",") != strings.Join(c.Read.Kept, ",") {
		t.Errorf("pulled list kept %v, want %v", got, c.Read.Kept)
	}
	if c.Read.Keeps != "" && !gjson.GetBytes(body, c.Read.Keeps).Exists() {
		t.Errorf("pulled response lost %s: %s", c.Read.Keeps, body)
	}
}
