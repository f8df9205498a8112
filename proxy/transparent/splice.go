package transparent

import (
	"errors"
	"io"
	"net"
	"sync"
)

// splice copies client↔upstream until both directions end. head (the
// sniffed bytes) goes upstream first. A direction that ends cleanly
// half-closes its destination (the other keeps flowing, as TCP allows); a
// direction that fails closes both connections. It returns the bytes sent
// each way and the first error. With *net.TCPConn on both sides io.Copy
// uses splice(2): the bytes never enter user space.
func splice(client, upstream net.Conn, head []byte) (up, down int64, err error) {
	if len(head) > 0 {
		n, werr := upstream.Write(head)
		up += int64(n)
		if werr != nil {
			_ = client.Close()
			_ = upstream.Close()
			return up, 0, werr
		}
	}
	var (
		wg   sync.WaitGroup
		errs [2]error
		n    [2]int64
	)
	wg.Add(2)
	pipe := func(i int, dst, src net.Conn) {
		defer wg.Done()
		n[i], errs[i] = io.Copy(dst, src)
		if errs[i] == nil {
			errs[i] = closeWrite(dst)
		}
		if errs[i] != nil {
			_ = client.Close()
			_ = upstream.Close()
		}
	}
	go pipe(0, upstream, client)
	pipe(1, client, upstream)
	wg.Wait()
	_ = client.Close()
	_ = upstream.Close()
	return up + n[0], n[1], firstReal(errs[0], errs[1])
}

// closeWrite half-closes c when it can, else closes it.
func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Close()
}

// firstReal returns the first error that is not the consequence of our own
// close (net.ErrClosed after the other direction failed).
func firstReal(errs ...error) error {
	var closed error
	for _, e := range errs {
		switch {
		case e == nil:
		case errors.Is(e, net.ErrClosed):
			closed = e
		default:
			return e
		}
	}
	return closed
}
