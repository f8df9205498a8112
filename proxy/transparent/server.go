package transparent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of Options, named once.
const (
	// DefaultPeekTimeout bounds the wait for a ClientHello or request head.
	// A client that sends nothing by then (a server-speaks-first protocol)
	// is spliced with what it sent.
	DefaultPeekTimeout = 5 * time.Second
	// DefaultMaxPeek bounds the bytes read before deciding: a ClientHello
	// or request head larger than this is spliced untouched.
	DefaultMaxPeek = 64 << 10
	// DefaultDialTimeout bounds a splice's dial to the original destination.
	DefaultDialTimeout = 10 * time.Second
	// keepAlive is the TCP keep-alive period of spliced upstream connections.
	keepAlive = 30 * time.Second
	// acceptBackoffMax caps the pause after a temporary Accept error.
	acceptBackoffMax = time.Second
)

// Dialer opens the spliced connections to original destinations. It is
// where an egress policy plugs in (a checked dialer refuses what the policy
// forbids); the default is a plain net.Dialer.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Interceptor takes over connections for provider hosts.
type Interceptor interface {
	// Intercept serves c, whose reads replay the sniffed bytes first, for
	// the host and original destination in d. It owns c and closes it when
	// done; it may return before the connection ends.
	Intercept(c net.Conn, d Decision)
}

// Options configure a Server. Zero values take the documented defaults.
type Options struct {
	// Match reports whether host:port (the server name or Host header and
	// the original destination's port) belongs to a configured provider.
	// Required.
	Match func(hostport string) bool
	// Interceptor serves the matched connections. Required.
	Interceptor Interceptor
	// Dialer dials original destinations for splices. Default: a net.Dialer
	// with DialTimeout and TCP keep-alive.
	Dialer Dialer
	// OriginalDst recovers a connection's original destination. Default:
	// OriginalDst (SO_ORIGINAL_DST). Tests and the load harness substitute
	// it to run without iptables.
	OriginalDst func(net.Conn) (netip.AddrPort, error)
	// PeekTimeout: default DefaultPeekTimeout.
	PeekTimeout time.Duration
	// MaxPeek: default DefaultMaxPeek.
	MaxPeek int
	// DialTimeout: default DefaultDialTimeout.
	DialTimeout time.Duration
	// Observe, when set, is called once per connection with its decision
	// (after the dial, for splices): the metrics hook.
	Observe func(Decision)
	// Log gets one debug line per connection and a warning per refusal or
	// failed dial. Default: no output.
	Log zerolog.Logger
	// Own is the set of loopguard's own upstream connections: the
	// server's splices join it, and so should every other dialer of
	// captured traffic (Own.Dialer). Default: a new, private set.
	Own *Own
}

// Server is the transparent listener.
type Server struct {
	o     Options
	mu    sync.Mutex
	lns   map[net.Listener]struct{}
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
	done  bool
}

// New validates o and fills its defaults.
func New(o Options) (*Server, error) {
	if o.Match == nil || o.Interceptor == nil {
		return nil, errors.New("transparent: Match and Interceptor are required")
	}
	if o.PeekTimeout <= 0 {
		o.PeekTimeout = DefaultPeekTimeout
	}
	if o.MaxPeek <= 0 {
		o.MaxPeek = DefaultMaxPeek
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.Dialer == nil {
		o.Dialer = &net.Dialer{Timeout: o.DialTimeout, KeepAlive: keepAlive}
	}
	if o.Own == nil {
		o.Own = NewOwn()
	}
	if o.OriginalDst == nil {
		o.OriginalDst = func(c net.Conn) (netip.AddrPort, error) {
			tc, ok := c.(*net.TCPConn)
			if !ok {
				return netip.AddrPort{}, fmt.Errorf("original destination: %T is not a TCP connection", c)
			}
			return OriginalDst(tc)
		}
	}
	return &Server{o: o, lns: map[net.Listener]struct{}{}, conns: map[net.Conn]struct{}{}}, nil
}

// Serve accepts captured connections on ln until Close or Shutdown; it
// returns net.ErrClosed then.
func (s *Server) Serve(ln net.Listener) error {
	if !s.track(ln) {
		_ = ln.Close()
		return net.ErrClosed
	}
	defer s.untrack(ln)
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.closing() || errors.Is(err, net.ErrClosed) {
				return net.ErrClosed
			}
			// Temporary (EMFILE, ECONNABORTED): back off like net/http.
			backoff = min(max(2*backoff, 5*time.Millisecond), acceptBackoffMax)
			s.o.Log.Warn().Err(err).Dur("retry_in", backoff).Msg("transparent: accept failed")
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !s.add(c) {
			_ = c.Close()
			continue
		}
		go s.handle(c)
	}
}

// errSelfCapture explains ReasonSelfCapture.
var errSelfCapture = errors.New("loopguard's own upstream connection was redirected back to it: exclude loopguard's UID or GID in the rules")

