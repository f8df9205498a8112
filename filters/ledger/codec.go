package ledger

import (
	"encoding/binary"
	"errors"
	"time"
)

// Entry encoding, version 1, little endian:
//
//	version(1) lastWrite(8, unix ns) lastSeen(8) writeFP(8) nfields(uvarint)
//	per field: nameLen(uvarint) name flags(1: bit0 hasSeen) seen(8) npending(1) pending(8 each)
const codecVersion = 1

var errCorrupt = errors.New("ledger: corrupt entry")

func encodeState(dst []byte, st *State) []byte {
	dst = append(dst, codecVersion)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(unixNano(st.LastWrite)))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(unixNano(st.LastSeen)))
	dst = binary.LittleEndian.AppendUint64(dst, st.WriteFP)
	dst = binary.AppendUvarint(dst, uint64(len(st.Fields)))
	for _, f := range st.Fields {
		dst = binary.AppendUvarint(dst, uint64(len(f.Name)))
		dst = append(dst, f.Name...)
		var flags byte
		if f.HasSeen {
			flags = 1
		}
		dst = append(dst, flags)
		dst = binary.LittleEndian.AppendUint64(dst, f.Seen)
		dst = append(dst, byte(len(f.Pending)))
		for _, p := range f.Pending {
			dst = binary.LittleEndian.AppendUint64(dst, p)
		}
	}
	return dst
}

func decodeState(b []byte, st *State) error { return decodeStateNames(b, st, nil) }

// decodeStateNames decodes b into st, taking field names from names (nil:
// allocate them).
func decodeStateNames(b []byte, st *State, names *nameTable) error {
	if len(b) < 25 || b[0] != codecVersion {
		return errCorrupt
	}
	st.LastWrite = fromNano(int64(binary.LittleEndian.Uint64(b[1:])))
	st.LastSeen = fromNano(int64(binary.LittleEndian.Uint64(b[9:])))
	st.WriteFP = binary.LittleEndian.Uint64(b[17:])
	b = b[25:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > 1<<16 {
		return errCorrupt
	}
	b = b[k:]
	fields := st.Fields[:0]
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) || uint64(len(b)-k)-l < 10 { // no l+10: it may overflow
			return errCorrupt
		}
		b = b[k:]
		var f FieldState
		if len(fields) < cap(fields) {
			f = fields[:len(fields)+1][len(fields)]
		}
		if f.Name != string(b[:l]) { // a reused State usually holds the same names
			f.Name = names.intern(b[:l])
		}
		b = b[l:]
		f.HasSeen = b[0]&1 == 1
		f.Seen = binary.LittleEndian.Uint64(b[1:])
		np := int(b[9])
		b = b[10:]
		if np > MaxPending || len(b) < 8*np {
			return errCorrupt
		}
		f.Pending = f.Pending[:0]
		for i := 0; i < np; i++ {
			f.Pending = append(f.Pending, binary.LittleEndian.Uint64(b[8*i:]))
		}
		b = b[8*np:]
		fields = append(fields, f)
	}
	st.Fields = fields
	return nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
