package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/proxy/egress"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"github.com/tidwall/gjson"
)

// egressEnv is a sidecar with provider "crm" on a loopback TLS fake API,
// its log lines, and clients that go through its forward proxy.
type egressEnv struct {
	s    *Sidecar
	up   *recorder
	api  *httptest.Server
	logs *syncBuffer
}

// egressVars are the placeholders of testdata/egress.yaml a test sets.
type egressVars struct {
	outbound, listen, providers string
}

func newEgressEnv(t *testing.T, v egressVars, opts ...Option) *egressEnv {
	t.Helper()
	up := &recorder{}
	api := httptest.NewTLSServer(up)
	t.Cleanup(api.Close)
	cfg, err := os.ReadFile("testdata/egress.yaml")
	must(t, err)
	yaml := strings.NewReplacer("{{outbound}}", v.outbound, "{{listen}}", v.listen, "{{providers}}", v.providers,
		"{{upstream_ca}}", writePEM(t, api), "{{upstream_host}}", hostOf(api), "{{upstream_url}}", api.URL).Replace(string(cfg))
	l, err := configs.LoadBytes("egress.yaml", []byte(yaml), inboundServerEnv)
	if err != nil {
		t.Fatalf("load config: %v\n%s", err, yaml)
	}
	if v.listen == "" {
		l.Config.Listen = configs.Listen{Outbound: "127.0.0.1:0", Inbound: "127.0.0.1:0", Admin: "127.0.0.1:0"}
	}
	l.Config.CA.Dir = filepath.Join(t.TempDir(), "ca")
	l.Config.Spool.Dir = filepath.Join(t.TempDir(), "spool")
	logs := &syncBuffer{}
	s, err := New(l, zerolog.New(logs), opts...)
	if err != nil {
		t.Fatalf("new sidecar: %v", err)
	}
	must(t, s.Start())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return &egressEnv{s: s, up: up, api: api, logs: logs}
}

// syncBuffer collects log lines written from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// lines returns the JSON log lines whose message is msg.
func (b *syncBuffer) lines(msg string) []gjson.Result {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []gjson.Result
	for _, l := range strings.Split(b.b.String(), "\n") {
		if r := gjson.Parse(l); r.Get("message").String() == msg {
			out = append(out, r)
		}
	}
	return out
}

// answer is what a client got from the proxy for one destination.
type answer struct {
	status int
	reason string // X-Loopguard-Egress-Refused
	body   string
}

func (a answer) String() string { return fmt.Sprintf("%d %s %q", a.status, a.reason, a.body) }

// connect sends a raw CONNECT through the proxy and reads the answer (a Go
// client hides a refused CONNECT's body).
func (e *egressEnv) connect(t *testing.T, target string) answer {
	t.Helper()
	c, err := net.DialTimeout("tcp", e.s.Addr("outbound"), 5*time.Second)
	must(t, err)
	defer c.Close()
	must(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	must(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatalf("CONNECT %s: %v", target, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return answer{status: 200}
	}
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Get(egress.ReasonHeader), string(b)}
}

// get sends a plain-HTTP GET through the proxy with a Go client.
func (e *egressEnv) get(t *testing.T, u string) answer {
	t.Helper()
	resp, body := mustDo(t, e.client(nil), http.MethodGet, u, "", "")
	return answer{resp.StatusCode, resp.Header.Get(egress.ReasonHeader), body}
}

// client goes through the proxy and trusts the sidecar's CA plus extra.
func (e *egressEnv) client(extra *x509.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.s.CA.CertPEM())
	if extra != nil {
		pool.AddCert(extra)
	}
	pu, _ := url.Parse("http://" + e.s.Addr("outbound"))
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true,
	}}
}

func (e *egressEnv) denied(reason string) float64 {
	return testutil.ToFloat64(e.s.Metrics.EgressDenied.WithLabelValues(reason))
}

// wantRefused checks a refusal: 403, the reason in the header and the
// body, and the destination named.
func wantRefused(t *testing.T, what string, a answer, reason string) {
	t.Helper()
	if a.status != http.StatusForbidden || a.reason != reason || !strings.Contains(a.body, "refused: "+reason) {
		t.Errorf("%s: got %v; want 403 %s", what, a, reason)
	}
}

