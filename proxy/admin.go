package proxy

import (
	"encoding/json"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Admin serves /healthz, /readyz, /metrics and /decisions. It binds to
// localhost by default; with a token, every endpoint but the probes needs
// it (see auth, the single gate). A sidecar refuses to start with the admin
// listener beyond loopback and no token.
type Admin struct {
	mux   *http.ServeMux
	token string
	ready *atomic.Bool
	// degraded, when set and returning a reason, makes /readyz answer 200
	// "degraded: <reason>": loopguard keeps serving (layers abstain) and
	// must not be taken out of rotation for it.
	degraded func() string
}

// NewAdmin builds the admin handler. degraded, when not nil, names why the
// sidecar runs degraded ("" when it does not): see /readyz.
func NewAdmin(m *Metrics, ring *DecisionRing, token string, ready *atomic.Bool, degraded func() string) *Admin {
	a := &Admin{mux: http.NewServeMux(), token: token, ready: ready, degraded: degraded}
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	a.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		if a.degraded != nil {
			if why := a.degraded(); why != "" {
				_, _ = w.Write([]byte("degraded: " + why + "\n"))
				return
			}
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	a.mux.Handle("GET /metrics", a.auth(promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})))
	a.mux.Handle("GET /decisions", a.auth(serveDecisions(ring)))
	a.mux.Handle("GET /decisions/{seq}", a.auth(serveDecision(ring)))
	return a
}

// Handle adds an endpoint (behind the token).
func (a *Admin) Handle(pattern string, h http.Handler) { a.mux.Handle(pattern, a.auth(h)) }

// HandleOpen adds an endpoint that is not behind the token: the console's
// login page and assets, and its pages, which hold no data of their own.
func (a *Admin) HandleOpen(pattern string, h http.Handler) { a.mux.Handle(pattern, h) }

// ServeHTTP implements http.Handler.
func (a *Admin) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
