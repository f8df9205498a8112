package proxy

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// connLimiter wraps one listener: at most max connections are open at once
// (limits.max_connections); a connection over the bound is answered 503
// with Retry-After and closed at once, so a flood costs a socket for a
// moment, never a goroutine. It also finds an open connection by its remote
// address, which is how a request inside an intercepted CONNECT (goproxy
// reads those itself, with no http.Server deadlines) gets its read
// deadlines.
type connLimiter struct {
	net.Listener
	max      int64
	open     atomic.Int64
	conns    sync.Map // remote address → *trackedConn
	refusal  []byte
	gauge    prometheus.Gauge
	rejected prometheus.Counter
	idle     prometheus.Counter // closed before any request (slowloris, idle floods)
}

// refusalWriteTimeout bounds writing the 503 to a refused connection.
const refusalWriteTimeout = 100 * time.Millisecond

func newConnLimiter(ln net.Listener, max int, retryAfter time.Duration, gauge prometheus.Gauge, rejected, idle prometheus.Counter) *connLimiter {
	const msg = "loopguard: too many connections (limits.max_connections)\n"
	return &connLimiter{
		Listener: ln, max: int64(max), gauge: gauge, rejected: rejected, idle: idle,
		refusal: []byte("HTTP/1.1 503 Service Unavailable\r\nRetry-After: " + retryAfterSeconds(retryAfter) +
			"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " + strconv.Itoa(len(msg)) +
			"\r\nConnection: close\r\n\r\n" + msg),
	}
}

// retryAfterSeconds formats a Retry-After value: whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int((d+time.Second-1)/time.Second)))
}

// Accept returns the next connection within the bound; connections over
// it are refused here and never reach the server.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			l.rejected.Inc()
			_ = c.SetWriteDeadline(time.Now().Add(refusalWriteTimeout))
			_, _ = c.Write(l.refusal)
			_ = c.Close()
			continue
		}
		l.gauge.Inc()
		tc := &trackedConn{Conn: c, l: l, addr: c.RemoteAddr().String()}
		l.conns.Store(tc.addr, tc)
		return tc, nil
	}
}

// conn finds an open connection by remote address (nil when gone).
func (l *connLimiter) conn(remoteAddr string) *trackedConn {
	if v, ok := l.conns.Load(remoteAddr); ok {
		return v.(*trackedConn)
	}
	return nil
}

// trackedConn is an accepted connection counted against its listener's
// bound until closed.
type trackedConn struct {
	net.Conn
	l      *connLimiter
	addr   string
	closed atomic.Bool
	// served: a whole request head was read on it (else its close counts
	// as idle: idle floods, slowloris).
	served atomic.Bool
	// mitm: a CONNECT on it is being intercepted; once hijacked, its read
	// deadlines are loopguard's to set (see mitmDeadlines).
	mitm atomic.Bool
}

func (c *trackedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.l.conns.CompareAndDelete(c.addr, c)
		c.l.open.Add(-1)
		c.l.gauge.Dec()
		if !c.served.Load() {
			c.l.idle.Inc()
		}
	}
	return c.Conn.Close()
}

// CloseWrite and CloseRead keep TCP half-close working through the
// wrapper (goproxy's tunnels use them).
func (c *trackedConn) CloseWrite() error {
	if hc, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return hc.CloseWrite()
	}
	return errors.ErrUnsupported
}

func (c *trackedConn) CloseRead() error {
	if hc, ok := c.Conn.(interface{ CloseRead() error }); ok {
		return hc.CloseRead()
	}
	return errors.ErrUnsupported
}
