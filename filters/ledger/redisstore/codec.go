package redisstore

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loopguard/loopguard/filters/ledger"
)

const (
	// stampLen is the width of an encoded time (see encTime).
	stampLen = 20
	// hashBytes is the size of one stored value hash or fingerprint.
	hashBytes = 8
	// idBytes is how much of a SHA-256 names a key: 128 bits, so distinct
	// records never share a key in practice.
	idBytes = 16
	// Record hash fields.
	fieldWrite      = "w"
	fieldSeen       = "s"
	fieldFP         = "f"
	prefixPending   = "p:"
	prefixSeenValue = "v:"
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

// encHash is a value hash as the 8 little-endian bytes stored in Redis.
func encHash(h uint64) string {
	var b [hashBytes]byte
	binary.LittleEndian.PutUint64(b[:], h)
	return string(b[:])
}

// decHash reads 8 little-endian bytes without allocating.
func decHash(s string) uint64 {
	_ = s[hashBytes-1]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// decodeRecord fills st from a record hash, reusing st's slices. Fields
// come back sorted by name (a Redis hash has no stable order).
func decodeRecord(m map[string]string, st *ledger.State) error {
	resetState(st)
	for name, v := range m {
		switch {
		case name == fieldWrite || name == fieldSeen:
			t, err := decTime(v)
			if err != nil {
				return err
			}
			if name == fieldWrite {
				st.LastWrite = t
			} else {
				st.LastSeen = t
			}
		case name == fieldFP:
			if len(v) != hashBytes {
				return errCorrupt
			}
			st.WriteFP = decHash(v)
		case strings.HasPrefix(name, prefixPending):
			if len(v) == 0 || len(v)%hashBytes != 0 || len(v) > hashBytes*ledger.MaxPending {
				return errCorrupt
			}
			fs := fieldFor(st, name[len(prefixPending):])
			for i := 0; i < len(v); i += hashBytes {
				fs.Pending = append(fs.Pending, decHash(v[i:]))
			}
		case strings.HasPrefix(name, prefixSeenValue):
			if len(v) != hashBytes {
				return errCorrupt
			}
			fs := fieldFor(st, name[len(prefixSeenValue):])
			fs.Seen, fs.HasSeen = decHash(v), true
		default:
			return errCorrupt
		}
	}
	slices.SortFunc(st.Fields, func(a, b ledger.FieldState) int { return strings.Compare(a.Name, b.Name) })
	return nil
}

// resetState empties st, keeping its slices for reuse.
func resetState(st *ledger.State) {
	st.Fields = st.Fields[:0]
	st.LastWrite, st.LastSeen, st.WriteFP = time.Time{}, time.Time{}, 0
}

// fieldFor returns st's state of the named field, adding it (and reusing a
// previous Get's Pending slice) when absent.
func fieldFor(st *ledger.State, name string) *ledger.FieldState {
	if fs, ok := st.Field(name); ok {
		return fs
	}
	if n := len(st.Fields); n < cap(st.Fields) {
		st.Fields = st.Fields[:n+1]
		fs := &st.Fields[n]
		fs.Name, fs.Pending, fs.Seen, fs.HasSeen = name, fs.Pending[:0], 0, false
		return fs
	}
	st.Fields = append(st.Fields, ledger.FieldState{Name: name})
	return &st.Fields[len(st.Fields)-1]
}

// prune applies ledger.Memory's expiry rule (one implementation: State.Prune).
func prune(st *ledger.State, now time.Time, writeTTL, seenTTL time.Duration) {
	st.Prune(now, writeTTL, seenTTL)
}

// known reports whether a pruned state holds anything.
func known(st *ledger.State) bool {
	return len(st.Fields) > 0 || !st.LastWrite.IsZero() || !st.LastSeen.IsZero()
}
