package transparent

import (
	"errors"
	"net"
	"os"
	"time"
)

// initialPeek is the first read buffer: a whole ClientHello (even with
// post-quantum key shares) or a typical request head fits.
const initialPeek = 4 << 10

// sniffed is what the first bytes of a connection said.
type sniffed struct {
	proto  string // "tls", "http" or ""
	host   string // "" when unknown
	reason Reason // why host is unknown (ignored when host is set)
	err    error  // the parse error, for the log
	buf    []byte // every byte read; replayed or forwarded first
}

// sniff reads from c until the bytes say which host the connection is for,
// or until they cannot (unknown protocol, malformed, maxPeek bytes,
// timeout, end of stream). It never consumes more than it returns in buf.
func sniff(c net.Conn, timeout time.Duration, maxPeek int) sniffed {
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	buf := make([]byte, 0, min(initialPeek, maxPeek))
	for {
		if len(buf) == cap(buf) {
			if cap(buf) >= maxPeek {
				return sniffed{proto: protoOf(buf), reason: ReasonPeekLimit, buf: buf}
			}
			nb := make([]byte, len(buf), min(2*cap(buf), maxPeek))
			copy(nb, buf)
			buf = nb
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if n > 0 {
			if s, done := classify(buf); done {
				s.buf = buf
				return s
			}
		}
		if err != nil {
			s := sniffed{proto: protoOf(buf), buf: buf, err: err}
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				s.reason = ReasonPeekTimeout
			case len(buf) == 0:
				s.reason = ReasonClientClosed
			default:
				s.reason = ReasonMalformed // a hello or head cut short
			}
			return s
		}
	}
}

// protoOf guesses the protocol from the first byte, for reporting.
func protoOf(b []byte) string {
	switch {
	case len(b) == 0:
		return ""
	case b[0] == recordTypeHandshake:
		return "tls"
	case b[0] >= 'A' && b[0] <= 'Z':
		return "http"
	}
	return ""
}

// classify decides from the bytes read so far; done is false while more
// bytes are needed.
func classify(b []byte) (s sniffed, done bool) {
	switch protoOf(b) {
	case "tls":
		h, err := ParseClientHello(b)
		switch {
		case errors.Is(err, ErrIncomplete):
			return s, false
		case err != nil:
			return sniffed{proto: "tls", reason: ReasonMalformed, err: err}, true
		case h.ServerName == "":
			return sniffed{proto: "tls", reason: ReasonNoSNI}, true
		}
		return sniffed{proto: "tls", host: h.ServerName}, true
	case "http":
		host, err := ParseHTTPHost(b)
		switch {
		case errors.Is(err, ErrIncomplete):
			return s, false
		case errors.Is(err, ErrNotHTTP):
			return sniffed{reason: ReasonUnknownProtocol}, true
		case err != nil:
			return sniffed{proto: "http", reason: ReasonMalformed, err: err}, true
		case host == "":
			return sniffed{proto: "http", reason: ReasonNoHost}, true
		}
		return sniffed{proto: "http", host: host}, true
	}
	return sniffed{reason: ReasonUnknownProtocol}, true
}
