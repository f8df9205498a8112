package redisstore

import (
	"errors"
	"strconv"
	"time"
)

const (
	// stampLen is the width of an encoded time (see encTime).
	stampLen = 20
	// signBit maps int64 order onto uint64 order (offset binary).
	signBit = uint64(1) << 63
)

var errCorrupt = errors.New("corrupt record")

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
