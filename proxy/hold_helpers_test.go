package proxy

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/redistest"
	"github.com/rs/zerolog"
	"github.com/tidwall/gjson"
)

// switchApp is the app behind loopguard on a fixed loopback address that a
// test stops and starts (an app restart), recording what it accepted. The
// address stays bound throughout (no other process can take it while the
// app is "down"): while stopped, every connection is closed at once, as by
// a crashed app.
type switchApp struct {
	ln  net.Listener
	rec *recorder
	mu  sync.Mutex
	cur *chanListener // nil: stopped
	srv *http.Server
}

func newSwitchApp(t *testing.T) *switchApp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	a := &switchApp{ln: ln, rec: &recorder{}}
	go a.dispatch()
	t.Cleanup(func() {
		a.stop()
		_ = ln.Close()
	})
	return a
}

// dispatch hands connections to the running app, or closes them.
func (a *switchApp) dispatch() {
	for {
		c, err := a.ln.Accept()
		if err != nil {
			return
		}
		a.mu.Lock()
		cur := a.cur
		a.mu.Unlock()
		if cur == nil {
			_ = c.Close()
			continue
		}
		select {
		case cur.conns <- c:
		case <-cur.done:
			_ = c.Close()
		}
	}
}

func (a *switchApp) url() string { return "http://" + a.ln.Addr().String() }

func (a *switchApp) start(t *testing.T) {
	t.Helper()
	l := &chanListener{conns: make(chan net.Conn), done: make(chan struct{}), addr: a.ln.Addr()}
	srv := &http.Server{Handler: a.rec, ReadHeaderTimeout: 5 * time.Second}
	a.mu.Lock()
	a.cur, a.srv = l, srv
	a.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

func (a *switchApp) stop() {
	a.mu.Lock()
	srv := a.srv
	a.cur, a.srv = nil, nil
	a.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// chanListener is a net.Listener fed by switchApp.dispatch.
type chanListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	addr  net.Addr
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// holdEnv is a sidecar from testdata/hold.yaml in front of a switchApp.
type holdEnv struct {
	app  *switchApp
	s    *Sidecar
	logs *holdLog
}

// holdVars are hold.yaml's placeholders; store is "" (bbolt) or "redis".
type holdVars struct {
	store                     string
	maxItems, unverifiedItems int
}

func newHoldEnv(t *testing.T, v holdVars) *holdEnv {
	t.Helper()
	e := &holdEnv{app: newSwitchApp(t), logs: &holdLog{}}
	store := ""
	if v.store == "redis" {
		store = fmt.Sprintf("store: redis\nredis: {url: %q, prefix: %q}", redistest.URL(t), redistest.Prefix(t))
	}
	vars := map[string]string{"app": e.app.url(), "store": store, "spool": filepath.Join(t.TempDir(), "spool"),
		"max_items": fmt.Sprint(v.maxItems), "unverified_max_items": fmt.Sprint(v.unverifiedItems)}
	e.s = startSidecarLogged(t, "testdata/hold.yaml", vars, zerolog.New(e.logs))
	return e
}

// startSidecarLogged is startSidecar with a logger, for tests that assert
// what was logged.
func startSidecarLogged(t *testing.T, file string, vars map[string]string, log zerolog.Logger) *Sidecar {
	t.Helper()
	raw, err := readFile(file)
	must(t, err)
	for k, v := range vars {
		raw = strings.ReplaceAll(raw, "{{"+k+"}}", v)
	}
	l, err := configs.LoadBytes(file, []byte(raw), inboundServerEnv)
	if err != nil {
		t.Fatalf("load config: %v\n%s", err, raw)
	}
	for _, a := range []*string{&l.Config.Listen.Outbound, &l.Config.Listen.Inbound, &l.Config.Listen.Admin} {
		*a = "127.0.0.1:0"
	}
	l.Config.CA.Dir = filepath.Join(t.TempDir(), "ca")
	s, err := New(l, log)
	if err != nil {
		t.Fatalf("new sidecar: %v", err)
	}
	must(t, s.Start())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

// gh posts a GitHub delivery of event with delivery id; sig "" signs it
// with the test secret.
func (e *holdEnv) gh(t *testing.T, event, id, ctype, body, sig string) (*http.Response, string) {
	t.Helper()
	if sig == "" {
		sig = githubSig(body)
	}
	if ctype == "" {
		ctype = "application/json"
	}
	return mustDo(t, http.DefaultClient, http.MethodPost, "http://"+e.s.Addr("inbound")+"/webhooks/github", ctype, body,
		"X-GitHub-Event", event, "X-GitHub-Delivery", id, "X-Hub-Signature-256", sig)
}

// crm posts a generic delivery.
func (e *holdEnv) crm(t *testing.T, body string) (*http.Response, string) {
	t.Helper()
	return mustDo(t, http.DefaultClient, http.MethodPost, "http://"+e.s.Addr("inbound")+"/webhooks/generic", "application/json", body)
}

func (e *holdEnv) admin(t *testing.T, method, path string) (int, string) {
	t.Helper()
	resp, body := mustDo(t, http.DefaultClient, method, "http://"+e.s.Addr("admin")+path, "", "")
	return resp.StatusCode, body
}

// accepted lists the app's requests it answered 2xx, in order, by the
// value of path in their (JSON) bodies.
func (e *holdEnv) accepted(path string, ok func(recorded) bool) []string {
	var out []string
	for _, r := range e.app.rec.all() {
		if ok == nil || ok(r) {
			out = append(out, gjson.GetBytes(r.Body, path).String())
		}
	}
	return out
}

// validGitHub reports whether a request carries a valid signature.
func validGitHub(h http.Header, body []byte) bool {
	m := hmac.New(sha256.New, []byte("s3cret"))
	m.Write(body)
	return hmac.Equal([]byte(h.Get("X-Hub-Signature-256")), []byte("sha256="+hex.EncodeToString(m.Sum(nil))))
}

// verifyingApp answers like a real GitHub receiver: 401 to a bad
// signature, 200 otherwise.
func verifyingApp(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.URL.Path == "/webhooks/github" && !validGitHub(r.Header, body) {
		http.Error(w, `{"error":"bad signature"}`, http.StatusUnauthorized)
		return
	}
	_, _ = w.Write([]byte(`{"ok":true}`))
}

// holdLog is a log sink safe for concurrent writes.
type holdLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *holdLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *holdLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines returns the log lines containing every one of subs.
func (s *holdLog) lines(subs ...string) []string {
	var out []string
	for _, l := range strings.Split(s.String(), "\n") {
		all := l != ""
		for _, sub := range subs {
			all = all && strings.Contains(l, sub)
		}
		if all {
			out = append(out, l)
		}
	}
	return out
}

func readFile(name string) (string, error) {
	b, err := os.ReadFile(name)
	return string(b), err
}
