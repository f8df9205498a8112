// Package iptables generates and applies the netfilter rules of
// loopguard's transparent mode (the role istio-iptables plays for Envoy):
// outbound TCP ports are REDIRECTed to the transparent listener, the app's
// webhook ports to the inbound listener, and UDP 443 is rejected so QUIC
// clients fall back to TCP. Everything lives in loopguard's own chains
// (LOOPGUARD_*), reached by one jump per built-in chain, so install is
// idempotent and uninstall removes exactly what install added.
//
// loopguard's own connections are excluded by owner (-m owner --uid-owner /
// --gid-owner), not by a socket mark: the owner match covers every socket
// the process opens (upstream calls, splices, webhooks to the app, Redis,
// DNS) without loopguard needing CAP_NET_ADMIN at run time to set SO_MARK,
// and without a dialer anywhere that could forget to mark.
package iptables

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Defaults of Options, named once.
const (
	DefaultProxyPort   = 15001
	DefaultInboundPort = 8081
	// DefaultProxyUID is the UID loopguard runs as in the examples (the
	// same convention as Istio's proxy UID).
	DefaultProxyUID = 1337
	// maxMultiport is the most ports one multiport match takes.
	maxMultiport = 15
)

// Defaults for list options.
var (
	DefaultOutboundPorts  = []int{443, 80}
	DefaultRejectUDPPorts = []int{443}
	DefaultExcludeCIDRs   = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
)

// Chain names: loopguard's own chains.
const (
	ChainOutput  = "LOOPGUARD_OUTPUT"  // nat: app → outbound ports
	ChainInbound = "LOOPGUARD_INBOUND" // nat: network → the app's webhook ports
	ChainQUIC    = "LOOPGUARD_QUIC"    // filter: reject UDP to QUIC ports
)

// Options say what to capture. Use Defaults for the documented defaults;
// a nil list is "none".
type Options struct {
	// ProxyPort is the transparent listener's port (listen.transparent).
	// Default 15001.
	ProxyPort int
	// OutboundPorts are the TCP destination ports captured. Default 443, 80.
	OutboundPorts []int
	// ExcludeUIDs and ExcludeGIDs own connections that are never captured;
	// loopguard's own UID or GID must be among them. Default UID 1337.
	ExcludeUIDs, ExcludeGIDs []int
	// ExcludeCIDRs are destinations never captured. Default 127.0.0.1/32
	// and ::1/128.
	ExcludeCIDRs []netip.Prefix
	// InboundPorts are the app's ports whose incoming connections go to
	// InboundPort (inbound capture). Default none.
	InboundPorts []int
	// InboundPort is loopguard's inbound listener port (listen.inbound).
	// Default 8081.
	InboundPort int
	// RejectUDPPorts are UDP destination ports rejected, so HTTP/3 (QUIC)
	// clients fall back to TCP where they are captured. Default 443.
	RejectUDPPorts []int
}

// Defaults returns the default options.
func Defaults() Options {
	return Options{
		ProxyPort: DefaultProxyPort, OutboundPorts: slices.Clone(DefaultOutboundPorts),
		ExcludeUIDs: []int{DefaultProxyUID}, ExcludeCIDRs: slices.Clone(DefaultExcludeCIDRs),
		InboundPort: DefaultInboundPort, RejectUDPPorts: slices.Clone(DefaultRejectUDPPorts),
	}
}

// Validate checks the options; errors name the flag.
func (o Options) Validate() error {
	var errs []error
	port := func(name string, p int) {
		if p < 1 || p > 65535 {
			errs = append(errs, fmt.Errorf("%s: %d is not a port", name, p))
		}
	}
	ports := func(name string, ps []int) {
		for _, p := range ps {
			port(name, p)
		}
		if len(ps) > maxMultiport {
			errs = append(errs, fmt.Errorf("%s: at most %d ports", name, maxMultiport))
		}
	}
	port("proxy-port", o.ProxyPort)
	ports("outbound-ports", o.OutboundPorts)
	ports("inbound-ports", o.InboundPorts)
	ports("reject-udp-ports", o.RejectUDPPorts)
	if len(o.InboundPorts) > 0 {
		port("inbound-port", o.InboundPort)
		if slices.Contains(o.InboundPorts, o.InboundPort) {
			errs = append(errs, fmt.Errorf("inbound-ports: %d is loopguard's own inbound port: its connections would be redirected to themselves", o.InboundPort))
		}
	}
	if len(o.OutboundPorts) > 0 && len(o.ExcludeUIDs) == 0 && len(o.ExcludeGIDs) == 0 {
		errs = append(errs, errors.New("exclude-uid/exclude-gid: none set: loopguard's own upstream connections would be captured again (a loop); name loopguard's UID or GID"))
	}
	for _, id := range slices.Concat(o.ExcludeUIDs, o.ExcludeGIDs) {
		if id < 0 {
			errs = append(errs, fmt.Errorf("exclude-uid/exclude-gid: %d is negative", id))
		}
	}
	if slices.Contains(o.OutboundPorts, o.ProxyPort) {
		errs = append(errs, fmt.Errorf("outbound-ports: %d is the proxy port", o.ProxyPort))
	}
	return errors.Join(errs...)
}

