//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loopguard/loopguard/proxy/ca"
	"github.com/loopguard/loopguard/proxy/transparent/netns"
)

// The world of TestTransparentNetns: an app namespace (the pod) joined by a
// veth pair to a "world" namespace where webhooks come from.
const (
	nsAppIP     = "10.231.0.1"
	nsWorldIP   = "10.231.0.2"
	nsProvider  = "127.0.0.2" // api.crm.test, IPv4
	nsProvider6 = "fd00:1::2" // api.crm.test, IPv6 (an address on the app namespace's lo)
	nsOther     = "127.0.0.3" // example.com: a host no provider lists (outbound.allow names it)
	nsRefused   = "127.0.0.4" // example.org: another, which the egress policy refuses
	nsUID       = 1337        // loopguard's UID inside the namespace
	nsAdmin     = "127.0.0.1:9090"
	nsToken     = "netns-test-admin-token-0123456789"
	nsAppPort   = "3000"
)

// crm is the fake provider: PATCH merges into a record, GET /v1/contacts
// lists every record; every request's headers and body are kept.
type crm struct {
	mu      sync.Mutex
	records map[string]map[string]any
	reqs    []crmReq
}

type crmReq struct {
	method, path string
	header       http.Header
	body         []byte
}

func (c *crm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reqs = append(c.reqs, crmReq{r.Method, r.URL.Path, r.Header.Clone(), body})
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodGet && r.URL.Path == "/v1/contacts" {
		ids := slices.Sorted(func(yield func(string) bool) {
			for id := range c.records {
				if !yield(id) {
					return
				}
			}
		})
		var recs []map[string]any
		for _, id := range ids {
			recs = append(recs, c.records[id])
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"results": recs})
		return
	}
	id, ok := strings.CutPrefix(r.URL.Path, "/v1/contacts/")
	var patch map[string]any
	if r.Method != http.MethodPatch || !ok || json.Unmarshal(body, &patch) != nil {
		http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
		return
	}
	c.edit(id, patch)
	_, _ = w.Write([]byte(`{"ok":true}`))
}

// edit merges fields (c.mu held by the caller or not: see humanEdit).
func (c *crm) edit(id string, fields map[string]any) {
	rec := c.records[id]
	if rec == nil {
		rec = map[string]any{"id": id}
		c.records[id] = rec
	}
	for k, v := range fields {
		rec[k] = v
	}
}

func (c *crm) humanEdit(id string, fields map[string]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.edit(id, fields)
	c.records[id]["updated_by"] = "u_human"
}

// webhook is a generic-profile delivery of a record's current state.
func (c *crm) webhook(eventID, actor, id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, _ := json.Marshal(c.records[id])
	return fmt.Sprintf(`{"id":%q,"object":"contacts","actor":%q,"record":%s}`, eventID, actor, rec)
}

func (c *crm) requests() []crmReq {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.reqs)
}

// webhookApp records deliveries to /webhooks/generic.
type webhookApp struct {
	mu   sync.Mutex
	got  []string
	seen chan struct{}
}

func (a *webhookApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.got = append(a.got, string(b))
	a.mu.Unlock()
	select {
	case a.seen <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusOK)
}

func (a *webhookApp) deliveries() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.got)
}

const nsConfig = `agent: loopguard
app_url: http://127.0.0.1:` + nsAppPort + `
listen:
  outbound: 127.0.0.1:18080
  inbound: ":8081"
  admin: ` + nsAdmin + `
  transparent: 127.0.0.1:15001
admin: {token: ` + nsToken + `}
log: {level: debug}
ca: {dir: "{{dir}}/ca"}
spool: {dir: "{{dir}}/spool"}
outbound:
  upstream_ca_file: "{{dir}}/upstream.pem"
  allow: ["` + nsOther + `"]   # the egress policy refuses loopback splices unless allowed
providers:
  - use: generic
    name: crm
    hosts: [api.crm.test]
    base_url: https://api.crm.test
    tracked_fields: [name, email]
    integration_users: [u_integration]
    tagging: {sentinel_field: sync_source}
    reads:
      - path: /v1/{object}
        list: results
        record_id: id
        actor: updated_by
`

