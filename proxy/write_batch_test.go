package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/multitest"
	"github.com/loopguard/loopguard/filters/signature"
	"github.com/loopguard/loopguard/tagging"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tidwall/gjson"
)

// multiCases are the batch and GraphQL write route cases shared with the
// filters tests.
const multiCases = "../filters/testdata/multi"

// multiAPI is a fake provider API (a real TLS server) that answers a
// case's write with its documented response, filled from the request it
// received, and its read with the case's list.
type multiAPI struct {
	c    *multitest.Case
	mu   sync.Mutex
	sent []byte // the write's body as received
	resp []byte // the write's answer
	hdr  http.Header
	// echoAll answers every request with its own body.
	echoAll bool
}

func (a *multiAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c := a.c
	w.Header().Set("Content-Type", "application/json")
	a.mu.Lock()
	echoAll := a.echoAll
	a.mu.Unlock()
	switch {
	case echoAll:
		w.Header().Set("X-Echo", "1")
		if r.Header.Get("X-Sync-Agent") != "" {
			w.Header().Set("X-Echo", "tagged")
		}
		_, _ = w.Write(body)
	case r.Method == c.Write.Method && strings.HasSuffix(r.URL.Path, c.Write.Path) && r.URL.RawQuery == c.Write.Query && a.isWrite(body):
		tpl, _ := c.File(c.Write.Response)
		out := multitest.Fill(tpl, body, nil)
		a.mu.Lock()
		a.sent, a.resp, a.hdr = body, out, r.Header.Clone()
		a.mu.Unlock()
		w.WriteHeader(c.Write.Status)
		_, _ = w.Write(out)
	case c.Read != nil && r.Method == c.Read.Method && strings.HasSuffix(r.URL.Path, c.Read.Path):
		tpl, _ := c.File(c.Read.Response)
		a.mu.Lock()
		out := multitest.Fill(tpl, a.sent, a.resp)
		a.mu.Unlock()
		_, _ = w.Write(out)
	default:
		// An operation the case does not configure: echo the request, so
		// the test can see it arrived untouched.
		w.Header().Set("X-Echo", "1")
		if r.Header.Get("X-Sync-Agent") != "" {
			w.Header().Set("X-Echo", "tagged")
		}
		_, _ = w.Write(body)
	}
}

// isWrite tells the write from a read at the same GraphQL path.
func (a *multiAPI) isWrite(body []byte) bool {
	return !strings.HasPrefix(strings.TrimSpace(gjson.GetBytes(body, "query").String()), "query")
}

func (a *multiAPI) written() ([]byte, []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sent, a.resp
}

// multiEnv is a sidecar in front of a case's fake API, with a real app
// server behind its inbound listener.
type multiEnv struct {
	c    *multitest.Case
	api  *multiAPI
	srv  *httptest.Server
	app  *recorder
	s    *Sidecar
	http *http.Client
	base string // the API's URL as the app calls it in this mode
	name string // the provider's name
}

func newMultiEnv(t *testing.T, dir, mode string) *multiEnv {
	t.Helper()
	c, err := multitest.Load(dir)
	must(t, err)
	e := &multiEnv{c: c, api: &multiAPI{c: c}, app: &recorder{}}
	e.srv = httptest.NewTLSServer(e.api)
	t.Cleanup(e.srv.Close)
	appSrv := httptest.NewServer(e.app)
	t.Cleanup(appSrv.Close)
	head := "app_url: \"" + appSrv.URL + "\"\noutbound:\n  upstream_ca_file: \"" + writePEM(t, e.srv) + "\"\n"
	yaml := c.Deployment(head, map[string]string{"upstream_host": hostOf(e.srv), "upstream_url": e.srv.URL})
	e.s = startSidecar(t, yaml, nil)
	e.name = e.s.Engine.Providers()[0].Name
	switch mode {
	case "mitm":
		e.http, e.base = proxiedClient(t, e.s), e.srv.URL
	case "gateway":
		e.http, e.base = http.DefaultClient, "http://"+e.s.Addr("outbound")+"/"+e.name
	}
	return e
}

func (e *multiEnv) state(t *testing.T, object, record string) (ledger.State, bool) {
	t.Helper()
	var st ledger.State
	ok, err := e.s.Store.Get(context.Background(), ledger.Key{Provider: e.name, Object: object, Record: record}, &st)
	must(t, err)
	return st, ok
}

