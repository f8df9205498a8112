package transparent

import (
	"bytes"
	"errors"
	"net"
	"strings"
)

// maxMethodLen bounds the request method a sniffer waits for; the longest
// registered method is well under it.
const maxMethodLen = 24

// ParseHTTPHost reads the host an HTTP/1.x request is for from the first
// bytes a client sent: the authority of an absolute-form target, else the
// Host header. It returns ErrIncomplete while neither is known and the head
// is not complete, ErrNotHTTP when the bytes do not start a request line,
// and ("", nil) for a complete head without a host (HTTP/1.0). The host is
// lower-cased, without port or trailing dot.
func ParseHTTPHost(b []byte) (string, error) {
	line, rest, ok := cutLine(b)
	if !ok {
		if !plausibleRequestStart(b) {
			return "", ErrNotHTTP
		}
		return "", ErrIncomplete
	}
	target, ok := requestTarget(line)
	if !ok {
		return "", ErrNotHTTP
	}
	if h, ok := absoluteHost(target); ok {
		return h, nil
	}
	for {
		line, next, ok := cutLine(rest)
		if !ok {
			return "", ErrIncomplete
		}
		if len(line) == 0 {
			return "", nil // end of head: no Host
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if found && strings.EqualFold(string(name), "host") {
			h, ok := hostOnly(string(bytes.TrimSpace(value)))
			if !ok {
				return "", errors.New("http: malformed Host header")
			}
			return h, nil
		}
		rest = next
	}
}

// cutLine splits off one line ending in LF (CRLF or a bare LF, as net/http
// tolerates).
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, b, false
	}
	return bytes.TrimSuffix(b[:i], []byte("\r")), b[i+1:], true
}

// plausibleRequestStart reports whether b can still become a request line:
// a method token (upper-case letters) then, if present, a space.
func plausibleRequestStart(b []byte) bool {
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			if i >= maxMethodLen {
				return false
			}
		case c == ' ':
			return i > 0
		default:
			return false
		}
	}
	return true
}

// requestTarget checks "METHOD SP target SP HTTP/1.x" and returns target.
func requestTarget(line []byte) (string, bool) {
	method, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(method) == 0 || len(method) > maxMethodLen || !plausibleRequestStart(method) {
		return "", false
	}
	target, proto, ok := bytes.Cut(rest, []byte(" "))
	if !ok || len(target) == 0 || !bytes.HasPrefix(proto, []byte("HTTP/1.")) {
		return "", false
	}
	return string(target), true
}

// absoluteHost returns the host of an absolute-form target
// ("http://host:port/path").
func absoluteHost(target string) (string, bool) {
	i := strings.Index(target, "://")
	if i <= 0 || strings.HasPrefix(target, "/") {
		return "", false
	}
	auth := target[i+3:]
	if j := strings.IndexAny(auth, "/?#"); j >= 0 {
		auth = auth[:j]
	}
	if k := strings.LastIndexByte(auth, '@'); k >= 0 {
		auth = auth[k+1:]
	}
	return hostOnly(auth)
}

// hostOnly strips a port and brackets from an authority and cleans the host.
func hostOnly(auth string) (string, bool) {
	if auth == "" {
		return "", false
	}
	h := auth
	if sh, _, err := net.SplitHostPort(auth); err == nil {
		h = sh
	}
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if strings.Contains(h, ":") { // an IPv6 literal: never a provider host name
		return strings.ToLower(h), net.ParseIP(h) != nil
	}
	return cleanHost([]byte(h))
}
