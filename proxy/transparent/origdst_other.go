//go:build !linux

package transparent

import (
	"errors"
	"net"
	"net/netip"
)

// OriginalDst needs netfilter's SO_ORIGINAL_DST: Linux only.
func OriginalDst(*net.TCPConn) (netip.AddrPort, error) {
	return netip.AddrPort{}, errors.New("original destination: transparent mode needs Linux (SO_ORIGINAL_DST)")
}