// TestBatchAndGraphQLWritesEndToEnd runs every case through the forward
// proxy (MITM) and through the gateway: the write reaches the API tagged
// per record (a sentinel bound to each record where the profile has one,
// every other byte as sent), each record the response reports written is
// in the ledger as its own write and the others are not, a pulled list
// loses the echoes and keeps the rest (pageInfo too), the echo deliveries
// never reach the app and the genuine ones do.
func TestBatchAndGraphQLWritesEndToEnd(t *testing.T) {
	t.Parallel()
	names, err := multitest.Names(multiCases)
	must(t, err)
	for _, name := range names {
		for _, mode := range []string{"mitm", "gateway"} {
			t.Run(name+"/"+mode, func(t *testing.T) {
				e := newMultiEnv(t, filepath.Join(multiCases, name), mode)
				c := e.c
				body, err := c.File(c.Write.Body)
				must(t, err)
				u := e.base + c.Write.Path
				if c.Write.Query != "" {
					u += "?" + c.Write.Query
				}
				resp, got := mustDo(t, e.http, c.Write.Method, u, "application/json", string(body))
				sent, answer := e.api.written()
				if resp.StatusCode != c.Write.Status || got != string(answer) {
					t.Fatalf("write answered %d %q, want %d and the API's bytes %q", resp.StatusCode, got, c.Write.Status, answer)
				}
				if back := multitest.StripSentinels(sent); !bytes.Equal(back, body) {
					t.Errorf("the API got a body that differs beyond the sentinels:\n got %s\nwant %s", back, body)
				}
				e.api.mu.Lock()
				hdr := e.api.hdr
				e.api.mu.Unlock()
				for k, v := range c.Write.Headers {
					if got := hdr.Get(k); got != v {
						t.Errorf("the API got %s: %q, want %q", k, got, v)
					}
				}
				e.checkRecords(t, sent)
				if c.Read != nil {
					e.checkRead(t)
				}
				for i, f := range c.Echo {
					e.deliver(t, f, multitest.HeaderAt(c.EchoHeaders, i), sent, answer, false)
				}
				for i, f := range c.Genuine {
					e.deliver(t, f, multitest.HeaderAt(c.GenuineHeaders, i), sent, answer, true)
				}
			})
		}
	}
}

// checkRecords checks each record's sentinel in the body the API got and
// its ledger state.
func (e *multiEnv) checkRecords(t *testing.T, sent []byte) {
	t.Helper()
	recorded := 0
	for i, r := range e.c.Records {
		st, ok := e.state(t, r.Object, r.Record)
		if ok != r.Recorded {
			t.Errorf("record %d (%s/%s): in the ledger %v, want %v", i, r.Object, r.Record, ok, r.Recorded)
			continue
		}
		if !ok {
			continue
		}
		recorded++
		if len(st.Writes) != 1 || len(st.Writes[0].Expected) == 0 {
			t.Errorf("record %d: ledger writes %+v, want one write with its expected state", i, st.Writes)
			continue
		}
		if r.Sentinel != "" {
			nonce, _, ours := tagging.ParseSentinel(gjson.GetBytes(sent, r.Sentinel).String(), "loopguard")
			if !ours || nonce != st.Writes[0].Nonce {
				t.Errorf("record %d: sentinel at %s (ours %v) does not name its ledger write (nonce %x)", i, r.Sentinel, ours, st.Writes[0].Nonce)
			}
		}
	}
	if n := testutil.ToFloat64(e.s.Metrics.WritesRecorded.WithLabelValues(e.name)); int(n) != recorded {
		t.Errorf("writes recorded = %v, want %d", n, recorded)
	}
}

// checkRead polls the case's list through the proxy.
func (e *multiEnv) checkRead(t *testing.T) {
	t.Helper()
	rd := e.c.Read
	var body []byte
	if rd.Body != "" {
		var err error
		body, err = e.c.File(rd.Body)
		must(t, err)
	}
	resp, got := mustDo(t, e.http, rd.Method, e.base+rd.Path, "application/json", string(body))
	if resp.StatusCode != 200 {
		t.Fatalf("read: %d %s", resp.StatusCode, got)
	}
	var ids []string
	for _, v := range gjson.Get(got, rd.IDs).Array() {
		ids = append(ids, v.String())
	}
	if strings.Join(ids, ",") != strings.Join(rd.Kept, ",") {
		t.Errorf("pulled list kept %v, want %v: %s", ids, rd.Kept, got)
	}
	if rd.Keeps != "" && !gjson.Get(got, rd.Keeps).Exists() {
		t.Errorf("pulled answer lost %s: %s", rd.Keeps, got)
	}
}

