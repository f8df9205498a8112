package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/proxy/ca"
	"github.com/loopguard/loopguard/proxy/transparent"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

// headerLog wraps a handler and keeps the headers of every request.
type headerLog struct {
	mu   sync.Mutex
	seen []http.Header
	next http.Handler
}

func (h *headerLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.seen = append(h.seen, r.Header.Clone())
	h.mu.Unlock()
	h.next.ServeHTTP(w, r)
}

func (h *headerLog) count() int { h.mu.Lock(); defer h.mu.Unlock(); return len(h.seen) }

func (h *headerLog) last() http.Header {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen[len(h.seen)-1]
}

// namedTLSServer serves h over TLS with a certificate for name, issued by
// a fresh CA whose PEM it returns.
func namedTLSServer(t *testing.T, name string, h http.Handler) (*httptest.Server, []byte) {
	t.Helper()
	auth, err := ca.Generate("test upstream CA")
	must(t, err)
	leaf, err := auth.Leaf(name)
	must(t, err)
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{*leaf}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, auth.CertPEM()
}

// startTransparentSidecar starts a sidecar with a transparent listener whose
// original destinations come from dst, keyed by the client's source IP
// (no iptables needed: a client bound to 127.0.0.X stands for a connection
// redirected from dst[X]).
func startTransparentSidecar(t *testing.T, yaml string, vars map[string]string, dst map[string]string, allow ...string) *Sidecar {
	t.Helper()
	for k, v := range vars {
		yaml = strings.ReplaceAll(yaml, "{{"+k+"}}", v)
	}
	l, err := configs.LoadBytes("test.yaml", []byte(yaml), nil)
	must(t, err)
	l.Config.Listen = configs.Listen{Outbound: "127.0.0.1:0", Inbound: "127.0.0.1:0", Admin: "127.0.0.1:0", Transparent: "127.0.0.1:0"}
	l.Config.CA.Dir = filepath.Join(t.TempDir(), "ca")
	l.Config.Spool.Dir = filepath.Join(t.TempDir(), "spool")
	l.Config.Outbound.Allow = allow
	s, err := New(l, zerolog.New(io.Discard), withTransparentOptions(func(o *transparent.Options) {
		o.OriginalDst = func(c net.Conn) (netip.AddrPort, error) {
			src := c.RemoteAddr().(*net.TCPAddr).IP.String()
			d, ok := dst[src]
			if !ok {
				return netip.AddrPort{}, fmt.Errorf("test: no destination for source %s", src)
			}
			return netip.ParseAddrPort(d)
		}
	}))
	must(t, err)
	must(t, s.Start())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

// capturedClient is an app with no proxy settings whose connections all
// land on the transparent listener, from source IP src.
func capturedClient(s *Sidecar, src string, roots *x509.CertPool) *http.Client {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", s.Addr("transparent"))
		},
		TLSClientConfig: &tls.Config{RootCAs: roots},
	}}
}

