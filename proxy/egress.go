package proxy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/elazarl/goproxy"
	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/proxy/egress"
	"github.com/loopguard/loopguard/proxy/transparent"
	"github.com/rs/zerolog"
)

// Log messages of the egress policy (its fields are egress.Field*).
const (
	msgEgressRefused = "egress refused"
	msgEgressAllowed = "egress allowed"

	egressFieldTunnel        = "egress_tunnel"
	egressFieldAllow         = "egress_allow"
	egressFieldProviderHosts = "egress_provider_hosts"
)

// Option adjusts a sidecar beyond its configuration (tests, embedding).
type Option func(*options)

type options struct {
	resolver egress.Resolver
	// transparent adjusts the transparent listener's options (tests).
	transparent func(*transparent.Options)
	now         func() time.Time // WithClock; nil means time.Now
}

// withTransparentOptions adjusts the transparent listener's options; tests
// replace its original-destination lookup to run without iptables.
func withTransparentOptions(f func(*transparent.Options)) Option {
	return func(o *options) { o.transparent = f }
}

// WithResolver makes the egress policy resolve names with r instead of the
// system resolver (tests answer DNS with it).
func WithResolver(r egress.Resolver) Option { return func(o *options) { o.resolver = r } }

// newEgress builds the egress policy from configuration: outbound.allow,
// outbound.tunnel, every host a provider profile names (its hosts and its
// base_url host) and the configured listen addresses (bound ones are added
// by Start). Each refusal is logged once and counted in
// loopguard_egress_denied_total{reason}; allowed destinations are logged at
// debug level.
func newEgress(c configs.Config, e *filters.Engine, m *Metrics, log zerolog.Logger, o options) (*egress.Policy, error) {
	allow, err := egress.ParseAllow(c.Outbound.Allow)
	if err != nil {
		return nil, fmt.Errorf("outbound.allow: %w", err)
	}
	tunnel, err := egress.ParseTunnel(c.Outbound.Tunnel)
	if err != nil {
		return nil, fmt.Errorf("outbound.tunnel: %w", err)
	}
	var hosts []string
	for _, p := range e.Providers() {
		hosts = append(hosts, p.Profile.Hosts...)
		if u, err := url.Parse(p.Profile.BaseURL); err == nil && u.Host != "" {
			hosts = append(hosts, u.Host)
		}
	}
	log.Info().Stringer(egressFieldTunnel, tunnel).Strs(egressFieldAllow, allow.Entries()).Int(egressFieldProviderHosts, len(hosts)).
		Msg("egress policy: loopback, link-local, private, unspecified, multicast, reserved and own listeners refused unless allowed")
	return egress.New(egress.Options{
		Allow: allow, Tunnel: tunnel, ProviderHosts: hosts, Resolver: o.resolver,
		Listeners: []string{c.Listen.Outbound, c.Listen.Inbound, c.Listen.Admin, c.Listen.Gateway, c.Listen.Transparent},
		Dialer:    &net.Dialer{Timeout: c.Outbound.DialTimeout.D(), KeepAlive: keepAlive},
		OnDecision: func(a egress.DecideArgs, d egress.Decision) {
			if d.Allowed() {
				egress.LogFields(log.Debug(), a, d).Msg(msgEgressAllowed)
				return
			}
			m.EgressDenied.WithLabelValues(d.Reason.String()).Inc()
			egress.LogFields(log.Warn(), a, d).Msg(msgEgressRefused)
		},
	}), nil
}

// rejectConnect answers a refused CONNECT with ctx.Resp.
var rejectConnect = &goproxy.ConnectAction{Action: goproxy.ConnectReject}

// checkTunnel decides a CONNECT to a host no provider names, before
// anything is dialled: a refusal is answered with its 403 (or 502 when the
// name does not resolve) and reason; an allowed tunnel dials exactly the
// addresses checked.
func (o *Outbound) checkTunnel(host string, ctx *goproxy.ProxyCtx, accept *goproxy.ConnectAction) (*goproxy.ConnectAction, string) {
	host = withDefaultPort(host, "80") // goproxy's own default for a CONNECT without a port
	t, err := o.eg.Check(ctx.Req.Context(), host, false)
	if err != nil {
		de, ok := egress.AsDenied(err)
		if !ok {
			de = &egress.DeniedError{Host: host, Decision: egress.Decision{Reason: egress.ReasonInvalid}}
		}
		ctx.Resp = egress.Response(ctx.Req, de)
		return rejectConnect, host
	}
	ctx.Dialer = func(dctx context.Context, network, _ string) (net.Conn, error) { return t.Dial(dctx, network) }
	o.m.Outbound.WithLabelValues("", "tunnel").Inc()
	return accept, host
}

func withDefaultPort(host, port string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), port)
}

// egressRoundTripper answers a destination the egress policy refused at
// dial time with the refusal (403 and its reason) instead of goproxy's 500
// or, inside a MITM'd tunnel, a closed connection.
type egressRoundTripper struct{ tr http.RoundTripper }

func (r egressRoundTripper) RoundTrip(req *http.Request, _ *goproxy.ProxyCtx) (*http.Response, error) {
	resp, err := r.tr.RoundTrip(req)
	if de, ok := egress.AsDenied(err); ok {
		return egress.Response(req, de), nil
	}
	return resp, err
}