// TestTransparentNetns runs transparent mode for real: in a network
// namespace prepared by "loopguard iptables install", an app with no proxy
// settings (Go's client with only a resolving dialer, and curl without -x)
// calls a provider host on port 443 (IPv4 and IPv6) and 80; loopguard runs
// as its own UID so its upstream calls are not captured again; webhooks
// arrive from another namespace on the app's port and reach loopguard's
// inbound listener through inbound capture.
func TestTransparentNetns(t *testing.T) {
	if miss := netns.Missing("iptables", "iptables-save", "setpriv", "curl"); miss != "" {
		t.Skip("transparent-mode namespace test needs: " + miss)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	id := strconv.Itoa(os.Getpid() % 1000000)
	app := mustNS(t, ctx, "lgapp"+id)
	world := mustNS(t, ctx, "lgnet"+id)
	nsMust(t, app.Run(ctx, "ip", "link", "add", "lga"+id, "type", "veth", "peer", "name", "lgw"+id, "netns", world.Name))
	nsMust(t, app.Run(ctx, "ip", "addr", "add", nsAppIP+"/24", "dev", "lga"+id))
	nsMust(t, app.Run(ctx, "ip", "link", "set", "lga"+id, "up"))
	nsMust(t, world.Run(ctx, "ip", "addr", "add", nsWorldIP+"/24", "dev", "lgw"+id))
	nsMust(t, world.Run(ctx, "ip", "link", "set", "lgw"+id, "up"))
	_, v6err := exec.LookPath("ip6tables")
	v6 := v6err == nil && app.Run(ctx, "ip", "-6", "addr", "add", nsProvider6+"/128", "dev", "lo", "nodad") == nil

	// The provider (IPv4 443 and 80, IPv6 443), another TLS host, the app.
	dir := sharedDir(t)
	provider := &crm{records: map[string]map[string]any{}}
	upCA, err := ca.Generate("netns upstream CA")
	nsMust(t, err)
	leaf, err := upCA.Leaf("api.crm.test")
	nsMust(t, err)
	nsMust(t, os.WriteFile(filepath.Join(dir, "upstream.pem"), upCA.CertPEM(), 0o644))
	serveTLS(t, app, nsProvider+":443", provider, leaf)
	serveHTTP(t, app, nsProvider+":80", provider)
	if v6 {
		serveTLS(t, app, "["+nsProvider6+"]:443", provider, leaf)
	}
	other := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "other server") }))
	other.Listener = nsListen(t, app, nsOther+":443")
	other.StartTLS()
	t.Cleanup(other.Close)
	hooks := &webhookApp{seen: make(chan struct{}, 16)}
	serveHTTP(t, app, "0.0.0.0:"+nsAppPort, hooks)

	// Rules: a foreign rule first, then install (twice), remembering the
	// tables before.
	nsMust(t, app.Run(ctx, "iptables", "-w", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "--dport", "9999", "-j", "ACCEPT"))
	before := saveRules(t, ctx, app, v6)
	bin := dir + "/loopguard"
	installArgs := []string{"iptables", "install", "--exclude-uid", strconv.Itoa(nsUID), "--inbound-ports", nsAppPort, "--ipv6", strconv.FormatBool(v6)}
	runChild(t, ctx, app, bin, installArgs...)
	once := saveRules(t, ctx, app, v6)
	runChild(t, ctx, app, bin, installArgs...)
	if twice := saveRules(t, ctx, app, v6); twice != once {
		t.Fatalf("a second install changed the rules:\n%s\n---\n%s", once, twice)
	}

	// loopguard, as UID 1337.
	cfg := strings.ReplaceAll(nsConfig, "{{dir}}", dir)
	nsMust(t, os.WriteFile(filepath.Join(dir, "loopguard.yaml"), []byte(cfg), 0o644))
	logs := startNSLoopguard(t, ctx, app, bin, filepath.Join(dir, "loopguard.yaml"))
	defer func() {
		if t.Failed() || os.Getenv("LG_SHOWLOG") != "" {
			t.Logf("loopguard log:\n%s", logs.String())
		}
	}()
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca", "ca.pem"))
	nsMust(t, err)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	roots.AddCert(other.Certificate())
	resolve := map[string]string{"api.crm.test:443": nsProvider + ":443", "api.crm.test:80": nsProvider + ":80", "example.com:443": nsOther + ":443"}
	client := nsClient(app, resolve, roots)

	// 1. A write over TLS: tagged, recorded, sent upstream exactly once.
	write(t, client, "https://api.crm.test/v1/contacts/c1", `{"name":"App c1","email":"c1@example.com"}`)
	checkTagged(t, provider, 1, "/v1/contacts/c1")
	waitMetric(t, app, `loopguard_writes_recorded_total{provider="crm"}`, 1)
	// 2. curl without -x, resolving the host to the loopback alias.
	caFile := filepath.Join(dir, "ca", "ca.pem")
	curl := app.Command(ctx, "curl", "-sS", "--fail", "--cacert", caFile, "--resolve", "api.crm.test:443:"+nsProvider,
		"-X", "PATCH", "-H", "Content-Type: application/json", "--data", `{"name":"Curl c2","email":"c2@example.com"}`,
		"https://api.crm.test/v1/contacts/c2")
	curl.Env = []string{"PATH=" + os.Getenv("PATH")} // no proxy variables at all
	if out, err := curl.CombinedOutput(); err != nil || string(out) != `{"ok":true}` {
		t.Fatalf("curl: %v: %s", err, out)
	}
	checkTagged(t, provider, 2, "/v1/contacts/c2")
	// 3. Plain HTTP on port 80, by Host header.
	write(t, client, "http://api.crm.test/v1/contacts/c4", `{"name":"App c4","email":"c4@example.com"}`)
	checkTagged(t, provider, 3, "/v1/contacts/c4")
	writes := 3
	// 4. IPv6: captured by ip6tables, served on [::1]:15001.
	if v6 {
		client6 := nsClient(app, map[string]string{"api.crm.test:443": "[" + nsProvider6 + "]:443"}, roots)
		write(t, client6, "https://api.crm.test/v1/contacts/c5", `{"name":"App c5","email":"c5@example.com"}`)
		writes++
		checkTagged(t, provider, writes, "/v1/contacts/c5")
	} else {
		t.Log("IPv6 case skipped: ip6tables or an IPv6 address on lo is not available")
	}
	waitMetric(t, app, `loopguard_writes_recorded_total{provider="crm"}`, float64(writes))

	// 5. A poll: our writes leave the page, the human's edit stays.
	provider.humanEdit("c3", map[string]any{"name": "Human c3", "email": "c3@example.com"})
	resp, body := get(t, client, "https://api.crm.test/v1/contacts")
	var page struct {
		Results []struct{ ID string } `json:"results"`
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil || resp.StatusCode != 200 || len(page.Results) != 1 || page.Results[0].ID != "c3" {
		t.Fatalf("poll: %d %s: want only c3", resp.StatusCode, body)
	}
	if n := len(provider.requests()); n != writes+1 {
		t.Fatalf("the provider saw %d requests for %d calls: loopguard's own connections were captured again", n, writes+1)
	}

	// 6. Another host: spliced, with its own certificate.
	resp, body = get(t, client, "https://example.com/")
	if body != "other server" || !bytes.Equal(resp.TLS.PeerCertificates[0].Raw, other.Certificate().Raw) {
		t.Fatalf("spliced call: %q, certificate from %v", body, resp.TLS.PeerCertificates[0].Subject)
	}

	// 6b. A host the egress policy refuses (loopback, not allowed): the
	// captured connection is closed, nothing is dialled.
	refusedHits := &webhookApp{seen: make(chan struct{}, 1)}
	refusedSrv := httptest.NewUnstartedServer(refusedHits)
	refusedSrv.Listener = nsListen(t, app, nsRefused+":443")
	refusedSrv.StartTLS()
	t.Cleanup(refusedSrv.Close)
	refusedClient := nsClient(app, map[string]string{"example.org:443": nsRefused + ":443"}, roots)
	if _, err := refusedClient.Get("https://example.org/"); err == nil || len(refusedHits.deliveries()) != 0 {
		t.Fatalf("a splice the egress policy refuses: %v, %d requests reached the server", err, len(refusedHits.deliveries()))
	}
	waitMetric(t, app, `loopguard_transparent_connections_total{action="refuse",reason="dial_failed"}`, 1)

	// 7. Webhooks from the world to the app's own port: the echo of c1 is
	// dropped, a human's change arrives.
	from := nsClient(world, nil, nil)
	hook := "http://" + nsAppIP + ":" + nsAppPort + "/webhooks/generic"
	echo := provider.webhook("evt-echo", "", "c1")
	if st := post(t, from, hook, echo); st != http.StatusOK {
		t.Fatalf("echo webhook: %d", st)
	}
	genuine := provider.webhook("evt-human", "u_human", "c3")
	if st := post(t, from, hook, genuine); st != http.StatusOK {
		t.Fatalf("genuine webhook: %d", st)
	}
	if got := hooks.deliveries(); len(got) != 1 || got[0] != genuine {
		t.Fatalf("the app received %d deliveries %q; want only the human's", len(got), got)
	}
	waitMetric(t, app, `loopguard_decisions_total{action="drop",layer="sentinel",provider="crm",reason="sentinel_match",source="webhook"}`, 1)

	// 8. QUIC: UDP 443 is rejected (the client sees ECONNREFUSED), nothing
	// reaches a UDP server on that port.
	checkQUICRejected(t, app)

	// 9. Uninstall leaves exactly the rules from before.
	runChild(t, ctx, app, bin, "iptables", "uninstall")
	if after := saveRules(t, ctx, app, v6); after != before {
		t.Fatalf("uninstall left rules behind:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func nsMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustNS(t *testing.T, ctx context.Context, name string) *netns.NS {
	t.Helper()
	n, err := netns.Create(ctx, name)
	nsMust(t, err)
	t.Cleanup(func() { _ = n.Delete() })
	return n
}

// sharedDir is a directory UID 1337 can read (and write, for the CA and
// spool) holding a copy of this test binary, which plays loopguard.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "lg-netns-")
	nsMust(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	nsMust(t, os.Chmod(dir, 0o755))
	for _, sub := range []string{"ca", "spool"} {
		nsMust(t, os.Mkdir(filepath.Join(dir, sub), 0o700))
		nsMust(t, os.Chown(filepath.Join(dir, sub), nsUID, nsUID))
	}
	self, err := os.Executable()
	nsMust(t, err)
	b, err := os.ReadFile(self)
	nsMust(t, err)
	nsMust(t, os.WriteFile(filepath.Join(dir, "loopguard"), b, 0o755))
	return dir
}

func nsListen(t *testing.T, n *netns.NS, addr string) net.Listener {
	t.Helper()
	ln, err := n.Listen("tcp", addr)
	nsMust(t, err)
	return ln
}

func serveTLS(t *testing.T, n *netns.NS, addr string, h http.Handler, cert *tls.Certificate) {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	ln := tls.NewListener(nsListen(t, n, addr), &tls.Config{Certificates: []tls.Certificate{*cert}})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}

func serveHTTP(t *testing.T, n *netns.NS, addr string, h http.Handler) {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	ln := nsListen(t, n, addr)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// nsClient is Go's client with no proxy settings whose sockets are opened
// in namespace n; resolve maps host:port to an address (the app's DNS).
func nsClient(n *netns.NS, resolve map[string]string, roots *x509.CertPool) *http.Client {
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if a, ok := resolve[addr]; ok {
				addr = a
			}
			return n.DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: roots},
	}}
}

