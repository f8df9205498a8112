package proxy

import (
	"github.com/valyala/fasthttp"
)

// hopFields are the fields the native path drops before forwarding (as
// forwardDirect and ReverseProxy do: hop-by-hop, and the X-Forwarded-*
// and Forwarded fields it sets afresh), in the order it drops them.
var hopFields = [...]string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Expect"}

// hops is what forward reads of the provider's header before changing it,
// in one pass over the fields and without a map: what it read from
// nativeHeader's map before (Host and Transfer-Encoding are not in that
// map, so they are never present here).
type hops struct {
	// present: bit i is set when hopFields[i] is.
	present uint16
	// conn is the Connection values, joined by "," (their tokens name
	// more fields to drop); a copy, as the header changes while it is
	// read.
	conn []byte
	// teTrailers: a Te value names "trailers".
	teTrailers bool
	// userAgents counts the User-Agent values; userAgentEmpty is whether
	// the last one is empty.
	userAgents     int
	userAgentEmpty bool
}

// readHops reads rh's hop fields as nativeHeader's map gives them.
func readHops(rh *fasthttp.RequestHeader) hops {
	var h hops
	for k, v := range rh.All() {
		key := b2s(k)
		switch key {
		case "Host", "Transfer-Encoding":
			continue
		case "User-Agent":
			h.userAgents++
			h.userAgentEmpty = len(v) == 0
			continue
		case "Connection":
			if h.present&1 != 0 {
				h.conn = append(h.conn, ',')
			}
			h.conn = append(h.conn, v...)
		case "Te":
			h.teTrailers = h.teTrailers || hasToken([]string{b2s(v)}, "trailers")
		}
		if i := hopIndex(key); i >= 0 {
			h.present |= 1 << i
		}
	}
	return h
}

// hopIndex is key's index in hopFields, -1 when it is not one.
func hopIndex(key string) int {
	for i, f := range hopFields {
		if key == f {
			return i
		}
	}
	return -1
}

// isCanonicalKey is whether k is its own http.CanonicalHeaderKey: header
// token bytes only, each letter upper case at the start and after a '-',
// lower case elsewhere.
func isCanonicalKey(k []byte) bool {
	upper := true
	for _, b := range k {
		switch {
		case 'a' <= b && b <= 'z':
			if upper {
				return false
			}
		case 'A' <= b && b <= 'Z':
			if !upper {
				return false
			}
		case b == '-' || ('0' <= b && b <= '9') || validHeaderByte(b):
		default:
			return false
		}
		upper = b == '-'
	}
	return len(k) > 0
}
