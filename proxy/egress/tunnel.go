package egress

import (
	"fmt"
	"strings"
)

// Tunnel is outbound.tunnel: what hosts that no provider profile names get,
// through CONNECT tunnels and plain-HTTP forwarding alike.
type Tunnel uint8

// Tunnel modes.
const (
	// TunnelPublic reaches any host whose every address the policy allows:
	// public unicast, or in outbound.allow. The default.
	TunnelPublic Tunnel = iota
	// TunnelConfigured reaches only hosts outbound.allow names (by name,
	// or with every address in an allowed CIDR).
	TunnelConfigured
	// TunnelNone reaches nothing but provider hosts.
	TunnelNone
)

// TunnelModes are the accepted outbound.tunnel values, in order.
var TunnelModes = []string{"public", "configured", "none"}

// String implements fmt.Stringer.
func (t Tunnel) String() string {
	if int(t) < len(TunnelModes) {
		return TunnelModes[t]
	}
	return "unknown"
}

// ParseTunnel parses outbound.tunnel.
func ParseTunnel(s string) (Tunnel, error) {
	for i, m := range TunnelModes {
		if s == m {
			return Tunnel(i), nil
		}
	}
	return 0, fmt.Errorf("%q is not one of %s", s, strings.Join(TunnelModes, ", "))
}