// runChild runs this binary as loopguard (as root) inside n.
func runChild(t *testing.T, ctx context.Context, n *netns.NS, bin string, args ...string) {
	t.Helper()
	cmd := n.Command(ctx, bin, args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("loopguard %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// lockedBuffer collects a child's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startNSLoopguard runs "loopguard run" in n as UID 1337 and waits until
// its /readyz answers.
func startNSLoopguard(t *testing.T, ctx context.Context, n *netns.NS, bin, cfg string) *lockedBuffer {
	t.Helper()
	id := strconv.Itoa(nsUID)
	cmd := n.Command(ctx, "setpriv", "--reuid", id, "--regid", id, "--clear-groups", bin, "run", "--config", cfg)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	nsMust(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	c := nsClient(n, nil, nil)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := c.Get("http://" + nsAdmin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return logs
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("loopguard not ready in the namespace: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func write(t *testing.T, c *http.Client, u, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPatch, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("PATCH %s: %v", u, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PATCH %s: %d %s", u, resp.StatusCode, b)
	}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func post(t *testing.T, c *http.Client, u, body string) int {
	t.Helper()
	resp, err := c.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// checkTagged: the provider has seen n requests, the last one to path,
// tagged with the agent header and the sentinel.
func checkTagged(t *testing.T, p *crm, n int, path string) {
	t.Helper()
	reqs := p.requests()
	if len(reqs) != n {
		t.Fatalf("the provider saw %d requests, want %d (each call exactly once)", len(reqs), n)
	}
	r := reqs[n-1]
	if r.path != path || r.header.Get("X-Change-Agent") != "loopguard" || !bytes.Contains(r.body, []byte(`"sync_source":"loopguard:`)) {
		t.Fatalf("request %s %s not tagged: %v %s", r.method, r.path, r.header, r.body)
	}
}

// waitMetric polls loopguard's /metrics until series reaches want.
func waitMetric(t *testing.T, n *netns.NS, series string, want float64) {
	t.Helper()
	c := nsClient(n, nil, nil)
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for {
		req, _ := http.NewRequest(http.MethodGet, "http://"+nsAdmin+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+nsToken)
		if resp, err := c.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if m := re.FindSubmatch(b); m != nil {
				last = string(m[1])
				if v, _ := strconv.ParseFloat(last, 64); v == want {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %q, want %v", series, last, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// saveRules is iptables-save (and ip6tables-save) reduced to what rules
// exist: rules and user chains, without counters, comments or the empty
// built-in chains a table shows once it was touched.
func saveRules(t *testing.T, ctx context.Context, n *netns.NS, v6 bool) string {
	t.Helper()
	tools := []string{"iptables-save"}
	if v6 {
		tools = append(tools, "ip6tables-save")
	}
	var b strings.Builder
	for _, tool := range tools {
		out, err := n.Output(ctx, tool)
		nsMust(t, err)
		b.WriteString("# " + tool + "\n")
		table := ""
		for l := range strings.Lines(out) {
			switch {
			case strings.HasPrefix(l, "*"):
				table = l
			case strings.HasPrefix(l, "-"):
				b.WriteString(strings.TrimSpace(table) + " " + l)
			case strings.HasPrefix(l, ":") && !regexp.MustCompile(`^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) `).MatchString(l):
				b.WriteString(strings.TrimSpace(table) + " " + strings.Fields(l)[0] + "\n")
			}
		}
	}
	return b.String()
}

// checkQUICRejected sends a datagram to the provider's UDP 443, where a
// server listens: the rule rejects it before it gets there.
func checkQUICRejected(t *testing.T, n *netns.NS) {
	t.Helper()
	var srv net.PacketConn
	nsMust(t, n.Do(func() (err error) { srv, err = net.ListenPacket("udp", nsProvider+":443"); return err }))
	defer srv.Close()
	var c net.Conn
	nsMust(t, n.Do(func() (err error) { c, err = net.Dial("udp", nsProvider+":443"); return err }))
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Write([]byte("quic initial"))
	_, err := c.Read(make([]byte, 16))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("UDP 443: read error %v, want ECONNREFUSED from the REJECT rule", err)
	}
	_ = srv.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _, err := srv.ReadFrom(make([]byte, 16)); err == nil {
		t.Fatalf("the UDP server received %d bytes despite the rule", n)
	}
}