// TestEgressRefusesOwnListeners: CONNECT and plain HTTP to loopguard's own
// admin, inbound and outbound listeners are 403 own_listener, even with
// all of loopback allowed, with one log line and one count each.
func TestEgressRefusesOwnListeners(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, outbound string }{
		{"default", ""},
		{"loopback allowed", "  allow: [127.0.0.0/8, localhost]\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEgressEnv(t, egressVars{outbound: c.outbound})
			n := 0
			for _, l := range []string{"admin", "inbound", "outbound"} {
				addr := e.s.Addr(l)
				wantRefused(t, "CONNECT "+l, e.connect(t, addr), "own_listener")
				wantRefused(t, "GET "+l, e.get(t, "http://"+addr+"/metrics"), "own_listener")
				n += 2
			}
			// A Go client that tunnels sees the CONNECT refused.
			_, err := e.client(nil).Get("https://" + e.s.Addr("admin") + "/metrics")
			if err == nil || !strings.Contains(err.Error(), "Forbidden") {
				t.Errorf("HTTPS to admin through the proxy: err = %v; want Forbidden", err)
			}
			n++
			if got := e.denied("own_listener"); got != float64(n) {
				t.Errorf("loopguard_egress_denied_total{reason=own_listener} = %v, want %d", got, n)
			}
			lines := e.logs.lines(msgEgressRefused)
			if len(lines) != n {
				t.Fatalf("%d %q log lines for %d refusals", len(lines), msgEgressRefused, n)
			}
			l := lines[0]
			if l.Get(egress.FieldReason).String() != "own_listener" || l.Get(egress.FieldHost).String() != "127.0.0.1" ||
				l.Get(egress.FieldPort).Int() == 0 || l.Get("level").String() != "warn" {
				t.Errorf("log line %s", l.Raw)
			}
		})
	}
}

// TestEgressOpenAndClosedPortsAnswerAlike: a refused loopback port answers
// the same whether something listens on it or not, and nothing connects to
// the open one: the decision is made before dialling.
func TestEgressOpenAndClosedPortsAnswerAlike(t *testing.T) {
	t.Parallel()
	e := newEgressEnv(t, egressVars{})
	open, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer open.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := open.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = c.Close()
		}
	}()
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	closed := gone.Addr().String()
	must(t, gone.Close())
	norm := func(a answer, addr string) answer {
		_, port, _ := net.SplitHostPort(addr)
		a.body = strings.ReplaceAll(a.body, port, "PORT")
		return a
	}
	for _, how := range []struct {
		name string
		do   func(addr string) answer
	}{
		{"CONNECT", func(addr string) answer { return e.connect(t, addr) }},
		{"GET", func(addr string) answer { return e.get(t, "http://"+addr+"/") }},
	} {
		o, c := norm(how.do(open.Addr().String()), open.Addr().String()), norm(how.do(closed), closed)
		wantRefused(t, how.name+" open", o, "loopback")
		if o != c {
			t.Errorf("%s: open port answered %v, closed port %v", how.name, o, c)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the refused open port accepted %d connections", n)
	}
}

// TestEgressRefusesCloudMetadata: 169.254.169.254, by address or by a name
// that resolves to it, and other link-local and private addresses, are
// refused before dialling (a dial would answer 502 or time out, not 403).
func TestEgressRefusesCloudMetadata(t *testing.T) {
	t.Parallel()
	r := &scriptResolver{answers: map[string][]string{"metadata.google.internal": {"169.254.169.254"}, "db.internal": {"10.0.0.7"}}}
	e := newEgressEnv(t, egressVars{}, WithResolver(r))
	for _, c := range []struct{ target, reason string }{
		{"169.254.169.254:80", "link_local"}, {"metadata.google.internal:80", "link_local"},
		{"[fe80::a9fe:a9fe]:80", "link_local"}, {"[::ffff:169.254.169.254]:80", "link_local"},
		{"db.internal:5432", "private"}, {"192.168.1.1:80", "private"}, {"[fd00::1]:443", "private"},
		{"100.64.0.1:80", "private"}, {"0.0.0.0:80", "unspecified"}, {"224.0.0.1:80", "multicast"},
	} {
		wantRefused(t, "CONNECT "+c.target, e.connect(t, c.target), c.reason)
		wantRefused(t, "GET "+c.target, e.get(t, "http://"+c.target+"/latest/meta-data/"), c.reason)
	}
	if got := e.denied("link_local"); got != 8 {
		t.Errorf("denied{link_local} = %v, want 8", got)
	}
}