// handle routes one captured connection.
func (s *Server) handle(c net.Conn) {
	d := Decision{Client: c.RemoteAddr().String()}
	dst, err := s.o.OriginalDst(c)
	switch {
	case err != nil:
		d.Action, d.Reason, d.Err = Refuse, ReasonNoOriginalDst, err
	case dst == localAddrPort(c):
		d.Action, d.Reason, d.Dst = Refuse, ReasonNotRedirected, dst
	case s.isOwn(c.RemoteAddr()):
		d.Action, d.Reason, d.Dst, d.Err = Refuse, ReasonSelfCapture, dst, errSelfCapture
	}
	if d.Action == Refuse {
		s.finish(c, d)
		return
	}
	d.Dst = dst
	sn := sniff(c, s.o.PeekTimeout, s.o.MaxPeek)
	d.Proto, d.Host, d.Reason, d.Err = sn.proto, sn.host, sn.reason, sn.err
	if sn.reason == ReasonClientClosed {
		d.Action = Refuse
		s.finish(c, d)
		return
	}
	if s.isOwn(c.RemoteAddr()) {
		// Our dialers mark a connection as soon as it is established and
		// write only after: the redirected copy can be accepted before the
		// mark, never read from before it. Reset it, as the refusal above
		// does by closing with its bytes unread, so our side's splice ends
		// at once instead of waiting on its client.
		d.Action, d.Reason, d.Err = Refuse, ReasonSelfCapture, errSelfCapture
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		s.finish(c, d)
		return
	}
	if sn.host != "" {
		d.Reason = ReasonOtherHost
		if s.o.Match(net.JoinHostPort(sn.host, strconv.Itoa(int(dst.Port())))) {
			d.Action, d.Reason = Intercept, ReasonProviderHost
			s.intercept(c, sn.buf, d)
			return
		}
	}
	s.splice(c, sn.buf, d)
}

// intercept hands c to the Interceptor; the server keeps tracking it until
// the Interceptor closes it.
func (s *Server) intercept(c net.Conn, head []byte, d Decision) {
	s.report(d)
	tc := &trackedConn{replayConn: &replayConn{Conn: c, head: head}}
	tc.closed = func() { s.remove(c) }
	s.o.Interceptor.Intercept(tc, d)
}

// splice dials the original destination and copies both ways.
func (s *Server) splice(c net.Conn, head []byte, d Decision) {
	ctx, cancel := context.WithTimeout(context.Background(), s.o.DialTimeout)
	up, err := s.o.Dialer.DialContext(ctx, "tcp", d.Dst.String())
	cancel()
	if err != nil {
		d.Action, d.Reason, d.Err = Refuse, ReasonDialFailed, fmt.Errorf("dial %s: %w", d.Dst, err)
		s.finish(c, d)
		return
	}
	s.report(d)
	own := s.o.Own.mark(up.LocalAddr())
	defer s.o.Own.forget(own)
	if !s.add(up) { // shutting down
		_ = up.Close()
		_ = c.Close()
		s.remove(c)
		return
	}
	sent, recv, err := splice(c, up, head)
	s.remove(up)
	s.remove(c)
	s.o.Log.Trace().Str("dst", d.Dst.String()).Int64("sent", sent).Int64("received", recv).AnErr("error", err).Msg("transparent: splice ended")
}

// isOwn reports whether a is the local address of one of loopguard's own
// upstream connections (Options.Own).
func (s *Server) isOwn(a net.Addr) bool { return s.o.Own.has(a) }

func addrPortOf(a net.Addr) netip.AddrPort {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}
	}
	ap := ta.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// OwnDialer wraps d so the server recognises the connections it opens if
// rules redirect them back (ReasonSelfCapture): Options.Own.Dialer.
func (s *Server) OwnDialer(d Dialer) Dialer { return s.o.Own.Dialer(d) }

// finish reports d and closes c.
func (s *Server) finish(c net.Conn, d Decision) {
	s.report(d)
	_ = c.Close()
	s.remove(c)
}

// report logs and observes a decision once.
func (s *Server) report(d Decision) {
	ev := s.o.Log.Debug()
	switch {
	case d.Reason == ReasonClientClosed || d.Reason == ReasonMalformed || d.Reason == ReasonPeekTimeout:
	case d.Action == Refuse || d.Err != nil:
		ev = s.o.Log.Warn() // a misconfiguration or an unreachable destination
	}
	ev.Str("action", d.Action.String()).Str("reason", d.Reason.String()).Str("proto", d.Proto).
		Str("host", d.Host).Str("dst", dstString(d.Dst)).Str("client", d.Client).AnErr("error", d.Err).
		Msg("transparent connection")
	if s.o.Observe != nil {
		s.o.Observe(d)
	}
}

func dstString(a netip.AddrPort) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// localAddrPort is c's own address, IPv4-mapped addresses unmapped so it
// compares with an original destination.
func localAddrPort(c net.Conn) netip.AddrPort {
	ta, ok := c.LocalAddr().(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}
	}
	ap := ta.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func (s *Server) track(ln net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return false
	}
	s.lns[ln] = struct{}{}
	return true
}

func (s *Server) untrack(ln net.Listener) {
	s.mu.Lock()
	delete(s.lns, ln)
	s.mu.Unlock()
}

func (s *Server) closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

func (s *Server) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) remove(c net.Conn) {
	s.mu.Lock()
	_, ok := s.conns[c]
	delete(s.conns, c)
	s.mu.Unlock()
	if ok {
		s.wg.Done()
	}
}

// Active is the number of open connections (captured and upstream).
func (s *Server) Active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Shutdown stops accepting, lets open connections end until ctx is done,
// then closes the rest. It may be called more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.done = true
	for ln := range s.lns {
		_ = ln.Close()
	}
	s.mu.Unlock()
	idle := make(chan struct{})
	go func() { s.wg.Wait(); close(idle) }()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
		delete(s.conns, c)
		s.wg.Done()
	}
	s.mu.Unlock()
	<-idle
	return ctx.Err()
}

// Close closes the listeners and every open connection now.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
