//go:build linux

package transparent

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// ip6tSOOriginalDst is IP6T_SO_ORIGINAL_DST from
// <linux/netfilter_ipv6/ip6_tables.h>; golang.org/x/sys/unix does not name
// it.
const ip6tSOOriginalDst = 80

// OriginalDst returns where a connection REDIRECTed by netfilter was going:
// the destination conntrack recorded before NAT, read with
// getsockopt(SO_ORIGINAL_DST) for IPv4 and IP6T_SO_ORIGINAL_DST for IPv6.
// A connection that was not NATed reports its own local address.
func OriginalDst(c *net.TCPConn) (netip.AddrPort, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("original destination: %w", err)
	}
	local, _ := c.LocalAddr().(*net.TCPAddr)
	v6 := local != nil && local.IP.To4() == nil
	var dst netip.AddrPort
	var serr error
	err = raw.Control(func(fd uintptr) {
		if v6 {
			dst, serr = originalDst6(int(fd))
		} else {
			dst, serr = originalDst4(int(fd))
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("original destination: %w", err)
	}
	return dst, nil
}

// originalDst4 reads a struct sockaddr_in. x/sys has no getsockopt for raw
// bytes; IPv6Mreq (20 bytes) is large enough and is the usual carrier: the
// kernel writes sin_family, sin_port and sin_addr into its first 8 bytes.
func originalDst4(fd int) (netip.AddrPort, error) {
	m, err := unix.GetsockoptIPv6Mreq(fd, unix.SOL_IP, unix.SO_ORIGINAL_DST)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("getsockopt SO_ORIGINAL_DST: %w", err)
	}
	b := m.Multiaddr
	port := binary.BigEndian.Uint16(b[2:4])
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{b[4], b[5], b[6], b[7]}), port), nil
}

// originalDst6 reads a struct sockaddr_in6 through IPv6MTUInfo, whose first
// field is one.
func originalDst6(fd int) (netip.AddrPort, error) {
	m, err := unix.GetsockoptIPv6MTUInfo(fd, unix.SOL_IPV6, ip6tSOOriginalDst)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("getsockopt IP6T_SO_ORIGINAL_DST: %w", err)
	}
	// sin6_port holds network byte order in memory; Port reads that
	// memory in the host's order.
	var pb [2]byte
	binary.NativeEndian.PutUint16(pb[:], m.Addr.Port)
	port := binary.BigEndian.Uint16(pb[:])
	return netip.AddrPortFrom(netip.AddrFrom16(m.Addr.Addr), port), nil
}
