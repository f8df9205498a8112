package egress

// Action is what the policy does with a destination.
type Action uint8

// Actions.
const (
	// Deny refuses the destination before anything is dialled.
	Deny Action = iota
	// Allow dials the checked addresses.
	Allow
)

// String implements fmt.Stringer.
func (a Action) String() string {
	if a == Allow {
		return "allow"
	}
	return "deny"
}

// Reason says why a destination was allowed or refused. Its String() is the
// short code used in the 403 body, the log line and the
// loopguard_egress_denied_total{reason} label (a small, fixed set).
type Reason uint8

// Reasons. The zero value is ReasonInvalid so that a forgotten Decision
// never allows.
const (
	// ReasonInvalid: the host or port is not usable (empty, port 0, …).
	ReasonInvalid Reason = iota
	// ReasonPublic: every address is a public unicast address.
	ReasonPublic
	// ReasonConfigured: a configured provider profile names the host.
	ReasonConfigured
	// ReasonAllowListed: outbound.allow names the host, or every address
	// is in an outbound.allow CIDR.
	ReasonAllowListed
	// ReasonLoopback: 127.0.0.0/8 or ::1.
	ReasonLoopback
	// ReasonLinkLocal: 169.254.0.0/16 (cloud metadata at 169.254.169.254)
	// or fe80::/10.
	ReasonLinkLocal
	// ReasonPrivate: RFC 1918, 100.64.0.0/10 (CGNAT), fc00::/7 (ULA) or
	// fec0::/10.
	ReasonPrivate
	// ReasonUnspecified: 0.0.0.0/8 or :: (which reach the local host).
	ReasonUnspecified
	// ReasonMulticast: 224.0.0.0/4 or ff00::/8.
	ReasonMulticast
	// ReasonReserved: 240.0.0.0/4 (including 255.255.255.255) and other
	// addresses that are not routable unicast.
	ReasonReserved
	// ReasonOwnListener: one of loopguard's own listeners (outbound,
	// gateway, inbound, admin, transparent). Never reopened by the allow
	// list or a provider profile: a proxy that reaches itself loops, and
	// the admin API must not be reachable through the proxy.
	ReasonOwnListener
	// ReasonNotConfigured: outbound.tunnel is "configured" and neither a
	// provider profile nor outbound.allow names the destination.
	ReasonNotConfigured
	// ReasonTunnelDisabled: outbound.tunnel is "none" and no provider
	// profile names the host.
	ReasonTunnelDisabled
	// ReasonResolveFailed: the host name did not resolve (answered 502,
	// not 403: it is not the policy's refusal).
	ReasonResolveFailed
)

var reasonNames = [...]string{
	ReasonInvalid:        "invalid",
	ReasonPublic:         "public",
	ReasonConfigured:     "configured",
	ReasonAllowListed:    "allow_listed",
	ReasonLoopback:       "loopback",
	ReasonLinkLocal:      "link_local",
	ReasonPrivate:        "private",
	ReasonUnspecified:    "unspecified",
	ReasonMulticast:      "multicast",
	ReasonReserved:       "reserved",
	ReasonOwnListener:    "own_listener",
	ReasonNotConfigured:  "not_configured",
	ReasonTunnelDisabled: "tunnel_disabled",
	ReasonResolveFailed:  "resolve_failed",
}

// String implements fmt.Stringer.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

var reasonText = [...]string{
	ReasonInvalid:        "not a usable host:port",
	ReasonPublic:         "public address",
	ReasonConfigured:     "a provider host",
	ReasonAllowListed:    "named by outbound.allow",
	ReasonLoopback:       "loopback addresses are refused (see outbound.allow)",
	ReasonLinkLocal:      "link-local addresses, cloud metadata included, are refused (see outbound.allow)",
	ReasonPrivate:        "private addresses are refused (see outbound.allow)",
	ReasonUnspecified:    "unspecified addresses are refused",
	ReasonMulticast:      "multicast addresses are refused",
	ReasonReserved:       "reserved addresses are refused",
	ReasonOwnListener:    "loopguard's own listeners are never reachable through it",
	ReasonNotConfigured:  "only provider hosts and outbound.allow are reachable (outbound.tunnel: configured)",
	ReasonTunnelDisabled: "only provider hosts are reachable (outbound.tunnel: none)",
	ReasonResolveFailed:  "the host name did not resolve",
}

// Text is a short human explanation of the reason, for the 403 body.
func (r Reason) Text() string {
	if int(r) < len(reasonText) {
		return reasonText[r]
	}
	return "refused"
}

// Reasons lists every reason, in order (for tests and documentation).
func Reasons() []Reason {
	out := make([]Reason, len(reasonNames))
	for i := range out {
		out[i] = Reason(i)
	}
	return out
}
