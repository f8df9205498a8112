package transparent

import (
	"errors"
	"fmt"
	"strings"
)

// TLS wire constants (RFC 8446 §5.1, §4, §4.2; RFC 6066 §3).
const (
	recordTypeHandshake   = 22
	recordHeaderLen       = 5
	maxRecordLen          = 1<<14 + 2048 // TLSCiphertext bound; a plaintext record is at most 2^14
	handshakeHeaderLen    = 4
	handshakeClientHello  = 1
	extensionServerName   = 0
	serverNameTypeHost    = 0
	maxServerNameLen      = 255
	clientHelloRandomLen  = 32
	clientHelloSessionMax = 32
)

// Errors of the sniffers. ErrIncomplete asks for more bytes; the others
// mean the bytes are not (well-formed) TLS or HTTP and the connection is
// spliced untouched.
var (
	ErrIncomplete = errors.New("incomplete: need more bytes")
	ErrNotTLS     = errors.New("not a TLS handshake record")
	ErrNotHTTP    = errors.New("not an HTTP/1.x request")
)

// Hello is what loopguard reads from a ClientHello: only the server name.
type Hello struct {
	// ServerName is the first host_name of the server_name extension,
	// lower-cased and without a trailing dot; "" when the client sent none.
	ServerName string
}

// ParseClientHello reads a ClientHello from the first bytes a client sent:
// one or more TLS handshake records. It returns ErrIncomplete while the
// message is not whole, ErrNotTLS when the bytes do not start a handshake
// record, and a descriptive error for a malformed message. It never reads
// past b and allocates only the server name.
func ParseClientHello(b []byte) (Hello, error) {
	msg, err := handshakeMessage(b)
	if err != nil {
		return Hello{}, err
	}
	return parseHelloBody(msg)
}

// handshakeMessage reassembles the first handshake message from consecutive
// handshake records (a ClientHello may be fragmented, RFC 8446 §5.1) and
// returns its body.
func handshakeMessage(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, ErrIncomplete
	}
	if b[0] != recordTypeHandshake {
		return nil, ErrNotTLS
	}
	var hs []byte // handshake bytes gathered so far
	need := -1    // message length once its header is known
	for {
		if len(b) < recordHeaderLen {
			return nil, ErrIncomplete
		}
		if b[0] != recordTypeHandshake {
			return nil, fmt.Errorf("client hello: record of type %d inside the handshake message", b[0])
		}
		if b[1] != 3 {
			return nil, fmt.Errorf("client hello: record version %d.%d is not TLS", b[1], b[2])
		}
		n := int(b[3])<<8 | int(b[4])
		if n == 0 || n > maxRecordLen {
			return nil, fmt.Errorf("client hello: record length %d out of range", n)
		}
		if len(b) < recordHeaderLen+n {
			// Gather what we can to learn the message length, so a hello
			// that can never fit is refused early.
			hs = append(hs, b[recordHeaderLen:]...)
			if need < 0 && len(hs) >= handshakeHeaderLen {
				if err := checkHandshakeHeader(hs); err != nil {
					return nil, err
				}
			}
			return nil, ErrIncomplete
		}
		hs = append(hs, b[recordHeaderLen:recordHeaderLen+n]...)
		b = b[recordHeaderLen+n:]
		if need < 0 && len(hs) >= handshakeHeaderLen {
			if err := checkHandshakeHeader(hs); err != nil {
				return nil, err
			}
			need = int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
		}
		if need >= 0 && len(hs) >= handshakeHeaderLen+need {
			return hs[handshakeHeaderLen : handshakeHeaderLen+need], nil
		}
	}
}

func checkHandshakeHeader(hs []byte) error {
	if hs[0] != handshakeClientHello {
		return fmt.Errorf("client hello: first handshake message has type %d, want ClientHello", hs[0])
	}
	return nil
}

// reader is a bounds-checked cursor over a byte slice.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) skip(n int) {
	if r.bad || n > len(r.b) {
		r.bad = true
		return
	}
	r.b = r.b[n:]
}

func (r *reader) u8() int {
	if r.bad || len(r.b) < 1 {
		r.bad = true
		return 0
	}
	v := int(r.b[0])
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() int {
	if r.bad || len(r.b) < 2 {
		r.bad = true
		return 0
	}
	v := int(r.b[0])<<8 | int(r.b[1])
	r.b = r.b[2:]
	return v
}

// vec returns the next n bytes as a sub-reader.
func (r *reader) vec(n int) reader {
	if r.bad || n > len(r.b) {
		r.bad = true
		return reader{bad: true}
	}
	v := reader{b: r.b[:n]}
	r.b = r.b[n:]
	return v
}

// parseHelloBody walks a ClientHello body (RFC 8446 §4.1.2) to the
// server_name extension.
func parseHelloBody(msg []byte) (Hello, error) {
	r := reader{b: msg}
	r.skip(2 + clientHelloRandomLen) // legacy_version, random
	sid := r.u8()
	if sid > clientHelloSessionMax {
		return Hello{}, errors.New("client hello: session id longer than 32 bytes")
	}
	r.skip(sid)
	suites := r.u16()
	if suites == 0 || suites%2 != 0 {
		r.bad = true
	}
	r.skip(suites)
	comp := r.u8()
	if comp == 0 {
		r.bad = true
	}
	r.skip(comp)
	if r.bad {
		return Hello{}, errors.New("client hello: truncated before extensions")
	}
	if len(r.b) == 0 {
		return Hello{}, nil // no extensions at all: no SNI
	}
	exts := r.vec(r.u16())
	if r.bad {
		return Hello{}, errors.New("client hello: extensions length exceeds the message")
	}
	for len(exts.b) > 0 {
		typ := exts.u16()
		data := exts.vec(exts.u16())
		if exts.bad {
			return Hello{}, errors.New("client hello: truncated extension")
		}
		if typ == extensionServerName {
			return parseServerName(data)
		}
	}
	return Hello{}, nil
}

// parseServerName reads the server_name extension (RFC 6066 §3) and returns
// its first host_name.
func parseServerName(r reader) (Hello, error) {
	list := r.vec(r.u16())
	if r.bad || len(r.b) != 0 {
		return Hello{}, errors.New("client hello: malformed server_name extension")
	}
	for len(list.b) > 0 {
		typ := list.u8()
		name := list.vec(list.u16())
		if list.bad {
			return Hello{}, errors.New("client hello: truncated server name")
		}
		if typ != serverNameTypeHost {
			continue
		}
		if len(name.b) == 0 || len(name.b) > maxServerNameLen {
			return Hello{}, fmt.Errorf("client hello: host name of %d bytes", len(name.b))
		}
		host, ok := cleanHost(name.b)
		if !ok {
			return Hello{}, errors.New("client hello: host name has characters a DNS name cannot hold")
		}
		return Hello{ServerName: host}, nil
	}
	return Hello{}, nil
}

// cleanHost lower-cases a host name and drops a trailing dot. It accepts
// letters, digits, '-', '_', '.' only: what a DNS name (or an IPv4 literal)
// can hold, so a forged name cannot smuggle separators into a lookup.
func cleanHost(b []byte) (string, bool) {
	for _, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return "", false
		}
	}
	s := strings.TrimSuffix(strings.ToLower(string(b)), ".")
	return s, s != ""
}
