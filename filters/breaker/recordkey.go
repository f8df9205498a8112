package breaker

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadRecordKey is wrapped by every ParseRecordKey error, so the admin API
// can tell bad input (400) from other failures with errors.Is.
var ErrBadRecordKey = errors.New("invalid record key")

// maxRecordKeyQuote bounds how much of a bad key an error message quotes.
const maxRecordKeyQuote = 200

// RecordKey identifies one record at one account of a provider.
type RecordKey struct {
	// Provider is the configured provider name.
	Provider string
	// Account is the provider-side account; may be empty for providers
	// without accounts.
	Account string
	// Object is the object type ("contacts", "deals"); may be empty when
	// record ids are global.
	Object string
	// Record is the record id.
	Record string
}

// String returns "provider/account/object/record", the admin API's key.
// '%' and '/' inside a part are percent-encoded ("%25", "%2F") so that
// ParseRecordKey can always split it back.
func (k RecordKey) String() string {
	return escapePart(k.Provider) + "/" + escapePart(k.Account) + "/" +
		escapePart(k.Object) + "/" + escapePart(k.Record)
}

// ParseRecordKey parses the String form of a RecordKey. It needs exactly
// four '/'-separated parts with a non-empty provider and record, and valid
// percent-escapes.
func ParseRecordKey(s string) (RecordKey, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 4 {
		return RecordKey{}, badKey(s, fmt.Sprintf("want 4 '/'-separated parts, got %d", len(parts)))
	}
	names := [4]string{"provider", "account", "object", "record"}
	var out [4]string
	for i, p := range parts {
		v, err := unescapePart(p)
		if err != nil {
			return RecordKey{}, badKey(s, fmt.Sprintf("%s part: %v", names[i], err))
		}
		out[i] = v
	}
	if out[0] == "" {
		return RecordKey{}, badKey(s, "empty provider")
	}
	if out[3] == "" {
		return RecordKey{}, badKey(s, "empty record")
	}
	return RecordKey{Provider: out[0], Account: out[1], Object: out[2], Record: out[3]}, nil
}

// badKey builds a ParseRecordKey error quoting (a prefix of) the input.
func badKey(s, why string) error {
	if len(s) > maxRecordKeyQuote {
		s = s[:maxRecordKeyQuote] + "..."
	}
	return fmt.Errorf("breaker: parse record key %q: %s: %w", s, why, ErrBadRecordKey)
}

// escapePart percent-encodes '%' and '/'; other bytes are kept.
func escapePart(s string) string {
	if !strings.ContainsAny(s, "%/") {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '%':
			sb.WriteString("%25")
		case '/':
			sb.WriteString("%2F")
		default:
			sb.WriteByte(s[i])
		}
	}
	return sb.String()
}

// unescapePart decodes %XX escapes (any hex byte).
func unescapePart(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var sb strings.Builder
	sb.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			sb.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("truncated escape at byte %d", i)
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("bad escape %q at byte %d", s[i:i+3], i)
		}
		sb.WriteByte(hi<<4 | lo)
		i += 2
	}
	return sb.String(), nil
}

// unhex decodes one hex digit.
func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
