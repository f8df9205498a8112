package transparent

import (
	"net"
	"sync"
)

// replayConn is a net.Conn whose reads return the sniffed bytes first, then
// the connection's own: the Interceptor sees the stream from its first
// byte.
type replayConn struct {
	net.Conn
	mu   sync.Mutex
	head []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.head) > 0 {
		n := copy(p, c.head)
		c.head = c.head[n:]
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	return c.Conn.Read(p)
}

// CloseWrite half-closes when the underlying connection can.
func (c *replayConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// trackedConn reports its Close once, so the server knows when an
// intercepted connection ends.
type trackedConn struct {
	*replayConn
	once   sync.Once
	closed func()
}

func (c *trackedConn) Close() error {
	err := c.replayConn.Close()
	c.once.Do(c.closed)
	return err
}
