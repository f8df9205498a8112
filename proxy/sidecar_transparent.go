package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"

	"github.com/loopguard/loopguard/proxy/egress"
	"github.com/loopguard/loopguard/proxy/transparent"
	"github.com/prometheus/client_golang/prometheus"
)

// egressDialer dials captured traffic through the egress policy, which
// checks the original destination (an IP literal: nothing is resolved)
// before anything is dialled. configured says whether the connection's
// server name or Host is a provider host.
type egressDialer struct {
	p          *egress.Policy
	configured bool
}

func (d egressDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.p.Dial(ctx, network, addr, d.configured)
}

// transparentDialers are the dialers of captured traffic, both through the
// egress policy: a splice is checked as a destination no provider names
// (loopback, private and link-local addresses refused unless outbound.allow
// names them; outbound.tunnel applies), the MITM path's pinned upstream
// dials as a provider host (the server name or Host matched a profile).
func (s *Sidecar) transparentDialers() (splice, pinned transparent.Dialer) {
	return egressDialer{p: s.Egress}, egressDialer{p: s.Egress, configured: true}
}

// pinnedTransport is the outbound proxy's transport for the requests of
// captured connections (nil unless listen.transparent is set): tr's
// settings, dialing each connection's original destination through the
// egress policy, as one of loopguard's own connections (s.own) so that the
// transparent listener recognises it if rules redirect it back.
func (s *Sidecar) pinnedTransport(tr *http.Transport) *http.Transport {
	if s.cfg.Listen.Transparent == "" {
		return nil
	}
	s.own = transparent.NewOwn()
	_, pinned := s.transparentDialers()
	return newPinnedTransport(tr, s.own.Dialer(pinned))
}

// openTransparent builds the transparent listener when listen.transparent
// is set, after the outbound proxy it hands captured provider connections
// to. tweak, when not nil, adjusts its options (tests replace the
// original-destination lookup to run without iptables: see
// withTransparentOptions).
//
// Limits: captured provider connections run through the outbound proxy,
// so outbound.max_body_bytes (and any per-listener limit added to the
// outbound side) applies to them; the listener's own bounds are the peek
// buffer and timeout (transparent.DefaultMaxPeek, DefaultPeekTimeout).
func (s *Sidecar) openTransparent(tweak func(*transparent.Options)) error {
	if s.cfg.Listen.Transparent == "" {
		return nil
	}
	if runtime.GOOS != "linux" {
		return errors.New("listen.transparent: transparent mode needs Linux (netfilter's SO_ORIGINAL_DST)")
	}
	splice, _ := s.transparentDialers()
	s.transparentConns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricTransparentConnections,
		Help: "Connections captured by the transparent listener, by action (intercept, splice, refuse) and reason.",
	}, []string{"action", "reason"})
	s.Metrics.Registry.MustRegister(s.transparentConns)
	o := transparent.Options{
		Match:       func(hp string) bool { return s.Outbound.hosts.lookup(hp) != nil },
		Interceptor: mitmHandoff{o: s.Outbound},
		Dialer:      splice,
		DialTimeout: s.cfg.Outbound.DialTimeout.D(),
		Observe: func(dc transparent.Decision) {
			s.transparentConns.WithLabelValues(dc.Action.String(), dc.Reason.String()).Inc()
		},
		Log: s.log,
		Own: s.own,
	}
	if tweak != nil {
		tweak(&o)
	}
	srv, err := transparent.New(o)
	if err != nil {
		return fmt.Errorf("listen.transparent: %w", err)
	}
	s.Transparent = srv
	return nil
}

// startTransparent binds listen.transparent (and its [::1] twin, see
// configs.Listen.Transparent) and serves in the background.
func (s *Sidecar) startTransparent() error {
	if s.Transparent == nil {
		return nil
	}
	addr := s.cfg.Listen.Transparent
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen transparent on %s: %w", addr, err)
	}
	s.serveTransparent(ln)
	host, port, _ := net.SplitHostPort(addr)
	if host != "127.0.0.1" || port == "0" {
		return nil
	}
	twin := net.JoinHostPort("::1", port)
	ln6, err := net.Listen("tcp6", twin)
	if err != nil {
		s.log.Info().Err(err).Str("addr", twin).Msg("no IPv6 loopback listener: IPv6 connections redirected by ip6tables would not be served")
		return nil
	}
	s.serveTransparent(ln6)
	return nil
}

func (s *Sidecar) serveTransparent(ln net.Listener) {
	s.Egress.AddListener(ln.Addr().String()) // never a destination: splicing to it would loop
	s.mu.Lock()
	if _, ok := s.addrs["transparent"]; !ok {
		s.addrs["transparent"] = ln.Addr().String()
	}
	s.mu.Unlock()
	s.log.Info().Str("listener", "transparent").Str("addr", ln.Addr().String()).Msg("listening")
	go func() {
		if err := s.Transparent.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Error().Err(err).Str("listener", "transparent").Msg("serve failed")
		}
	}()
}

// shutdownTransparent stops the transparent listener: open connections
// (spliced or intercepted) may finish until ctx ends.
func (s *Sidecar) shutdownTransparent(ctx context.Context) error {
	if s.Transparent == nil {
		return nil
	}
	if err := s.Transparent.Shutdown(ctx); err != nil {
		return fmt.Errorf("transparent: %w", err)
	}
	return nil
}