// TestTransparentInterceptsProviderAndSplicesTheRest: with no proxy
// settings, the app's calls to a provider host take the MITM path of proxy
// mode (writes tagged and recorded, polls filtered) over TLS and plain
// HTTP, and a call to any other host is spliced: the client sees that
// server's own certificate.
func TestTransparentInterceptsProviderAndSplicesTheRest(t *testing.T) {
	t.Parallel()
	api := genericCRM(t)
	hl := &headerLog{next: api}
	tlsAPI, apiCA := namedTLSServer(t, "api.crm.test", hl)
	plainAPI := httptest.NewServer(hl)
	defer plainAPI.Close()
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "other server") }))
	defer other.Close()
	refusedHits := &headerLog{next: http.NotFoundHandler()}
	refused := httptest.NewTLSServer(refusedHits)
	defer refused.Close()

	caFile := filepath.Join(t.TempDir(), "upstream.pem")
	must(t, os.WriteFile(caFile, apiCA, 0o600))
	raw, err := os.ReadFile("testdata/pull.yaml")
	must(t, err)
	s := startTransparentSidecar(t, string(raw), map[string]string{
		"upstream_ca": caFile, "upstream_host": "api.crm.test", "upstream_url": "https://api.crm.test",
		"observe": "false", "provider_observe": "false", "max_body": "16KiB",
	}, map[string]string{
		"127.0.0.51": tlsAPI.Listener.Addr().String(),
		"127.0.0.52": plainAPI.Listener.Addr().String(),
		"127.0.0.53": other.Listener.Addr().String(),
		"127.0.0.55": refused.Listener.Addr().String(),
	}, other.Listener.Addr().String()) // the egress policy refuses loopback unless allowed
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(s.CA.CertPEM())
	roots.AddCert(other.Certificate())
	app := capturedClient(s, "127.0.0.51", roots)

	// A write over TLS: tagged, recorded, sent once.
	resp, body := mustDo(t, app, http.MethodPatch, "https://api.crm.test/v1/contacts/c1", "application/json", `{"name":"App c1","email":"c1@example.com"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("write: %d %s", resp.StatusCode, body)
	}
	if got := hl.last().Get("X-Change-Agent"); got != "loopguard" || hl.count() != 1 {
		t.Fatalf("the provider saw %d request(s), X-Change-Agent %q: want one, tagged", hl.count(), got)
	}
	if n := testutil.ToFloat64(s.Metrics.WritesRecorded.WithLabelValues("crm")); n != 1 {
		t.Fatalf("writes recorded = %v, want 1", n)
	}
	// A write over plain HTTP (port 80 capture), by Host header.
	plainApp := capturedClient(s, "127.0.0.52", roots)
	resp, body = mustDo(t, plainApp, http.MethodPatch, "http://api.crm.test/v1/contacts/c2", "application/json", `{"name":"App c2","email":"c2@example.com"}`)
	if resp.StatusCode != 200 || hl.last().Get("X-Change-Agent") != "loopguard" {
		t.Fatalf("plain write: %d %s, tag %q", resp.StatusCode, body, hl.last().Get("X-Change-Agent"))
	}
	if n := testutil.ToFloat64(s.Metrics.WritesRecorded.WithLabelValues("crm")); n != 2 {
		t.Fatalf("writes recorded = %v, want 2", n)
	}
	// A poll: our two writes leave the page, the human's edit stays.
	api.edit("c3", "", map[string]any{"name": "Human c3", "email": "c3@example.com", "updated_by": "u_human"})
	resp, body = mustDo(t, app, http.MethodGet, "https://api.crm.test/v1/contacts", "", "")
	if got := ids(body, "results", "id"); resp.StatusCode != 200 || !slices.Equal(got, []string{"c3"}) {
		t.Fatalf("poll: %d, records %v, want [c3]:\n%s", resp.StatusCode, got, body)
	}
	// Another host: spliced, its own certificate.
	otherApp := capturedClient(s, "127.0.0.53", roots)
	resp, body = mustDo(t, otherApp, http.MethodGet, "https://example.com/", "", "")
	if resp.StatusCode != 200 || body != "other server" {
		t.Fatalf("spliced call: %d %q", resp.StatusCode, body)
	}
	if !bytes.Equal(resp.TLS.PeerCertificates[0].Raw, other.Certificate().Raw) {
		t.Fatal("the spliced client did not see the server's own certificate")
	}
	// Another host the egress policy refuses (loopback, not allowed): the
	// connection is closed before anything is dialled.
	refusedApp := capturedClient(s, "127.0.0.55", roots)
	if _, err := refusedApp.Get("https://example.com/"); err == nil {
		t.Fatal("a splice to a destination the egress policy refuses went through")
	}
	if refusedHits.count() != 0 {
		t.Fatal("the refused destination was reached")
	}
	if n := testutil.ToFloat64(s.Metrics.EgressDenied.WithLabelValues("loopback")); n != 1 {
		t.Errorf("egress refusals (loopback) = %v, want 1", n)
	}
	m := s.transparentConns
	if n := testutil.ToFloat64(m.WithLabelValues("refuse", "dial_failed")); n != 1 {
		t.Errorf("refused splices = %v, want 1", n)
	}
	if n := testutil.ToFloat64(m.WithLabelValues("splice", "other_host")); n != 1 {
		t.Errorf("spliced connections = %v, want 1", n)
	}
	if n := testutil.ToFloat64(m.WithLabelValues("intercept", "provider_host")); n < 2 {
		t.Errorf("intercepted connections = %v, want at least 2 (TLS and plain)", n)
	}
	if n := hl.count(); n != 3 {
		t.Errorf("the provider saw %d requests, want 3 (two writes, one poll)", n)
	}
	// The apps hang up: Shutdown waits for a connection it handed to the
	// MITM until the connection ends (or the grace period does).
	for _, c := range []*http.Client{app, plainApp, otherApp, refusedApp} {
		c.CloseIdleConnections()
	}
}

// TestTransparentUntrustedCA: an app that does not trust loopguard's CA
// fails its handshake with a provider host; nothing reaches the provider.
func TestTransparentUntrustedCA(t *testing.T) {
	t.Parallel()
	hl := &headerLog{next: http.NotFoundHandler()}
	tlsAPI, apiCA := namedTLSServer(t, "api.crm.test", hl)
	caFile := filepath.Join(t.TempDir(), "upstream.pem")
	must(t, os.WriteFile(caFile, apiCA, 0o600))
	raw, err := os.ReadFile("testdata/pull.yaml")
	must(t, err)
	s := startTransparentSidecar(t, string(raw), map[string]string{
		"upstream_ca": caFile, "upstream_host": "api.crm.test", "upstream_url": "https://api.crm.test",
		"observe": "false", "provider_observe": "false", "max_body": "16KiB",
	}, map[string]string{"127.0.0.54": tlsAPI.Listener.Addr().String()})
	app := capturedClient(s, "127.0.0.54", x509.NewCertPool())
	if _, err := app.Get("https://api.crm.test/v1/contacts"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("call without trusting the CA: %v, want a certificate error", err)
	}
	if hl.count() != 0 {
		t.Fatal("the provider was called although the client refused the handshake")
	}
}
