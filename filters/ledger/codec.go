package ledger

import (
	"encoding/binary"
	"errors"
	"time"
)

// Entry encoding, version 2, little endian, absent values left out (an
// entry is about 40% smaller than with fixed slots, which matters at a
// million records):
//
//	version(1) flags(1: bit0 lastWrite, bit1 lastSeen, bit2 writeFP present)
//	[lastWrite(8, unix ns)] [lastSeen(8)] [writeFP(8)] nfields(uvarint)
//	per field: nameLen(uvarint) name fieldFlags(1: bit0 hasSeen, bits 1-3
//	npending) [seen(8)] pending(8 each)
const codecVersion = 2

const (
	hasLastWrite = 1 << iota
	hasLastSeen
	hasWriteFP
)

var errCorrupt = errors.New("ledger: corrupt entry")

func encodeState(dst []byte, st *State) []byte {
	var flags byte
	if !st.LastWrite.IsZero() {
		flags |= hasLastWrite
	}
	if !st.LastSeen.IsZero() {
		flags |= hasLastSeen
	}
	if st.WriteFP != 0 {
		flags |= hasWriteFP
	}
	dst = append(dst, codecVersion, flags)
	if flags&hasLastWrite != 0 {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(st.LastWrite.UnixNano()))
	}
	if flags&hasLastSeen != 0 {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(st.LastSeen.UnixNano()))
	}
	if flags&hasWriteFP != 0 {
		dst = binary.LittleEndian.AppendUint64(dst, st.WriteFP)
	}
	dst = binary.AppendUvarint(dst, uint64(len(st.Fields)))
	for _, f := range st.Fields {
		dst = binary.AppendUvarint(dst, uint64(len(f.Name)))
		dst = append(dst, f.Name...)
		ff := byte(len(f.Pending)) << 1
		if f.HasSeen {
			ff |= 1
		}
		dst = append(dst, ff)
		if f.HasSeen {
			dst = binary.LittleEndian.AppendUint64(dst, f.Seen)
		}
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
	if len(b) < 2 || b[0] != codecVersion || b[1]&^(hasLastWrite|hasLastSeen|hasWriteFP) != 0 {
		return errCorrupt
	}
	flags := b[1]
	b = b[2:]
	word := func(present bool) (uint64, bool) {
		if !present {
			return 0, true
		}
		if len(b) < 8 {
			return 0, false
		}
		v := binary.LittleEndian.Uint64(b)
		b = b[8:]
		return v, true
	}
	lw, ok1 := word(flags&hasLastWrite != 0)
	ls, ok2 := word(flags&hasLastSeen != 0)
	fp, ok3 := word(flags&hasWriteFP != 0)
	if !ok1 || !ok2 || !ok3 {
		return errCorrupt
	}
	st.LastWrite, st.LastSeen, st.WriteFP = fromNano(int64(lw)), fromNano(int64(ls)), fp
	n, k := binary.Uvarint(b)
	if k <= 0 || n > 1<<16 {
		return errCorrupt
	}
	b = b[k:]
	fields := st.Fields[:0]
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) || uint64(len(b)-k)-l < 1 { // no l+1: it may overflow
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
		ff := b[0]
		b = b[1:]
		np := int(ff >> 1)
		f.HasSeen, f.Seen = ff&1 == 1, 0
		if ff>>4 != 0 || np > MaxPending {
			return errCorrupt
		}
		if f.HasSeen {
			if len(b) < 8 {
				return errCorrupt
			}
			f.Seen = binary.LittleEndian.Uint64(b)
			b = b[8:]
		}
		if len(b) < 8*np {
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
