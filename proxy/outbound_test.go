package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/tagging"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tidwall/gjson"
)

type outboundEnv struct {
	up  *recorder
	srv *httptest.Server
	s   *Sidecar
	c   *http.Client
}

func newOutboundEnv(t *testing.T) *outboundEnv {
	t.Helper()
	up := &recorder{}
	srv, s := outboundSidecar(t, up)
	return &outboundEnv{up: up, srv: srv, s: s, c: proxiedClient(t, s)}
}

func (e *outboundEnv) state(t *testing.T, object, record string) (ledger.State, bool) {
	t.Helper()
	var st ledger.State
	ok, err := e.s.Store.Get(context.Background(), ledger.Key{Provider: "crm", Object: object, Record: record}, &st)
	must(t, err)
	return st, ok
}

func TestOutboundMITMTagsAndRecordsJSONWrite(t *testing.T) {
	t.Parallel()
	e := newOutboundEnv(t)
	body := `{"email": "ada@example.com",  "name":"Ada", "updated_at":"2026-11-27T10:00:00Z"}`
	resp, got := mustDo(t, e.c, http.MethodPatch, e.srv.URL+"/v1/contacts/c1", "application/json", body, "Authorization", "Bearer secret-token")
	if resp.StatusCode != 200 || got != `{"ok":true}` {
		t.Fatalf("response = %d %q, want 200 {\"ok\":true}", resp.StatusCode, got)
	}
	r := e.up.last(t)
	if r.Header.Get("X-Change-Agent") != "loopguard" {
		t.Errorf("upstream X-Change-Agent = %q", r.Header.Get("X-Change-Agent"))
	}
	sentinel := gjson.GetBytes(r.Body, "sync_source").String()
	nonce, _, ok := tagging.ParseSentinel(sentinel, "loopguard")
	if !ok {
		t.Fatalf("upstream body has no sentinel: %s", r.Body)
	}
	// Every other byte is unchanged: the original minus its closing brace is
	// a prefix, and only the inserted field follows.
	if !bytes.HasPrefix(r.Body, []byte(body[:len(body)-1])) || !strings.HasSuffix(string(r.Body), `"sync_source":"`+sentinel+`"}`) {
		t.Errorf("body bytes changed beyond the sentinel:\n got %s\nfrom %s", r.Body, body)
	}
	st, ok := e.state(t, "contacts", "c1")
	if !ok || len(st.Writes) != 1 || len(st.Writes[0].Expected) != 2 {
		t.Fatalf("ledger state = %+v, %v; want our write of name and email", st, ok)
	}
	if st.Writes[0].Nonce != nonce {
		t.Errorf("ledger write nonce %x != the sentinel's %x", st.Writes[0].Nonce, nonce)
	}
	if n := testutil.ToFloat64(e.s.Metrics.WritesRecorded.WithLabelValues("crm")); n != 1 {
		t.Errorf("writes recorded = %v, want 1", n)
	}
}

