package redisstore

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"time"
)

const (
	// stampLen is the width of an encoded time (see encTime).
	stampLen = 20
	// idBytes is how much of a SHA-256 names a key: 128 bits, so distinct
	// records never share a key in practice.
	idBytes = 16
	// signBit maps int64 order onto uint64 order (offset binary).
	signBit = uint64(1) << 63
)

var errCorrupt = errors.New("corrupt record")

// HashID returns the key-safe digest of s: base64url of the first 128 bits
// of its SHA-256. Record keys and event ids are stored only in this form,
// so account and record identifiers never appear in Redis key names.
func HashID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:idBytes])
}

// encTime encodes t as a 20-digit decimal of its Unix nanoseconds in offset
// binary, so that string order is time order (for the Lua scripts) and the
// zero time sorts first (it reads as "never", i.e. already expired).
func encTime(t time.Time) string {
	var u uint64
	if !t.IsZero() {
		u = uint64(t.UnixNano()) ^ signBit
	}
	var digits, out [stampLen]byte
	d := strconv.AppendUint(digits[:0], u, 10)
	for i := range stampLen - len(d) {
		out[i] = '0'
	}
	copy(out[stampLen-len(d):], d)
	return string(out[:])
}

// decTime reverses encTime.
func decTime(s string) (time.Time, error) {
	if len(s) != stampLen {
		return time.Time{}, errCorrupt
	}
	u, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return time.Time{}, errCorrupt
	}
	if u == 0 {
		return time.Time{}, nil
	}
	return time.Unix(0, int64(u^signBit)), nil
}
