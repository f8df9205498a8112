package signature

import (
	"fmt"
	"hash"
	"strings"
)

// Placeholders understood in Config.Payload.
const (
	placeholderTimestamp = "{timestamp}"
	placeholderBody      = "{body}"
	// DefaultPayload is the generic signed payload when a timestamp header
	// is configured: the timestamp immediately followed by the body.
	DefaultPayload = placeholderTimestamp + placeholderBody
)

// segKind tells what a payload segment contributes to the HMAC input.
type segKind int

const (
	segLiteral segKind = iota
	segTimestamp
	segBody
)

// segment is one piece of a parsed payload template.
type segment struct {
	kind segKind
	lit  string
}

// payload is a parsed template such as "{timestamp}.{body}".
type payload []segment

// parsePayload validates tmpl: exactly one {body}, exactly one {timestamp}
// (an unsigned timestamp would defeat the tolerance check) and no other
// braces, which are almost certainly a misspelt placeholder.
func parsePayload(tmpl string) (payload, error) {
	var p payload
	var bodies, stamps int
	rest := tmpl
	for rest != "" {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			i = len(rest)
		}
		if i > 0 {
			lit := rest[:i]
			if strings.ContainsRune(lit, '}') {
				return nil, fmt.Errorf("payload %q: stray '}'", tmpl)
			}
			p = append(p, segment{kind: segLiteral, lit: lit})
			rest = rest[i:]
			continue
		}
		switch {
		case strings.HasPrefix(rest, placeholderTimestamp):
			p = append(p, segment{kind: segTimestamp})
			stamps++
			rest = rest[len(placeholderTimestamp):]
		case strings.HasPrefix(rest, placeholderBody):
			p = append(p, segment{kind: segBody})
			bodies++
			rest = rest[len(placeholderBody):]
		default:
			return nil, fmt.Errorf("payload %q: unknown placeholder at %q (want %s or %s)",
				tmpl, rest, placeholderTimestamp, placeholderBody)
		}
	}
	if bodies != 1 || stamps != 1 {
		return nil, fmt.Errorf("payload %q: want exactly one %s and one %s, got %d and %d",
			tmpl, placeholderBody, placeholderTimestamp, bodies, stamps)
	}
	return p, nil
}

// write feeds the payload for (ts, body) into h without building a copy of
// the body.
func (p payload) write(h hash.Hash, ts string, body []byte) {
	for _, s := range p {
		switch s.kind {
		case segLiteral:
			h.Write([]byte(s.lit))
		case segTimestamp:
			h.Write([]byte(ts))
		case segBody:
			h.Write(body)
		}
	}
}