func TestOutboundFormWrite(t *testing.T) {
	t.Parallel()
	e := newOutboundEnv(t)
	body := "name=Ada&metadata%5Btier%5D=gold&expand[]=x"
	resp, _ := mustDo(t, e.c, http.MethodPatch, e.srv.URL+"/v1/customers/cus_1", "application/x-www-form-urlencoded", body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	r := e.up.last(t)
	if !strings.HasPrefix(string(r.Body), body+"&sync_source=loopguard%3A") {
		t.Fatalf("form body = %q; want original bytes then the sentinel pair", r.Body)
	}
	vals, err := url.ParseQuery(string(r.Body))
	must(t, err)
	if vals.Get("metadata[tier]") != "gold" {
		t.Errorf("metadata[tier] lost: %v", vals)
	}
	st, ok := e.state(t, "customers", "cus_1")
	if !ok || len(st.App) != 2 {
		t.Fatalf("ledger = %+v %v; want name and metadata.tier", st, ok)
	}
}

func TestOutboundCreateRecordsIDFromResponse(t *testing.T) {
	t.Parallel()
	e := newOutboundEnv(t)
	e.up.respond = func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"new-7","name":"Bo"}`))
	}
	resp, got := mustDo(t, e.c, http.MethodPost, e.srv.URL+"/v1/contacts", "application/json", `{"name":"Bo"}`)
	if resp.StatusCode != 201 || got != `{"id":"new-7","name":"Bo"}` {
		t.Fatalf("response %d %q", resp.StatusCode, got)
	}
	if _, ok := e.state(t, "contacts", "new-7"); !ok {
		t.Fatal("create not recorded under the id from the response")
	}
}

func TestOutboundFailedWriteNotRecorded(t *testing.T) {
	t.Parallel()
	e := newOutboundEnv(t)
	e.up.respond = func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		http.Error(w, `{"error":"invalid"}`, http.StatusUnprocessableEntity)
	}
	resp, _ := mustDo(t, e.c, http.MethodPatch, e.srv.URL+"/v1/contacts/c9", "application/json", `{"name":"X"}`)
	if resp.StatusCode != 422 {
		t.Fatalf("status %d, want the upstream's 422", resp.StatusCode)
	}
	if _, ok := e.state(t, "contacts", "c9"); ok {
		t.Fatal("a failed write was recorded")
	}
}

func TestOutboundOversizeAndUnknownTypesPassUntouched(t *testing.T) {
	t.Parallel()
	e := newOutboundEnv(t)
	big := `{"name":"` + strings.Repeat("x", 2048) + `"}`
	for _, c := range []struct{ name, ctype, body, reason string }{
		{"oversize", "application/json", big, "oversize"},
		{"xml", "application/xml", "<name>Ada</name>", "content_type"},
	} {
		t.Run(c.name, func(t *testing.T) {
			mustDo(t, e.c, http.MethodPut, e.srv.URL+"/v1/contacts/c2", c.ctype, c.body)
			if got := e.up.last(t).Body; string(got) != c.body {
				t.Fatalf("body changed: %d bytes, want %d", len(got), len(c.body))
			}
			if n := testutil.ToFloat64(e.s.Metrics.Untagged.WithLabelValues("crm", c.reason)); n != 1 {
				t.Errorf("untagged{%s} = %v, want 1", c.reason, n)
			}
		})
	}
	if _, ok := e.state(t, "contacts", "c2"); ok {
		t.Error("untouched writes must not be recorded")
	}
}

func TestOutboundReadsStream(t *testing.T) {
	t.Parallel()
	e := newOutboundEnv(t)
	resp, got := mustDo(t, e.c, http.MethodGet, e.srv.URL+"/v1/contacts/c1", "", "")
	if resp.StatusCode != 200 || got != `{"ok":true}` {
		t.Fatalf("GET through MITM = %d %q", resp.StatusCode, got)
	}
	if h := e.up.last(t).Header.Get("X-Change-Agent"); h != "" {
		t.Errorf("a read was tagged: %q", h)
	}
}

func TestOutboundConnectTunnelsUnconfiguredHost(t *testing.T) {
	t.Parallel()
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("other")) }))
	defer other.Close()
	// A loopback destination is refused by default: outbound.allow opens it.
	_, s := outboundSidecarWith(t, &recorder{}, "  allow: [\""+hostOf(other)+"\"]\n")
	pool := x509.NewCertPool()
	pool.AddCert(other.Certificate())
	pu, _ := url.Parse("http://" + s.Addr("outbound"))
	var peer *x509.Certificate
	c := &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyURL(pu),
		TLSClientConfig: &tls.Config{RootCAs: pool, VerifyConnection: func(cs tls.ConnectionState) error {
			peer = cs.PeerCertificates[0]
			return nil
		}},
	}}
	resp, got := mustDo(t, c, http.MethodPost, other.URL+"/x", "application/json", `{"name":"A"}`)
	if resp.StatusCode != 200 || got != "other" {
		t.Fatalf("tunnel = %d %q", resp.StatusCode, got)
	}
	if peer == nil || !peer.Equal(other.Certificate()) {
		t.Fatal("client did not see the upstream's own certificate through the tunnel")
	}
}

func TestOutboundGatewayMode(t *testing.T) {
	t.Parallel()
	e := newOutboundEnv(t)
	resp, got := mustDo(t, http.DefaultClient, http.MethodPatch, "http://"+e.s.Addr("outbound")+"/crm/v1/contacts/g1", "application/json", `{"name":"Gw"}`)
	if resp.StatusCode != 200 || got != `{"ok":true}` {
		t.Fatalf("gateway = %d %q", resp.StatusCode, got)
	}
	r := e.up.last(t)
	if r.Path != "/v1/contacts/g1" || r.Header.Get("X-Change-Agent") != "loopguard" || !gjson.GetBytes(r.Body, "sync_source").Exists() {
		t.Fatalf("upstream saw %s %v %s", r.Path, r.Header, r.Body)
	}
	if _, ok := e.state(t, "contacts", "g1"); !ok {
		t.Fatal("gateway write not recorded")
	}
}

func TestOutboundWithCurl(t *testing.T) {
	t.Parallel()
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	e := newOutboundEnv(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	must(t, os.WriteFile(caFile, e.s.CA.CertPEM(), 0o644))
	out, err := exec.Command(curl, "-sS", "--fail", "--proxy", "http://"+e.s.Addr("outbound"), "--cacert", caFile,
		"-X", "PATCH", "-H", "Content-Type: application/json", "--data", `{"name":"Curl"}`,
		e.srv.URL+"/v1/contacts/k1").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v: %s", err, out)
	}
	if string(out) != `{"ok":true}` {
		t.Errorf("curl got %q", out)
	}
	if r := e.up.last(t); r.Header.Get("X-Change-Agent") != "loopguard" || !gjson.GetBytes(r.Body, "sync_source").Exists() {
		t.Fatalf("curl write not tagged: %v %s", r.Header, r.Body)
	}
	if _, ok := e.state(t, "contacts", "k1"); !ok {
		t.Fatal("curl write not recorded")
	}
}

func TestOutboundChunkedWrite(t *testing.T) {
	t.Parallel()
	e := newOutboundEnv(t)
	body := `{"name":"Chunky","email":"c@x.io"}`
	// An io.Reader of unknown length makes the client send chunked.
	req, err := http.NewRequest(http.MethodPatch, e.srv.URL+"/v1/contacts/ch1", struct{ io.Reader }{strings.NewReader(body)})
	must(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.c.Do(req)
	must(t, err)
	resp.Body.Close()
	r := e.up.last(t)
	if resp.StatusCode != 200 || r.Header.Get("Content-Length") != strconv.Itoa(len(r.Body)) || !gjson.GetBytes(r.Body, "sync_source").Exists() {
		t.Fatalf("chunked write: %d, Content-Length %q for %d bytes: %s", resp.StatusCode, r.Header.Get("Content-Length"), len(r.Body), r.Body)
	}
	if _, ok := e.state(t, "contacts", "ch1"); !ok {
		t.Fatal("chunked write not recorded")
	}
}