// TestEgressProviderOnLoopbackStillWorks: a provider host on 127.0.0.1 is
// intercepted, tagged and recorded through MITM and the gateway, even with
// outbound.tunnel none, while an unconfigured loopback host is refused.
func TestEgressProviderOnLoopbackStillWorks(t *testing.T) {
	t.Parallel()
	e := newEgressEnv(t, egressVars{outbound: "  tunnel: none\n"})
	c := e.client(nil)
	resp, got := mustDo(t, c, http.MethodPatch, e.api.URL+"/v1/contacts/p1", "application/json", `{"name":"Ada"}`)
	if resp.StatusCode != 200 || got != `{"ok":true}` {
		t.Fatalf("MITM write = %d %q", resp.StatusCode, got)
	}
	if r := e.up.last(t); r.Header.Get("X-Change-Agent") != "loopguard" || !gjson.GetBytes(r.Body, "sync_source").Exists() {
		t.Fatalf("MITM write not tagged: %v %s", r.Header, r.Body)
	}
	resp, _ = mustDo(t, http.DefaultClient, http.MethodPatch, "http://"+e.s.Addr("outbound")+"/crm/v1/contacts/g1", "application/json", `{"name":"Gw"}`)
	if resp.StatusCode != 200 || !gjson.GetBytes(e.up.last(t).Body, "sync_source").Exists() {
		t.Fatalf("gateway write = %d", resp.StatusCode)
	}
	if n := testutil.ToFloat64(e.s.Metrics.WritesRecorded.WithLabelValues("crm")); n != 2 {
		t.Errorf("writes recorded = %v, want 2", n)
	}
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	wantRefused(t, "unconfigured", e.connect(t, hostOf(other)), "tunnel_disabled")
}

