package egress

import "net/netip"

// Address classes refused by default (RFC 6890 and its updates). Loopback,
// link-local, multicast and unspecified come from netip's own predicates.
var (
	privatePrefixes = []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),     // RFC 1918
		netip.MustParsePrefix("172.16.0.0/12"),  // RFC 1918
		netip.MustParsePrefix("192.168.0.0/16"), // RFC 1918
		netip.MustParsePrefix("100.64.0.0/10"),  // RFC 6598 shared address space (CGNAT)
		netip.MustParsePrefix("fc00::/7"),       // RFC 4193 unique local
		netip.MustParsePrefix("fec0::/10"),      // RFC 3879 deprecated site-local
		netip.MustParsePrefix("64:ff9b:1::/48"), // RFC 8215 local-use NAT64
	}
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")   // RFC 791 "this network": reaches the local host
	reserved4   = netip.MustParsePrefix("240.0.0.0/4") // RFC 1112 reserved, and the limited broadcast
	// IPv6 prefixes that embed an IPv4 address a gateway may translate to:
	// the address is classified by the IPv4 address it carries.
	nat64    = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052 well-known NAT64
	sixToF   = netip.MustParsePrefix("2002::/16")    // RFC 3056 6to4
	v4compat = netip.MustParsePrefix("::/96")        // RFC 4291 deprecated IPv4-compatible
)

// Classify returns ReasonPublic for a public unicast address, or the reason
// the class of the address is refused by default. IPv4-mapped IPv6
// addresses are classified as the IPv4 address, and zones are ignored.
func Classify(ip netip.Addr) Reason {
	if !ip.IsValid() {
		return ReasonInvalid
	}
	ip = ip.Unmap().WithZone("")
	switch {
	case ip.IsUnspecified() || (ip.Is4() && thisNetwork.Contains(ip)):
		return ReasonUnspecified
	case ip.IsLoopback():
		return ReasonLoopback
	case ip.IsLinkLocalUnicast():
		return ReasonLinkLocal
	case ip.IsMulticast():
		return ReasonMulticast
	case ip.Is4() && reserved4.Contains(ip):
		return ReasonReserved
	}
	for _, p := range privatePrefixes {
		if p.Contains(ip) {
			return ReasonPrivate
		}
	}
	if ip.Is6() {
		if v4, ok := embedded4(ip); ok {
			if r := Classify(v4); r != ReasonPublic {
				return r
			}
		}
	}
	return ReasonPublic
}

// embedded4 returns the IPv4 address carried by a NAT64, 6to4 or
// IPv4-compatible IPv6 address.
func embedded4(ip netip.Addr) (netip.Addr, bool) {
	b := ip.As16()
	switch {
	case nat64.Contains(ip), v4compat.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToF.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}
