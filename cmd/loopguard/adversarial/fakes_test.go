package adversarial

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// Received is one request the fake app (or API) got. Small bodies are kept
// whole; every body is kept as its length and SHA-256, so a case can send
// hundreds of megabytes and still check each arrived byte for byte.
type Received struct {
	Method, Path string
	Header       http.Header
	Len          int
	Sum          [32]byte
	Body         []byte // nil when over keepBody
	ID           string // the JSON "id" near the start of the body, if any
}

// keepBody is the largest body kept whole.
const keepBody = 64 << 10

// App is a fake app (or API) on 127.0.0.1: it records every request and
// answers Status (200 by default) with {"ok":true}. Gate, when set, is
// waited on before answering (requests in flight).
type App struct {
	Addr string

	mu       sync.Mutex
	got      []Received
	srv      *http.Server
	Status   atomic.Int32
	InFlight atomic.Int32
	// Respond, when set, chooses the status per request (over Status).
	Respond atomic.Pointer[func(Received) int]
	gate    chan struct{}
}

// startApp starts an app on addr ("" picks a free port).
func startApp(t testing.TB, addr string) *App {
	t.Helper()
	a := &App{Addr: addr}
	if a.Addr == "" {
		a.Addr = freeAddr(t)
	}
	a.Status.Store(200)
	a.Up(t)
	t.Cleanup(a.Down)
	return a
}

// Up (re)starts serving on Addr.
func (a *App) Up(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", a.Addr)
	if err != nil {
		t.Fatalf("app listen %s: %v", a.Addr, err)
	}
	srv := &http.Server{Handler: a}
	a.mu.Lock()
	a.srv = srv
	a.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Down stops serving: connections are refused (the app is down).
func (a *App) Down() {
	a.mu.Lock()
	srv := a.srv
	a.srv = nil
	a.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Hold makes requests wait until Release.
func (a *App) Hold() {
	a.mu.Lock()
	a.gate = make(chan struct{})
	a.mu.Unlock()
}

// Release lets held requests answer.
func (a *App) Release() {
	a.mu.Lock()
	if a.gate != nil {
		close(a.gate)
		a.gate = nil
	}
	a.mu.Unlock()
}

// ServeHTTP implements http.Handler.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := sha256.New()
	head := make([]byte, 0, 256)
	var whole []byte
	buf := make([]byte, 32<<10)
	n := 0
	for {
		k, err := r.Body.Read(buf)
		h.Write(buf[:k])
		if len(head) < cap(head) {
			head = append(head, buf[:min(k, cap(head)-len(head))]...)
		}
		if n+k <= keepBody {
			whole = append(whole, buf[:k]...)
		}
		n += k
		if err != nil {
			if !errors.Is(err, io.EOF) {
				http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
				return
			}
			break
		}
	}
	rec := Received{Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone(), Len: n, ID: gjson.GetBytes(head, "id").String()}
	copy(rec.Sum[:], h.Sum(nil))
	if n <= keepBody {
		rec.Body = whole
		rec.ID = gjson.GetBytes(whole, "id").String()
	}
	a.InFlight.Add(1)
	a.mu.Lock()
	gate := a.gate
	a.mu.Unlock()
	if gate != nil {
		<-gate
	}
	a.mu.Lock()
	a.got = append(a.got, rec)
	a.mu.Unlock()
	a.InFlight.Add(-1)
	w.Header().Set("Content-Type", "application/json")
	status := int(a.Status.Load())
	if f := a.Respond.Load(); f != nil {
		status = (*f)(rec)
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"ok":true}`))
}

// Received returns every request recorded so far.
func (a *App) Received() []Received {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Received(nil), a.got...)
}

// IDs returns the ids of the recorded requests, in arrival order.
func (a *App) IDs() []string {
	var out []string
	for _, r := range a.Received() {
		out = append(out, r.ID)
	}
	return out
}

// API is a fake provider API behind TLS, recording like App; it answers
// Answer (as application/json) when set, else {"ok":true}. CAFile is its
// certificate, for loopguard's outbound.upstream_ca_file.
type API struct {
	*App
	URL, Host, CAFile string
	Answer            atomic.Pointer[[]byte]
}

// startAPI starts a TLS API.
func startAPI(t testing.TB) *API {
	t.Helper()
	api := &API{App: &App{}}
	api.Status.Store(200)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := api.Answer.Load()
		if b == nil {
			api.App.ServeHTTP(w, r)
			return
		}
		api.App.ServeHTTP(discard{}, r)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*b)
	}))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "api.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	api.URL, api.Host, api.CAFile = srv.URL, srv.Listener.Addr().String(), ca
	return api
}

// discard is a ResponseWriter that drops the recorder's own answer.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// appClient is the app's HTTP client through loopguard's outbound proxy,
// trusting loopguard's CA (http.ProxyFromEnvironment never proxies
// 127.0.0.1, so the proxy is set explicitly).
func appClient(t testing.TB, lg *Loopguard) *http.Client {
	t.Helper()
	pemBytes, err := os.ReadFile(lg.CAFile)
	if err != nil {
		t.Fatalf("loopguard CA: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	pu, _ := url.Parse("http://" + lg.Outbound)
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: pool}}}
}