// TestEgressAllowList: entries by host name, by CIDR and by ip:port open
// loopback destinations; neighbours stay refused and own listeners stay
// refused.
func TestEgressAllowList(t *testing.T) {
	t.Parallel()
	target := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("target")) }))
	target.Config.ErrorLog = stdlog.New(io.Discard, "", 0) // raw CONNECTs close before a handshake
	target.StartTLS()
	defer target.Close()
	_, port, _ := net.SplitHostPort(hostOf(target))
	r := &scriptResolver{answers: map[string][]string{"api.internal.test": {"127.0.0.1"}, "other.internal.test": {"127.0.0.1"}}}
	for _, c := range []struct {
		name, allow string
		ok, refused []string // host:port targets
	}{
		{"host", `["api.internal.test"]`, []string{"api.internal.test:" + port}, []string{"other.internal.test:" + port, hostOf(target)}},
		{"wildcard", `["*.internal.test"]`, []string{"api.internal.test:" + port, "other.internal.test:" + port}, []string{hostOf(target)}},
		{"host and port", `["api.internal.test:` + port + `"]`, []string{"api.internal.test:" + port}, []string{"api.internal.test:1"}},
		{"cidr", `["127.0.0.0/8"]`, []string{hostOf(target), "api.internal.test:" + port}, []string{"[::1]:" + port}},
		{"ip and port", `["` + hostOf(target) + `"]`, []string{hostOf(target), "api.internal.test:" + port}, []string{"127.0.0.1:1", "api.internal.test:1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEgressEnv(t, egressVars{outbound: "  allow: " + c.allow + "\n"}, WithResolver(r))
			cl := e.client(target.Certificate())
			for _, hp := range c.ok {
				if a := e.connect(t, hp); a.status != 200 {
					t.Errorf("CONNECT %s = %v; want 200", hp, a)
				}
				// Through the tunnel to the real server (TLS verified by IP).
				req, _ := http.NewRequest(http.MethodGet, "https://"+hostOf(target)+"/", nil)
				req.URL.Host = hp
				req.Host = hp
				cl.Transport.(*http.Transport).TLSClientConfig.ServerName = "127.0.0.1"
				resp, err := cl.Do(req)
				if err != nil {
					t.Fatalf("GET %s through the tunnel: %v", hp, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "target" {
					t.Errorf("GET %s = %q", hp, b)
				}
			}
			for _, hp := range c.refused {
				if a := e.connect(t, hp); a.status != http.StatusForbidden {
					t.Errorf("CONNECT %s = %v; want 403", hp, a)
				}
			}
			wantRefused(t, "admin", e.connect(t, e.s.Addr("admin")), "own_listener")
		})
	}
}

// TestEgressTunnelModes: what a host no provider names gets in each mode,
// through CONNECT and plain HTTP.
func TestEgressTunnelModes(t *testing.T) {
	t.Parallel()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("plain")) }))
	defer plain.Close()
	unlisted := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("unlisted")) }))
	defer unlisted.Close()
	allow := "  allow: [\"" + hostOf(plain) + "\"]\n"
	for _, c := range []struct {
		mode, outbound       string
		listed, unlistedWant string // "200" or a refusal reason
	}{
		{"public", allow, "200", "loopback"},
		{"public default", "", "loopback", "loopback"},
		{"configured", allow + "  tunnel: configured\n", "200", "not_configured"},
		{"none", allow + "  tunnel: none\n", "tunnel_disabled", "tunnel_disabled"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			e := newEgressEnv(t, egressVars{outbound: c.outbound})
			for _, d := range []struct {
				srv  *httptest.Server
				want string
			}{{plain, c.listed}, {unlisted, c.unlistedWant}} {
				ca, ga := e.connect(t, hostOf(d.srv)), e.get(t, d.srv.URL+"/")
				if d.want == "200" {
					if ca.status != 200 || ga.status != 200 || ga.body != "plain" {
						t.Errorf("%s: CONNECT %v, GET %v; want both through", d.srv.URL, ca, ga)
					}
					continue
				}
				wantRefused(t, "CONNECT "+d.srv.URL, ca, d.want)
				wantRefused(t, "GET "+d.srv.URL, ga, d.want)
			}
			// The provider is reached in every mode.
			if resp, _ := mustDo(t, e.client(nil), http.MethodGet, e.api.URL+"/v1/contacts/x", "", ""); resp.StatusCode != 200 {
				t.Errorf("provider GET = %d", resp.StatusCode)
			}
		})
	}
}

// TestEgressNoDNSRebinding: a name that answers an allowed address when it
// is checked and a refused one right after is connected to the address
// checked — for a CONNECT tunnel and for plain HTTP — and looked up once.
// The allowed server listens on 127.0.0.2, a "secret" one on 127.0.0.1 at
// the same port.
func TestEgressNoDNSRebinding(t *testing.T) {
	allowedLn, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2 (loopback /8 route missing): %v", err)
	}
	_, port, _ := net.SplitHostPort(allowedLn.Addr().String())
	secretLn, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		allowedLn.Close()
		t.Skipf("port %s busy on 127.0.0.1: %v", port, err)
	}
	var secretHits atomic.Int32
	allowed := &httptest.Server{Listener: allowedLn, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("checked")) })}}
	secret := &httptest.Server{Listener: secretLn, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		secretHits.Add(1)
		_, _ = w.Write([]byte("secret"))
	})}}
	allowed.Start()
	defer allowed.Close()
	secret.Start()
	defer secret.Close()
	r := &scriptResolver{answers: map[string][]string{
		"tunnel.rebind.test": {"127.0.0.2", "127.0.0.1"}, "plain.rebind.test": {"127.0.0.2", "127.0.0.1"},
	}}
	e := newEgressEnv(t, egressVars{outbound: "  allow: [127.0.0.2]\n"}, WithResolver(r))

	// CONNECT, then plain HTTP inside the tunnel.
	c, err := net.Dial("tcp", e.s.Addr("outbound"))
	must(t, err)
	defer c.Close()
	must(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	fmt.Fprintf(c, "CONNECT tunnel.rebind.test:%s HTTP/1.1\r\nHost: tunnel.rebind.test:%s\r\n\r\n", port, port)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	must(t, err)
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT = %d", resp.StatusCode)
	}
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: tunnel.rebind.test\r\nConnection: close\r\n\r\n")
	resp, err = http.ReadResponse(br, nil)
	must(t, err)
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "checked" {
		t.Fatalf("tunnel reached %q; want the checked address's server", b)
	}
	if n := r.count("tunnel.rebind.test"); n != 1 {
		t.Errorf("tunnel: %d lookups; want 1", n)
	}

	// Plain-HTTP forwarding.
	got := e.get(t, "http://plain.rebind.test:"+port+"/")
	if got.status != 200 || got.body != "checked" {
		t.Fatalf("plain HTTP = %v; want the checked address's server", got)
	}
	if n := r.count("plain.rebind.test"); n != 1 {
		t.Errorf("plain: %d lookups; want 1", n)
	}
	if n := secretHits.Load(); n != 0 {
		t.Fatalf("the rebound address was reached %d times", n)
	}
	// A later check sees the new answer and refuses it.
	e.s.Outbound.gp.Tr.CloseIdleConnections()
	wantRefused(t, "rebound", e.get(t, "http://plain.rebind.test:"+port+"/"), "loopback")
}

