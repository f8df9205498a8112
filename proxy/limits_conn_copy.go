package proxy

import "io"

// ReadFrom and WriteTo hand io.Copy the connection underneath, so a CONNECT
// tunnel's copy between it and the upstream *net.TCPConn can use splice(2)
// as between two bare TCP connections (goproxy copies with io.Copy).
func (c *trackedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

func (c *trackedConn) WriteTo(w io.Writer) (int64, error) {
	if wt, ok := c.Conn.(io.WriterTo); ok {
		return wt.WriteTo(w)
	}
	return io.Copy(w, struct{ io.Reader }{c.Conn})
}
