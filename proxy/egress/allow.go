package egress

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// AllowList is the parsed outbound.allow: exceptions to the default refusal.
// An entry is a host name ("api.internal.example"), a wildcard for its
// subdomains ("*.corp.example"), an IP address ("10.1.2.3", "fd00::1") or a
// CIDR ("10.0.0.0/8"); host names and addresses may carry a port
// ("db.internal:5432", "10.1.2.3:8443", "[fd00::1]:443"), which limits the
// entry to that port. The zero value allows nothing.
type AllowList struct {
	hosts    []hostRule
	prefixes []prefixRule
	entries  []string
}

type hostRule struct {
	name     string // lower-case, no trailing dot
	wildcard bool   // matches subdomains of name, not name itself
	port     int    // 0: any port
}

type prefixRule struct {
	prefix netip.Prefix
	port   int // 0: any port
}

// maxHostLen is the longest DNS name (RFC 1035).
const maxHostLen = 253

// ParseAllow parses outbound.allow. Every bad entry is reported, by index.
func ParseAllow(entries []string) (AllowList, error) {
	var a AllowList
	var errs []error
	for i, e := range entries {
		if err := a.add(e); err != nil {
			errs = append(errs, fmt.Errorf("[%d] %q: %w", i, e, err))
		}
	}
	if len(errs) > 0 {
		return AllowList{}, errors.Join(errs...)
	}
	return a, nil
}

// Entries returns the entries as given.
func (a AllowList) Entries() []string { return append([]string(nil), a.entries...) }

// Host reports whether a host-name entry names host on port. host is
// compared case-insensitively and without a trailing dot.
func (a AllowList) Host(host string, port int) bool {
	host = normHost(host)
	for _, r := range a.hosts {
		if r.port != 0 && r.port != port {
			continue
		}
		if r.wildcard && strings.HasSuffix(host, "."+r.name) || !r.wildcard && host == r.name {
			return true
		}
	}
	return false
}

// Addr reports whether an address or CIDR entry holds ip on port.
func (a AllowList) Addr(ip netip.Addr, port int) bool {
	ip = ip.Unmap().WithZone("")
	for _, r := range a.prefixes {
		if (r.port == 0 || r.port == port) && r.prefix.Contains(ip) {
			return true
		}
	}
	return false
}

func (a *AllowList) add(s string) error {
	e := strings.TrimSpace(s)
	switch {
	case e == "":
		return errors.New("empty entry")
	case strings.Contains(e, "://"):
		return errors.New("want a host, address or CIDR, not a URL")
	case strings.ContainsAny(e, " \t\r\n"):
		return errors.New("contains white space")
	case strings.Contains(e, "/"):
		p, err := parsePrefix(e)
		if err != nil {
			return err
		}
		a.prefixes = append(a.prefixes, prefixRule{prefix: p})
	default:
		if ip, err := parseAddr(e); err == nil {
			a.prefixes = append(a.prefixes, prefixRule{prefix: netip.PrefixFrom(ip, ip.BitLen())})
			break
		} else if !errors.Is(err, errNotAddr) {
			return err
		}
		host, port, err := splitPort(e)
		if err != nil {
			return err
		}
		if ip, err := parseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil {
			a.prefixes = append(a.prefixes, prefixRule{prefix: netip.PrefixFrom(ip, ip.BitLen()), port: port})
			break
		} else if !errors.Is(err, errNotAddr) {
			return err
		}
		r, err := parseHostRule(host)
		if err != nil {
			return err
		}
		r.port = port
		a.hosts = append(a.hosts, r)
	}
	a.entries = append(a.entries, e)
	return nil
}

var errNotAddr = errors.New("not an IP address")

// parseAddr parses an IP address; errNotAddr when s does not look like one.
func parseAddr(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, errNotAddr
	}
	if ip.Zone() != "" {
		return netip.Addr{}, errors.New("an address with a zone (%iface) cannot be allow-listed")
	}
	return ip.Unmap(), nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("not a CIDR (want e.g. 10.0.0.0/8 or fd00::/8): %w", err)
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, errors.New("an IPv4-mapped IPv6 CIDR: write the IPv4 form")
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("host bits are set: did you mean %s?", m)
	}
	return p, nil
}

// splitPort splits "host:port"; a string without a port returns port 0.
func splitPort(s string) (string, int, error) {
	if !strings.Contains(s, ":") {
		return s, 0, nil
	}
	host, ps, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("not host, host:port, address or CIDR: %w", err)
	}
	port, err := parsePort(ps)
	if err != nil {
		return "", 0, err
	}
	if host == "" {
		return "", 0, errors.New("a port without a host")
	}
	return host, port, nil
}

// parsePort parses a decimal port 1..65535.
func parsePort(s string) (int, error) {
	if s == "" || len(s) > 5 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return n, nil
}

func parseHostRule(h string) (hostRule, error) {
	var r hostRule
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		r.wildcard, h = true, rest
	}
	h = normHost(h)
	if err := checkHostName(h); err != nil {
		return hostRule{}, err
	}
	r.name = h
	return r, nil
}

// checkHostName accepts DNS names: labels of letters, digits, '-' and '_',
// 1 to 63 characters, not starting or ending with '-'. An all-numeric last
// label is refused (an incomplete IP address such as "10.1").
func checkHostName(h string) error {
	if h == "" || len(h) > maxHostLen {
		return fmt.Errorf("host name must be 1 to %d characters", maxHostLen)
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return errors.New("host name has an empty or over-long label")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("label %q starts or ends with '-'", l)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				if c == '*' {
					return errors.New("a wildcard is only allowed as a leading \"*.\"")
				}
				return fmt.Errorf("character %q is not allowed in a host name", c)
			}
		}
	}
	if strings.TrimLeft(labels[len(labels)-1], "0123456789") == "" {
		return errors.New("looks like an incomplete IP address; write all four parts or a CIDR")
	}
	return nil
}

// normHost lower-cases a host name and drops one trailing dot.
func normHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(h), ".")
}
