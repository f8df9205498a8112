package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/spool"
	"github.com/loopguard/loopguard/proxy/ca"
	"github.com/loopguard/loopguard/proxy/egress"
	"github.com/loopguard/loopguard/proxy/transparent"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Sidecar is a whole loopguard: listeners, engine, store and CA.
type Sidecar struct {
	cfg      configs.Config
	log      zerolog.Logger
	Engine   *filters.Engine
	Store    ledger.Store
	Metrics  *Metrics
	CA       *ca.Authority
	Ring     *DecisionRing
	Outbound *Outbound
	Gateway  *Gateway
	Inbound  *Inbound
	Admin    *Admin
	// Egress decides which destinations the outbound proxy, the gateway
	// (and transparent mode) may reach; its Dial is the checked dialer.
	Egress *egress.Policy
	// Transparent is the listener for iptables-redirected connections; nil
	// unless listen.transparent is set.
	Transparent *transparent.Server
	// Version is shown by GET /overview (default: the build's module
	// version and VCS revision).
	Version string

	transparentConns *prometheus.CounterVec
	// own are loopguard's own upstream connections of captured traffic
	// (transparent mode; nil otherwise).
	own *transparent.Own

	quota   *quota
	state   *state // the stores: ledger, spool, loop detector
	guard   *filters.Guard
	spool   spool.Queue // state.spool
	holder  *holder     // Inbound's
	limits  *limits
	stop    context.CancelFunc
	done    chan struct{}
	closed  sync.Once
	ready   atomic.Bool
	servers []*http.Server
	// fastServers: listeners served by fasthttp (inbound.server).
	fastServers []*fastListener
	addrs       map[string]string
	mu          sync.Mutex
	started     time.Time
	series      *series
	now         func() time.Time // WithClock
}

// New builds a sidecar from a loaded configuration (nothing listens yet).
// Each part is built once with what it needs; on error the stores opened
// are closed again.
func New(l *configs.Loaded, log zerolog.Logger, opts ...Option) (_ *Sidecar, err error) {
	c := l.Config
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	s := &Sidecar{cfg: c, log: log, addrs: map[string]string{}, now: o.clock()}
	if err := checkAdmin(c, log); err != nil {
		return nil, err
	}
	key, err := loadDeploymentKey(c, log)
	if err != nil {
		return nil, err
	}
	st, err := openState(c, log, s.now)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = st.close()
		}
	}()
	s.state, s.spool = st, st.spool
	store := st.ledger
	s.Store = store
	s.Engine, err = filters.New(l.Providers, store, filters.Options{Agent: c.Agent, Observe: c.Observe, Secret: key, EchoWindow: c.Ledger.EchoWindow.D(), JSONMaxDepth: c.Limits.JSONMaxDepth, Now: s.now})
	if err != nil {
		return nil, err
	}
	s.CA, err = LoadCA(c.CA, log)
	if err != nil {
		return nil, err
	}
	s.Metrics = NewMetrics(store)
	s.Ring = NewDecisionRing(c.Inbound.Decisions)
	s.Egress, err = newEgress(c, s.Engine, s.Metrics, log, o)
	if err != nil {
		return nil, err
	}
	tr, err := newUpstreamTransport(c.Outbound, s.Egress.DialContext)
	if err != nil {
		return nil, err
	}
	s.quota, err = newQuota(c.Breaker, log, s.Metrics, s.now)
	if err != nil {
		return nil, fmt.Errorf("breaker: %w", err)
	}
	s.guard, err = newGuard(c.Loops, st.loops, s.quota, s.Metrics, log, s.now)
	if err != nil {
		return nil, fmt.Errorf("loops: %w", err)
	}
	s.limits = newLimits(c.Limits, s.Metrics, log)
	wr := &writer{engine: s.Engine, m: s.Metrics, log: log, maxBody: int64(c.Outbound.MaxBodyBytes), quota: s.quota, guard: s.guard,
		latency: newObservers(s.Metrics.OutboundDuration), limits: s.limits}
	s.Gateway, err = NewGateway(s.Engine, tr, wr, s.limits, s.Metrics, log)
	if err != nil {
		return nil, err
	}
	var nonProxy http.Handler
	if c.Listen.Gateway == "" && !s.Gateway.Empty() {
		nonProxy = s.Gateway
	}
	s.Outbound = NewOutbound(s.Engine, s.CA, tr, s.Egress, wr, s.Metrics, log,
		OutboundOptions{NonProxy: nonProxy, limits: s.limits, pinned: s.pinnedTransport(tr)})
	if err := s.openTransparent(o.transparent); err != nil {
		return nil, err
	}
	s.reportPulls()
	app, err := url.Parse(c.AppURL)
	if err != nil {
		return nil, fmt.Errorf("app_url: %w", err)
	}
	appTr := newAppTransport(c.Inbound)
	s.Inbound, err = NewInbound(s.Engine, newAppClient(app, c.Inbound.AppTimeout.D(), appTr), s.Metrics, log, InboundOptions{
		AppURL: app, MaxBody: int64(c.Inbound.MaxBodyBytes), Ring: s.Ring, Observe: c.Observe,
		guard: s.guard, limits: s.limits,
		hold: &holdOptions{spool: st.spool, app: app, tr: appTr, ready: s.guard.Ready, cfg: c.Spool},
	})
	if err != nil {
		return nil, err
	}
	s.holder = s.Inbound.holder
	s.wireHold()
	s.Admin = NewAdmin(s.Metrics, s.Ring, c.Admin.Token.Value(), &s.ready, st.degraded)
	st.register(s.Metrics.Registry)
	s.Admin.Handle("GET /breakers", http.HandlerFunc(s.listBreakers))
	s.Admin.Handle("POST /breakers/{provider}/{account}/reset", http.HandlerFunc(s.resetBreaker))
	s.Admin.Handle("GET /quarantine", http.HandlerFunc(s.listQuarantine))
	s.Admin.Handle("POST /quarantine/{key}/release", http.HandlerFunc(s.releaseQuarantine))
	s.handleSpool()
	if err := s.mountConsole(l); err != nil {
		return nil, err
	}
	return s, nil
}

