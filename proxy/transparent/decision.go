package transparent

import (
	"net/netip"
)

// Action is what the transparent listener does with a captured connection.
type Action int

// Actions.
const (
	// Splice copies the bytes both ways to the original destination,
	// untouched: no TLS termination, no parsing after the first bytes.
	Splice Action = iota
	// Intercept hands the connection to the Interceptor (loopguard's MITM
	// path) because it is for a configured provider host.
	Intercept
	// Refuse closes the connection: loopguard cannot tell where it was
	// going, or it came to the listener directly (splicing it would connect
	// the listener to itself).
	Refuse
)

var actionNames = [...]string{Splice: "splice", Intercept: "intercept", Refuse: "refuse"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "unknown"
}

// Reason says why a connection got its Action.
type Reason int

// Reasons, one per path through the listener.
const (
	// ReasonProviderHost: the server name or Host is a configured provider
	// host (Intercept).
	ReasonProviderHost Reason = iota
	// ReasonOtherHost: a host that no provider lists (Splice).
	ReasonOtherHost
	// ReasonNoSNI: a TLS ClientHello without server name; the host cannot
	// be known, so it is never intercepted (Splice).
	ReasonNoSNI
	// ReasonNoHost: an HTTP/1.x request head without Host (Splice).
	ReasonNoHost
	// ReasonUnknownProtocol: the first bytes are neither a TLS handshake
	// nor an HTTP/1.x request line (Splice).
	ReasonUnknownProtocol
	// ReasonMalformed: a TLS ClientHello or HTTP head that does not parse
	// (Splice: bad input passes untouched).
	ReasonMalformed
	// ReasonPeekTimeout: the client sent too little before the peek
	// timeout, e.g. a server-speaks-first protocol (Splice).
	ReasonPeekTimeout
	// ReasonPeekLimit: the ClientHello or request head is larger than the
	// peek buffer (Splice).
	ReasonPeekLimit
	// ReasonClientClosed: the client closed before sending anything
	// (nothing to do).
	ReasonClientClosed
	// ReasonNoOriginalDst: the socket has no original destination, e.g.
	// conntrack is not loaded (Refuse).
	ReasonNoOriginalDst
	// ReasonNotRedirected: the original destination is the listener itself:
	// a direct connection, not a captured one (Refuse).
	ReasonNotRedirected
	// ReasonSelfCapture: the connection is one loopguard itself opened
	// upstream, redirected back by rules that do not exclude loopguard's
	// UID: refused, so a misconfiguration cannot loop (Refuse).
	ReasonSelfCapture
	// ReasonDialFailed: the original destination could not be dialled —
	// unreachable, or refused by the egress policy the Dialer applies
	// (Refuse: the client's connection is closed).
	ReasonDialFailed
)

var reasonNames = [...]string{
	ReasonProviderHost: "provider_host", ReasonOtherHost: "other_host", ReasonNoSNI: "no_sni",
	ReasonNoHost: "no_host", ReasonUnknownProtocol: "unknown_protocol", ReasonMalformed: "malformed",
	ReasonPeekTimeout: "peek_timeout", ReasonPeekLimit: "peek_limit", ReasonClientClosed: "client_closed",
	ReasonNoOriginalDst: "no_original_dst", ReasonNotRedirected: "not_redirected", ReasonSelfCapture: "self_capture",
	ReasonDialFailed: "dial_failed",
}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// Decision is the verdict on one captured connection, as a value: what was
// done, why, and what was known.
type Decision struct {
	Action Action
	Reason Reason
	// Proto is "tls", "http" or "" (not recognised).
	Proto string
	// Host is the server name or Host header ("" when unknown).
	Host string
	// Dst is the original destination (zero when unknown).
	Dst netip.AddrPort
	// Client is the client's address.
	Client string
	// Err is the parse or dial error behind the decision, if any.
	Err error
}