// deliver posts a webhook delivery to the inbound listener: an echo never
// reaches the app, a genuine delivery does, byte for byte.
func (e *multiEnv) deliver(t *testing.T, file string, headers map[string]string, sent, answer []byte, genuine bool) {
	t.Helper()
	tpl, err := e.c.File(file)
	must(t, err)
	body := multitest.Fill(tpl, sent, answer)
	h := http.Header{"Content-Type": {"application/json"}}
	for k, v := range headers {
		h.Set(k, v)
	}
	if sig := e.s.Engine.Providers()[0].Profile.Signature; sig.Scheme != "" {
		// Signed as the provider would, with the deployment's secret.
		scheme, err := signature.New(signature.Config{Scheme: sig.Scheme, Secret: sig.Secret.Value(), Header: sig.Header,
			Encoding: sig.Encoding, Prefix: sig.Prefix, TimestampHeader: sig.TimestampHeader, Payload: sig.Payload})
		must(t, err)
		uri := "http://" + e.s.Addr("inbound") + e.c.Webhook.Path
		must(t, scheme.Sign(signature.Request{Method: http.MethodPost, URI: uri, Header: h}, body, time.Now(), h))
	}
	var hdr []string
	for k := range h {
		hdr = append(hdr, k, h.Get(k))
	}
	before := len(e.app.all())
	resp, got := mustDo(t, http.DefaultClient, http.MethodPost, "http://"+e.s.Addr("inbound")+e.c.Webhook.Path, "application/json", string(body), hdr...)
	if resp.StatusCode != 200 {
		t.Fatalf("delivery %s answered %d %s", file, resp.StatusCode, got)
	}
	after := e.app.all()
	switch {
	case genuine && (len(after) != before+1 || !bytes.Equal(after[len(after)-1].Body, body)):
		t.Errorf("genuine delivery %s did not reach the app as sent (%d requests before, %d after)", file, before, len(after))
	case !genuine && len(after) != before:
		t.Errorf("echo delivery %s reached the app: %s", file, after[len(after)-1].Body)
	}
}

// TestGraphQLUnconfiguredPassesUntouched sends operations no route names
// to a GraphQL path through both modes: the API gets the request's bytes
// and no tagging header, and the app gets the API's answer as sent.
func TestGraphQLUnconfiguredPassesUntouched(t *testing.T) {
	t.Parallel()
	bodies := map[string]string{
		"other mutation":          `{"query":"mutation { commentCreate(input: {issueId: \"i1\", body: \"hi\"}) { success } }"}`,
		"unlisted query":          `{"query":"query { viewer { id name } }","variables":{}}`,
		"persisted query":         `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"}}}`,
		"batched array":           `[{"query":"mutation($id: String!, $input: IssueUpdateInput!) { issueUpdate(id: $id, input: $input) { success } }","variables":{"id":"x","input":{"title":"t"}}}]`,
		"not graphql":             `{"hello": "world"}`,
		"unparsable query":        `{"query":"mutation { issueUpdate(id: "}`,
		"query named issueUpdate": `{"query":"query { issueUpdate: issues { nodes { id } } }"}`,
	}
	for _, mode := range []string{"mitm", "gateway"} {
		e := newMultiEnv(t, filepath.Join(multiCases, "linear_issue_update"), mode)
		e.api.mu.Lock()
		e.api.echoAll = true
		e.api.mu.Unlock()
		for name, body := range bodies {
			t.Run(mode+"/"+name, func(t *testing.T) {
				resp, got := mustDo(t, e.http, http.MethodPost, e.base+"/graphql", "application/json", body)
				if resp.StatusCode != 200 || got != body || resp.Header.Get("X-Echo") != "1" {
					t.Fatalf("answer %d %q, want the API's echo of the request bytes", resp.StatusCode, got)
				}
				if sent, _ := e.api.written(); sent != nil {
					t.Fatalf("taken for the configured write: %s", sent)
				}
			})
		}
		if n := testutil.ToFloat64(e.s.Metrics.WritesRecorded.WithLabelValues(e.name)); n != 0 {
			t.Errorf("%s: %v writes recorded", mode, n)
		}
	}
}
