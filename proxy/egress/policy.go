// Package egress is loopguard's egress policy, in the spirit of Stripe's
// smokescreen: it decides which destinations the outbound proxy, the
// gateway and transparent mode may reach, and dials exactly the addresses it
// checked.
//
// By default it refuses loopback, link-local (169.254.169.254 included),
// private (RFC 1918, CGNAT, IPv6 ULA), unspecified, multicast and reserved
// addresses, and loopguard's own listeners. outbound.allow opens exceptions
// (AllowList), hosts named by provider profiles are allowed, and
// outbound.tunnel (Tunnel) chooses what hosts no profile names get.
//
// A name is resolved once, every address it resolves to is checked, and
// the connection is made to those addresses, never to a second lookup's
// answer: a name cannot pass the check as a public address and then be
// dialled as a private one (DNS rebinding). The decision is made before
// anything is dialled, so a refused port answers the same whether it is
// open or closed.
//
// Decide is pure: DecideArgs in, Decision out. Check resolves and decides;
// Target.Dial dials what was checked; Dial and DialContext do both and are
// what transports and tunnels use.
package egress

import (
	"maps"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultResolveTimeout bounds one name lookup.
const DefaultResolveTimeout = 5 * time.Second

// DefaultDialTimeout bounds one connect when Options.Dialer is nil.
const DefaultDialTimeout = 10 * time.Second

// DecideArgs is what a decision is made from. A struct keeps Decide's
// signature stable as inputs grow.
type DecideArgs struct {
	// Host is the requested host: a lower-case name without a trailing dot,
	// or an IP literal (without brackets).
	Host string
	// Port is the requested port (1–65535).
	Port int
	// Configured reports that a provider profile names the host (see
	// Policy.IsConfigured).
	Configured bool
	// IPs are every address Host resolved to (for an IP literal, itself).
	// Empty means the name did not resolve.
	IPs []netip.Addr
}

// Decision is the policy's verdict on one destination, as a value.
type Decision struct {
	Action Action
	Reason Reason
	// Addr is the address that decided a refusal by address class or own
	// listener; zero otherwise.
	Addr netip.Addr
}

// Allowed reports an Allow decision.
func (d Decision) Allowed() bool { return d.Action == Allow }

func allow(r Reason) Decision { return Decision{Action: Allow, Reason: r} }

func deny(r Reason, ip netip.Addr) Decision { return Decision{Action: Deny, Reason: r, Addr: ip} }

// Options builds a Policy. Zero values take the defaults named per field.
type Options struct {
	// Allow is the parsed outbound.allow. Default: empty.
	Allow AllowList
	// Tunnel is outbound.tunnel. Default TunnelPublic.
	Tunnel Tunnel
	// ProviderHosts are the hosts configured provider profiles name (their
	// hosts and base_url hosts): "host" matches any port, "host:port" only
	// that port.
	ProviderHosts []string
	// Listeners are loopguard's own listen addresses known before start
	// ("127.0.0.1:9090", ":8081"); AddListener adds bound ones later.
	Listeners []string
	// Resolver resolves names. Default net.DefaultResolver.
	Resolver Resolver
	// Dialer connects to checked addresses (always IP literals). Default a
	// net.Dialer with DefaultDialTimeout.
	Dialer Dialer
	// ResolveTimeout bounds one lookup. Default DefaultResolveTimeout.
	ResolveTimeout time.Duration
	// LocalAddrs lists this host's interface addresses: a listener bound to
	// a wildcard address is reachable on each. Default net.InterfaceAddrs.
	LocalAddrs func() ([]netip.Addr, error)
	// OnDecision, when set, is called once per checked destination with its
	// decision (the proxy logs refusals and counts them). It must not block.
	OnDecision func(DecideArgs, Decision)
}

// Policy decides and dials. It is safe for concurrent use; only the set of
// own listeners changes after New.
type Policy struct {
	allow      AllowList
	tunnel     Tunnel
	providers  map[string]struct{}
	resolver   Resolver
	dialer     Dialer
	resolveTO  time.Duration
	localAddrs func() ([]netip.Addr, error)
	onDecision func(DecideArgs, Decision)

	mu  sync.Mutex // serialises AddListener
	own atomic.Pointer[ownSet]
}

// New builds a policy.
func New(o Options) *Policy {
	p := &Policy{
		allow: o.Allow, tunnel: o.Tunnel, providers: map[string]struct{}{},
		resolver: o.Resolver, dialer: o.Dialer, resolveTO: o.ResolveTimeout,
		localAddrs: o.LocalAddrs, onDecision: o.OnDecision,
	}
	if p.resolver == nil {
		p.resolver = net.DefaultResolver
	}
	if p.dialer == nil {
		p.dialer = &net.Dialer{Timeout: DefaultDialTimeout}
	}
	if p.resolveTO <= 0 {
		p.resolveTO = DefaultResolveTimeout
	}
	if p.localAddrs == nil {
		p.localAddrs = interfaceAddrs
	}
	for _, h := range o.ProviderHosts {
		p.providers[normHostPort(h)] = struct{}{}
	}
	p.own.Store(&ownSet{})
	for _, l := range o.Listeners {
		p.AddListener(l)
	}
	return p
}

// Tunnel returns the configured tunnel mode.
func (p *Policy) Tunnel() Tunnel { return p.tunnel }

// IsConfigured reports whether a provider profile names hostport ("host"
// or "host:port"): an entry without a port matches every port.
func (p *Policy) IsConfigured(hostport string) bool {
	hp := normHostPort(hostport)
	if _, ok := p.providers[hp]; ok {
		return true
	}
	if h, _, err := net.SplitHostPort(hp); err == nil {
		_, ok := p.providers[h]
		return ok
	}
	return false
}

// Decide returns the decision for a destination. Rules, in order:
//  1. an empty host or a port outside 1–65535 is invalid;
//  2. with outbound.tunnel none, a host no profile names is refused
//     (tunnel_disabled); with configured, one neither a profile nor the
//     allow list can name is refused (not_configured);
//  3. no addresses: resolve_failed;
//  4. any address that is one of loopguard's own listeners: own_listener,
//     whatever the allow list or profiles say;
//  5. a provider host is allowed (configured);
//  6. a host the allow list names is allowed (allow_listed);
//  7. every address must be in an allowed CIDR or — with tunnel public —
//     public unicast; the first that is neither decides the refusal.
func (p *Policy) Decide(a DecideArgs) Decision {
	if d, ok := p.early(a); ok {
		return d
	}
	if len(a.IPs) == 0 {
		return deny(ReasonResolveFailed, netip.Addr{})
	}
	own := p.own.Load()
	for _, ip := range a.IPs {
		if own.contains(ip, a.Port) {
			return deny(ReasonOwnListener, ip)
		}
	}
	if a.Configured {
		return allow(ReasonConfigured)
	}
	if p.allow.Host(a.Host, a.Port) {
		return allow(ReasonAllowListed)
	}
	listed := 0
	for _, ip := range a.IPs {
		if p.allow.Addr(ip, a.Port) {
			listed++
			continue
		}
		if p.tunnel != TunnelPublic {
			return deny(ReasonNotConfigured, ip)
		}
		if r := Classify(ip); r != ReasonPublic {
			return deny(r, ip)
		}
	}
	if listed == len(a.IPs) {
		return allow(ReasonAllowListed)
	}
	return allow(ReasonPublic)
}

// early decides what needs no addresses; ok is false when addresses are
// needed. Check uses it to avoid resolving names it will refuse anyway.
func (p *Policy) early(a DecideArgs) (Decision, bool) {
	if a.Host == "" || a.Port < 1 || a.Port > 65535 {
		return deny(ReasonInvalid, netip.Addr{}), true
	}
	if a.Configured {
		return Decision{}, false
	}
	switch p.tunnel {
	case TunnelNone:
		return deny(ReasonTunnelDisabled, netip.Addr{}), true
	case TunnelConfigured:
		if len(p.allow.prefixes) == 0 && !p.allow.Host(a.Host, a.Port) {
			return deny(ReasonNotConfigured, netip.Addr{}), true
		}
	}
	return Decision{}, false
}

// normHostPort lower-cases a host or host:port and drops a trailing dot
// from the host.
func normHostPort(hp string) string {
	if h, port, err := net.SplitHostPort(hp); err == nil {
		return net.JoinHostPort(normHost(h), port)
	}
	return normHost(hp)
}

// ownSet is loopguard's own listeners, replaced whole on change.
type ownSet struct {
	exact    map[netip.AddrPort]bool
	wildcard map[int]bool // ports bound on every address
	ports    map[int]bool // every listener port
	local    map[netip.Addr]bool
}

func (s *ownSet) contains(ip netip.Addr, port int) bool {
	ip = ip.Unmap().WithZone("")
	switch {
	case s.exact[netip.AddrPortFrom(ip, uint16(port))]:
		return true
	case !s.ports[port]:
		return false
	case ip.IsUnspecified():
		// Connecting to 0.0.0.0 or :: reaches the local host.
		return true
	}
	return s.wildcard[port] && (ip.IsLoopback() || s.local[ip])
}

// AddListener records one of loopguard's own listen addresses
// ("127.0.0.1:9090", "[::]:8081", ":8081"); destinations that reach it are
// refused (own_listener). A wildcard or named host counts as every local
// address. Transparent mode adds its listener here.
func (p *Policy) AddListener(addr string) {
	h, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 1 || port > 65535 {
		return // port 0 is added again once bound
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.own.Load()
	s := old.clone()
	s.ports[port] = true
	ip, err := netip.ParseAddr(h)
	if err == nil && !ip.IsUnspecified() {
		s.exact[netip.AddrPortFrom(ip.Unmap().WithZone(""), uint16(port))] = true
	} else {
		s.wildcard[port] = true
		if addrs, err := p.localAddrs(); err == nil {
			for _, a := range addrs {
				s.local[a.Unmap().WithZone("")] = true
			}
		}
	}
	p.own.Store(s)
}

func (s *ownSet) clone() *ownSet {
	c := &ownSet{exact: map[netip.AddrPort]bool{}, wildcard: map[int]bool{}, ports: map[int]bool{}, local: map[netip.Addr]bool{}}
	maps.Copy(c.exact, s.exact)
	maps.Copy(c.wildcard, s.wildcard)
	maps.Copy(c.ports, s.ports)
	maps.Copy(c.local, s.local)
	return c
}

func interfaceAddrs() ([]netip.Addr, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, a := range as {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out, nil
}