// TestEgressOwnListenerBehindProviderAndGateway: a provider whose host and
// base_url point at loopguard's own admin listener is refused inside the
// MITM'd tunnel and through the gateway (the checked dialer is what the
// upstream transport uses).
func TestEgressOwnListenerBehindProviderAndGateway(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	admin := ln.Addr().String()
	must(t, ln.Close())
	e := newEgressEnv(t, egressVars{
		listen:    fmt.Sprintf("listen: {outbound: \"127.0.0.1:0\", inbound: \"127.0.0.1:0\", admin: %q}", admin),
		providers: fmt.Sprintf("  - use: generic\n    name: selfie\n    hosts: [%q]\n    base_url: \"https://%s\"\n    tracked_fields: [name]\n", admin, admin),
	})
	resp, body := mustDo(t, e.client(nil), http.MethodGet, "https://"+admin+"/metrics", "", "")
	wantRefused(t, "MITM to own admin", answer{resp.StatusCode, resp.Header.Get(egress.ReasonHeader), body}, "own_listener")
	resp, body = mustDo(t, http.DefaultClient, http.MethodGet, "http://"+e.s.Addr("outbound")+"/selfie/metrics", "", "")
	wantRefused(t, "gateway to own admin", answer{resp.StatusCode, resp.Header.Get(egress.ReasonHeader), body}, "own_listener")
	if got := e.denied("own_listener"); got != 2 {
		t.Errorf("denied{own_listener} = %v, want 2", got)
	}
}

// TestEgressWithCurl: curl -x through the proxy to the admin port, by
// CONNECT and plain HTTP.
func TestEgressWithCurl(t *testing.T) {
	t.Parallel()
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	e := newEgressEnv(t, egressVars{})
	admin := e.s.Addr("admin")
	out, _ := exec.Command(curl, "-sS", "-x", "http://"+e.s.Addr("outbound"), "-w", "\n%{http_code}", "http://"+admin+"/metrics").CombinedOutput()
	if !strings.HasSuffix(string(out), "\n403") || !strings.Contains(string(out), "refused: own_listener") {
		t.Errorf("curl plain HTTP: %q", out)
	}
	out, err = exec.Command(curl, "-sS", "-x", "http://"+e.s.Addr("outbound"), "-w", "%{http_connect}", "-k", "https://"+admin+"/metrics").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "403") {
		t.Errorf("curl CONNECT: err %v, %q; want the tunnel refused with 403", err, out)
	}
	if e.denied("own_listener") != 2 {
		t.Errorf("denied{own_listener} = %v, want 2", e.denied("own_listener"))
	}
}

// scriptResolver answers names from a script: the i-th lookup of a name
// gets answers[name][min(i, last)].
type scriptResolver struct {
	mu      sync.Mutex
	answers map[string][]string
	calls   map[string]int
}

func (r *scriptResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls = map[string]int{}
	}
	as := r.answers[host]
	i := r.calls[host]
	r.calls[host]++
	if len(as) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, s := range strings.Fields(as[min(i, len(as)-1)]) {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

func (r *scriptResolver) count(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[host]
}