// LoadCA loads the mounted CA or loads/generates one in ca.dir.
func LoadCA(c configs.CA, log zerolog.Logger) (*ca.Authority, error) {
	if c.CertFile != "" {
		a, err := ca.LoadFiles(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("ca: %w", err)
		}
		return a, nil
	}
	a, created, err := ca.LoadOrCreate(c.Dir, "loopguard CA")
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	if created {
		log.Info().Str("dir", c.Dir).Msg("generated a new CA for this deployment; trust ca.pem in the app")
	}
	return a, nil
}

// Start binds every configured listener and serves in the background.
func (s *Sidecar) Start() error {
	type l struct {
		name, addr string
		h          http.Handler
	}
	ls := []l{{"outbound", s.cfg.Listen.Outbound, s.Outbound}, {"inbound", s.cfg.Listen.Inbound, s.Inbound}, {"admin", s.cfg.Listen.Admin, s.Admin}}
	if s.cfg.Listen.Gateway != "" {
		ls = append(ls, l{"gateway", s.cfg.Listen.Gateway, s.Gateway})
	}
	for _, x := range ls {
		if x.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", x.addr)
		if err != nil {
			_ = s.Shutdown(context.Background())
			return fmt.Errorf("listen %s on %s: %w", x.name, x.addr, err)
		}
		s.Egress.AddListener(ln.Addr().String())
		ln = s.limits.listen(x.name, ln)
		fast := x.name == "inbound" && s.cfg.Inbound.Server != configs.InboundServerNetHTTP
		s.mu.Lock()
		s.addrs[x.name] = ln.Addr().String()
		s.mu.Unlock()
		s.log.Info().Str("listener", x.name).Str("addr", ln.Addr().String()).Bool("fasthttp", fast).Msg("listening")
		logExposure(s.log, x.name, x.addr, ln.Addr().String())
		if fast {
			s.serveFast(x.name, ln, s.inboundFastServer())
			continue
		}
		srv := s.limits.server(x.name, x.h)
		s.mu.Lock()
		s.servers = append(s.servers, srv)
		s.mu.Unlock()
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error().Err(err).Str("listener", x.name).Msg("serve failed")
			}
		}()
	}
	if err := s.startTransparent(); err != nil {
		_ = s.Shutdown(context.Background())
		return err
	}
	s.startReplay()
	s.series.start()
	s.ready.Store(true)
	return nil
}

// Addr returns the bound address of a listener ("outbound", "inbound",
// "admin", "gateway").
func (s *Sidecar) Addr(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs[name]
}

// Shutdown stops accepting and lets in-flight requests finish until ctx ends.
// It may be called more than once.
func (s *Sidecar) Shutdown(ctx context.Context) error {
	s.ready.Store(false)
	s.mu.Lock()
	servers := s.servers
	fast := s.fastServers
	s.mu.Unlock()
	stops := make([]func(context.Context) error, 0, len(servers)+len(fast))
	for _, srv := range servers {
		stops = append(stops, srv.Shutdown)
	}
	for _, fl := range fast {
		stops = append(stops, fl.shutdown)
	}
	var errs []error
	var wg sync.WaitGroup
	var emu sync.Mutex
	for _, stop := range stops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := stop(ctx); err != nil {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := s.shutdownTransparent(ctx); err != nil {
		errs = append(errs, err)
	}
	s.closed.Do(func() {
		s.stopReplay()
		s.series.close()
		errs = append(errs, s.state.close())
	})
	return errors.Join(errs...)
}

func (s *Sidecar) listBreakers(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"breakers": s.quota.b.All()})
}

func (s *Sidecar) resetBreaker(w http.ResponseWriter, r *http.Request) {
	k := breaker.Key{Provider: r.PathValue("provider"), Account: r.PathValue("account")}
	if !s.quota.b.Reset(k) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no breaker for " + k.String()})
		return
	}
	st, _ := s.quota.b.Status(k)
	writeJSON(w, http.StatusOK, st)
}
