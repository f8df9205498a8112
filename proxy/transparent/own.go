package transparent

import (
	"context"
	"net"
	"net/netip"
	"sync"
)

// Own remembers the local addresses of the upstream connections loopguard
// opened — the server's splices and every dialer wrapped by Dialer — so
// that a server recognises them if rules redirect them back
// (ReasonSelfCapture). It exists apart from the Server so that the dialers
// of captured traffic (the MITM path's pinned upstream) can be built before
// the server that hands them connections. The zero value is not usable:
// see NewOwn. It is safe for concurrent use.
type Own struct {
	addrs sync.Map // netip.AddrPort → struct{}
}

// NewOwn returns an empty set.
func NewOwn() *Own { return &Own{} }

// Dialer wraps d so that the connections it opens count as loopguard's own
// until they are closed.
func (o *Own) Dialer(d Dialer) Dialer { return ownDialer{own: o, d: d} }

// mark remembers a local address of an upstream connection and returns its
// key (invalid for a non-TCP address, which is not remembered).
func (o *Own) mark(a net.Addr) netip.AddrPort {
	k := addrPortOf(a)
	if k.IsValid() {
		o.addrs.Store(k, struct{}{})
	}
	return k
}

// forget drops a key mark returned.
func (o *Own) forget(k netip.AddrPort) { o.addrs.Delete(k) }

// has reports whether a is the local address of one of our connections.
func (o *Own) has(a net.Addr) bool {
	k := addrPortOf(a)
	if !k.IsValid() {
		return false
	}
	_, ok := o.addrs.Load(k)
	return ok
}

type ownDialer struct {
	own *Own
	d   Dialer
}

func (o ownDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := o.d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return &ownConn{Conn: c, own: o.own, key: o.own.mark(c.LocalAddr())}, nil
}

// ownConn forgets its address when closed.
type ownConn struct {
	net.Conn
	own  *Own
	key  netip.AddrPort
	once sync.Once
}

func (c *ownConn) Close() error {
	c.once.Do(func() { c.own.forget(c.key) })
	return c.Conn.Close()
}
