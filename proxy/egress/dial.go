package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// Resolver resolves a name to addresses; *net.Resolver implements it.
// Tests inject their own.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Dialer connects to an address; *net.Dialer implements it. The policy
// only ever hands it IP literals.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// DeniedError is a refused destination. The proxy answers it with Status
// and Body (403, or 502 for resolve_failed).
type DeniedError struct {
	Host     string
	Port     int
	Decision Decision
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("egress: %s refused: %s", e.HostPort(), e.Decision.Reason)
}

// HostPort is the requested destination.
func (e *DeniedError) HostPort() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// Target is a checked destination: the addresses the policy resolved and
// allowed, to be dialled as they are.
type Target struct {
	Host     string
	Port     int
	Addrs    []netip.Addr
	Decision Decision
	dialer   Dialer
}

// HostPort is the requested destination.
func (t Target) HostPort() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// Check resolves hostport once and decides. A refusal is returned as a
// *DeniedError (and reported to Options.OnDecision) before anything is
// dialled. hostport must carry a port.
func (p *Policy) Check(ctx context.Context, hostport string, configured bool) (Target, error) {
	host, ps, err := net.SplitHostPort(hostport)
	a := DecideArgs{Host: hostport, Configured: configured}
	if err == nil {
		a.Host = normHost(host)
		a.Port, err = parsePort(ps)
	}
	if err != nil {
		a.Port = 0
		return p.finish(a, deny(ReasonInvalid, netip.Addr{}))
	}
	if d, ok := p.early(a); ok {
		return p.finish(a, d)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		a.IPs = []netip.Addr{ip.Unmap()}
	} else {
		rctx, cancel := context.WithTimeout(ctx, p.resolveTO)
		ips, err := p.resolver.LookupNetIP(rctx, "ip", a.Host)
		cancel()
		if err == nil {
			for _, ip := range ips {
				if ip.IsValid() {
					a.IPs = append(a.IPs, ip.Unmap())
				}
			}
		}
	}
	return p.finish(a, p.Decide(a))
}

func (p *Policy) finish(a DecideArgs, d Decision) (Target, error) {
	if p.onDecision != nil {
		p.onDecision(a, d)
	}
	if !d.Allowed() {
		return Target{}, &DeniedError{Host: a.Host, Port: a.Port, Decision: d}
	}
	return Target{Host: a.Host, Port: a.Port, Addrs: a.IPs, Decision: d, dialer: p.dialer}, nil
}

// Dial connects to the checked addresses, in the order the resolver gave
// them, and returns the first connection made. It never resolves again.
// network is "tcp", "tcp4" or "tcp6" (the latter two skip addresses of the
// other family).
func (t Target) Dial(ctx context.Context, network string) (net.Conn, error) {
	if !t.Decision.Allowed() || t.dialer == nil {
		return nil, &DeniedError{Host: t.Host, Port: t.Port, Decision: t.Decision}
	}
	var last error
	for _, ip := range t.Addrs {
		if network == "tcp4" && !ip.Is4() || network == "tcp6" && !ip.Is6() {
			continue
		}
		c, err := t.dialer.DialContext(ctx, network, netip.AddrPortFrom(ip, uint16(t.Port)).String())
		if err == nil {
			return c, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	if last == nil {
		last = fmt.Errorf("no %s address among %v", network, t.Addrs)
	}
	return nil, fmt.Errorf("egress: dial %s: %w", t.HostPort(), last)
}

// Dial checks addr ("host:port") and dials exactly the addresses it
// checked. configured says whether a provider profile names the
// destination; transparent mode calls it to splice an intercepted
// connection to its original destination (addr is then the original
// destination's IP and port, and configured whether the SNI or Host it
// carries is a provider host). A refusal is a *DeniedError; nothing is
// dialled then.
func (p *Policy) Dial(ctx context.Context, network, addr string, configured bool) (net.Conn, error) {
	t, err := p.Check(ctx, addr, configured)
	if err != nil {
		return nil, err
	}
	return t.Dial(ctx, network)
}

// DialContext is Dial with configured taken from IsConfigured(addr): the
// DialContext of the upstream http.Transport (goproxy, MITM, plain-HTTP
// forwarding and the gateway).
func (p *Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return p.Dial(ctx, network, addr, p.IsConfigured(addr))
}

// AsDenied returns the *DeniedError in err's chain.
func AsDenied(err error) (*DeniedError, bool) {
	var de *DeniedError
	ok := errors.As(err, &de)
	return de, ok
}
