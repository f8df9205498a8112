package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/rs/zerolog"
)

// recorder is a fake API or app: a real HTTP server that records requests.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
	// respond answers a request; default 200 {"ok":true}.
	respond func(w http.ResponseWriter, r *http.Request, body []byte)
}

type recorded struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, recorded{r.Method, r.URL.RequestURI(), r.Header.Clone(), b})
	respond := rc.respond
	rc.mu.Unlock()
	if respond != nil {
		respond(w, r, b)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
}

// setRespond replaces the responder while the server may be serving.
func (rc *recorder) setRespond(f func(w http.ResponseWriter, r *http.Request, body []byte)) {
	rc.mu.Lock()
	rc.respond = f
	rc.mu.Unlock()
}

func (rc *recorder) all() []recorded {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]recorded(nil), rc.reqs...)
}

func (rc *recorder) last(t *testing.T) recorded {
	t.Helper()
	all := rc.all()
	if len(all) == 0 {
		t.Fatal("upstream saw no request")
	}
	return all[len(all)-1]
}

// writePEM writes a server's certificate as a PEM file and returns its path.
func writePEM(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "upstream.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startSidecar loads YAML (with {{key}} placeholders replaced) and starts a
// sidecar on loopback ports with opts (e.g. WithClock); it stops at test
// end.
func startSidecar(t *testing.T, yaml string, vars map[string]string, opts ...Option) *Sidecar {
	t.Helper()
	for k, v := range vars {
		yaml = strings.ReplaceAll(yaml, "{{"+k+"}}", v)
	}
	l, err := configs.LoadBytes("test.yaml", []byte(yaml), inboundServerEnv)
	if err != nil {
		t.Fatalf("load config: %v\n%s", err, yaml)
	}
	l.Config.Listen.Outbound = "127.0.0.1:0"
	l.Config.Listen.Inbound = "127.0.0.1:0"
	l.Config.Listen.Admin = "127.0.0.1:0"
	if l.Config.Listen.Gateway != "" {
		l.Config.Listen.Gateway = "127.0.0.1:0"
	}
	if l.Config.CA.CertFile == "" {
		l.Config.CA.Dir = filepath.Join(t.TempDir(), "ca")
	}
	if !strings.Contains(yaml, "spool:") {
		l.Config.Spool.Dir = filepath.Join(t.TempDir(), "spool")
	}
	s, err := New(l, zerolog.New(io.Discard), opts...)
	if err != nil {
		t.Fatalf("new sidecar: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

// proxiedClient is a client that uses the sidecar's forward proxy and
// trusts only its CA (http.ProxyFromEnvironment never proxies loopback, so
// the proxy is set explicitly).
func proxiedClient(t *testing.T, s *Sidecar) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CA.CertPEM())
	pu, _ := url.Parse("http://" + s.Addr("outbound"))
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy:           http.ProxyURL(pu),
			TLSClientConfig: &tls.Config{RootCAs: pool},
		},
	}
}

func mustDo(t *testing.T, c *http.Client, method, u, ctype, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// outboundSidecar starts a TLS upstream serving h and a sidecar whose
// "crm" provider (testdata/outbound.yaml) intercepts it.
func outboundSidecar(t *testing.T, h http.Handler, opts ...Option) (*httptest.Server, *Sidecar) {
	t.Helper()
	return outboundSidecarWith(t, h, "", opts...)
}

// outboundSidecarWith is outboundSidecar with extra lines in the outbound
// section (e.g. "  allow: [127.0.0.1:8443]\n").
func outboundSidecarWith(t *testing.T, h http.Handler, outbound string, opts ...Option) (*httptest.Server, *Sidecar) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	cfg, err := os.ReadFile("testdata/outbound.yaml")
	must(t, err)
	yaml := strings.Replace(string(cfg), "outbound:\n", "outbound:\n"+outbound, 1)
	s := startSidecar(t, yaml, map[string]string{
		"app": "http://127.0.0.1:1", "upstream_ca": writePEM(t, srv), "upstream_host": hostOf(srv), "upstream_url": srv.URL,
	}, opts...)
	return srv, s
}

func hostOf(srv *httptest.Server) string {
	u, _ := url.Parse(srv.URL)
	return u.Host
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// inboundServerEnv passes LOOPGUARD_INBOUND_SERVER (only) to the configs the
// tests load, so the package runs under either inbound server:
// LOOPGUARD_INBOUND_SERVER=net/http go test ./proxy/
func inboundServerEnv(k string) (string, bool) {
	if k != "LOOPGUARD_INBOUND_SERVER" {
		return "", false
	}
	return os.LookupEnv(k)
}