// Family is IPv4 (iptables) or IPv6 (ip6tables).
type Family int

// Families.
const (
	IPv4 Family = iota
	IPv6
)

func (f Family) String() string {
	if f == IPv6 {
		return "IPv6"
	}
	return "IPv4"
}

// Rule is one rule: "-A Chain Args..." in Table.
type Rule struct {
	Table, Chain string
	Args         []string
}

// Chain is one of loopguard's own chains.
type Chain struct{ Table, Name string }

// Ruleset is everything install writes for one family: own chains and
// their rules, then the jumps from built-in chains into them.
type Ruleset struct {
	Family Family
	Chains []Chain
	Rules  []Rule
	Jumps  []Rule
}

// ownChain is one of loopguard's chains and the one jump that reaches it
// from a built-in chain. The jump does not depend on the options, so
// uninstall removes it whatever options install ran with.
type ownChain struct {
	Chain
	jump Rule
}

// ownChains are every chain install may create, in the order uninstall
// removes them.
var ownChains = []ownChain{
	{Chain{"nat", ChainOutput}, Rule{Table: "nat", Chain: "OUTPUT", Args: []string{"-p", "tcp", "-j", ChainOutput}}},
	{Chain{"nat", ChainInbound}, Rule{Table: "nat", Chain: "PREROUTING", Args: []string{"-p", "tcp", "-j", ChainInbound}}},
	{Chain{"filter", ChainQUIC}, Rule{Table: "filter", Chain: "OUTPUT", Args: []string{"-p", "udp", "-j", ChainQUIC}}},
}

// Build returns the ruleset of o for family f. o must be valid.
func Build(o Options, f Family) Ruleset {
	rs := Ruleset{Family: f}
	add := func(c ownChain, rules ...[]string) {
		rs.Chains = append(rs.Chains, c.Chain)
		for _, r := range rules {
			rs.Rules = append(rs.Rules, Rule{Table: c.Table, Chain: c.Name, Args: r})
		}
		rs.Jumps = append(rs.Jumps, c.jump)
	}
	excl := o.exclusions(f)
	if len(o.OutboundPorts) > 0 {
		redirect := slices.Concat(dports("tcp", o.OutboundPorts), []string{"-j", "REDIRECT", "--to-ports", strconv.Itoa(o.ProxyPort)})
		add(ownChains[0], slices.Concat(excl, [][]string{redirect})...)
	}
	if len(o.InboundPorts) > 0 {
		add(ownChains[1], slices.Concat(dports("tcp", o.InboundPorts), []string{"-j", "REDIRECT", "--to-ports", strconv.Itoa(o.InboundPort)}))
	}
	if len(o.RejectUDPPorts) > 0 {
		reject := slices.Concat(dports("udp", o.RejectUDPPorts), []string{"-j", "REJECT"})
		add(ownChains[2], slices.Concat(excl, [][]string{reject})...)
	}
	return rs
}

// exclusions are the RETURN rules for excluded owners and destinations of
// family f.
func (o Options) exclusions(f Family) [][]string {
	var out [][]string
	for _, u := range o.ExcludeUIDs {
		out = append(out, []string{"-m", "owner", "--uid-owner", strconv.Itoa(u), "-j", "RETURN"})
	}
	for _, g := range o.ExcludeGIDs {
		out = append(out, []string{"-m", "owner", "--gid-owner", strconv.Itoa(g), "-j", "RETURN"})
	}
	for _, p := range o.ExcludeCIDRs {
		if p.Addr().Is4() == (f == IPv4) {
			out = append(out, []string{"-d", p.Masked().String(), "-j", "RETURN"})
		}
	}
	return out
}

// dports matches protocol proto to the given destination ports.
func dports(proto string, ports []int) []string {
	if len(ports) == 1 {
		return []string{"-p", proto, "--dport", strconv.Itoa(ports[0])}
	}
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return []string{"-p", proto, "-m", "multiport", "--dports", strings.Join(s, ",")}
}

// Script renders the ruleset as the shell commands a fresh install runs,
// for binary (e.g. "iptables-nft").
func (rs Ruleset) Script(binary string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# loopguard transparent mode, %s (%s)\n", rs.Family, binary)
	for _, c := range rs.Chains {
		fmt.Fprintf(&b, "%s -t %s -N %s\n", binary, c.Table, c.Name)
	}
	for _, r := range rs.Rules {
		fmt.Fprintf(&b, "%s -t %s -A %s %s\n", binary, r.Table, r.Chain, strings.Join(r.Args, " "))
	}
	for _, r := range rs.Jumps {
		fmt.Fprintf(&b, "%s -t %s -A %s %s\n", binary, r.Table, r.Chain, strings.Join(r.Args, " "))
	}
	return b.String()
}
