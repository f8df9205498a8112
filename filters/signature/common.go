package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"time"
)

// keyed carries what every scheme shares: its name and HMAC key. Its
// String and GoString methods are promoted to the schemes that embed it so
// that printing a Scheme with any fmt verb never reveals the key.
type keyed struct {
	name string
	key  []byte
}

// Name returns the configured scheme name, e.g. "stripe".
func (k *keyed) Name() string { return k.name }

// String returns a description without the secret, so schemes are safe to log.
func (k *keyed) String() string { return "signature.Scheme(" + k.name + ")" }

// GoString keeps %#v from dumping the key bytes.
func (k *keyed) GoString() string { return k.String() }

// mac returns a fresh HMAC-SHA256 keyed with the scheme secret.
func (k *keyed) mac() hash.Hash { return hmac.New(sha256.New, k.key) }

// verifyErr builds a Verify error naming the scheme and what failed; detail
// must never contain the secret or an expected signature.
func (k *keyed) verifyErr(detail string, sentinel error) error {
	return fmt.Errorf("signature %s: verify: %s: %w", k.name, detail, sentinel)
}

// signErr builds a Sign error naming the scheme and what failed.
func (k *keyed) signErr(detail string) error {
	return fmt.Errorf("signature %s: sign: %s", k.name, detail)
}

// encoding is how a raw HMAC digest is written into a header.
type encoding int

const (
	encHex encoding = iota
	encBase64
)

// String names the encoding as Config.Encoding spells it.
func (e encoding) String() string {
	if e == encBase64 {
		return "base64"
	}
	return "hex"
}

// encode renders a digest in the encoding (lower-case hex, padded std base64).
func (e encoding) encode(sum []byte) string {
	if e == encBase64 {
		return base64.StdEncoding.EncodeToString(sum)
	}
	return hex.EncodeToString(sum)
}

// decodeDigest decodes s into a SHA-256 sized digest. It fails (the caller
// wraps ErrMalformed) on bad characters or a length other than 32 bytes.
// Hex is accepted in either case.
func (e encoding) decodeDigest(s string, dst *[sha256.Size]byte) error {
	switch e {
	case encBase64:
		if base64.StdEncoding.DecodedLen(len(s)) > sha256.Size+2 {
			return fmt.Errorf("%d base64 characters, want %d", len(s), base64.StdEncoding.EncodedLen(sha256.Size))
		}
		var buf [sha256.Size + 2]byte
		n, err := base64.StdEncoding.Decode(buf[:], []byte(s))
		if err != nil {
			return fmt.Errorf("invalid base64: %v", err)
		}
		if n != sha256.Size {
			return fmt.Errorf("decoded %d bytes, want %d", n, sha256.Size)
		}
		copy(dst[:], buf[:n])
	default:
		if len(s) != hex.EncodedLen(sha256.Size) {
			return fmt.Errorf("%d hex characters, want %d", len(s), hex.EncodedLen(sha256.Size))
		}
		if _, err := hex.Decode(dst[:], []byte(s)); err != nil {
			return fmt.Errorf("invalid hex: %v", err)
		}
	}
	return nil
}

// singleHeader returns the one non-empty value of header name. An absent or
// empty header wraps ErrMissing; several values wrap ErrMalformed, because a
// delivery with two signatures is ambiguous and providers send one.
func singleHeader(h http.Header, name string) (string, error) {
	vals := h.Values(name)
	switch {
	case len(vals) == 0 || (len(vals) == 1 && vals[0] == ""):
		return "", fmt.Errorf("header %s: %w", name, ErrMissing)
	case len(vals) > 1:
		return "", fmt.Errorf("header %s: %d values, want 1: %w", name, len(vals), ErrMalformed)
	}
	return vals[0], nil
}

// existingHeader returns the first non-empty value of name in h (nil-safe);
// Sign uses it to reuse a delivery's timestamp.
func existingHeader(h http.Header, name string) (string, bool) {
	if h == nil {
		return "", false
	}
	v := h.Get(name)
	return v, v != ""
}

// checkAge returns ErrExpired (wrapped) when ts is older than tolerance at
// now. tolerance <= 0 disables the check. Timestamps in the future are
// accepted: they are covered by the HMAC, so only the provider can set them.
func checkAge(ts, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		return nil
	}
	if age := now.Sub(ts); age > tolerance {
		return fmt.Errorf("timestamp %s is %s old, tolerance %s: %w",
			ts.UTC().Format(time.RFC3339), age.Truncate(time.Second), tolerance, ErrExpired)
	}
	return nil
}

// tsFormat is how a scheme's timestamp header is written.
type tsFormat int

const (
	tsUnix    tsFormat = iota // decimal seconds since the epoch
	tsUnixMS                  // decimal milliseconds since the epoch
	tsRFC3339                 // ISO-8601 / RFC 3339, e.g. 2021-07-25T10:00:00Z
)

// Timestamp format names accepted in Config.TimestampFormat.
const (
	TimestampUnix    = "unix"
	TimestampUnixMS  = "unix-ms"
	TimestampRFC3339 = "rfc3339"
)

// parse reads a header timestamp; errors are wrapped with ErrMalformed by the caller.
func (f tsFormat) parse(s string) (time.Time, error) {
	switch f {
	case tsRFC3339:
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("timestamp %q is not RFC 3339", s)
		}
		return t, nil
	default:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("timestamp %q is not a non-negative integer", s)
		}
		if f == tsUnixMS {
			return time.UnixMilli(n), nil
		}
		return time.Unix(n, 0), nil
	}
}

// format writes now the way the provider would.
func (f tsFormat) format(now time.Time) string {
	switch f {
	case tsRFC3339:
		return now.UTC().Format(time.RFC3339)
	case tsUnixMS:
		return strconv.FormatInt(now.UnixMilli(), 10)
	default:
		return strconv.FormatInt(now.Unix(), 10)
	}
}
