package ledger

import (
	"encoding/binary"
	"errors"
	"time"
)

// Entry encoding, version 3 (the ordered history), little endian, absent
// values left out:
//
//	version(1) flags(1: bit0 lastWrite, bit1 lastSeen)
//	[lastWrite(8, unix ns)] [lastSeen(8)] nextSeq(uvarint)
//	napp(uvarint), per value: nameLen(uvarint) name hash(8) at(varint)
//	nwrites(uvarint), per write: seq(uvarint) at(8) wflags(1: bit0 noop,
//	bit1 created, bit2 sentinel, bit3 shown) [nonce(8) fp(8)] providerAt(varint)
//	written(uvarint)
//	nexpected(uvarint), per field: nameLen(uvarint) name hash(8)
const codecVersion = 3

const (
	hasLastWrite = 1 << iota
	hasLastSeen
)

const (
	wNoOp = 1 << iota
	wCreated
	wSentinel
	wShown
)

// maxEncodedFields bounds a decoded list (a corrupt entry must not make a
// huge allocation).
const maxEncodedFields = 1 << 12

var errCorrupt = errors.New("ledger: corrupt entry")

// Encode appends the encoding of st to dst (shared by every store).
func Encode(dst []byte, st *State) []byte {
	var flags byte
	if !st.LastWrite.IsZero() {
		flags |= hasLastWrite
	}
	if !st.LastSeen.IsZero() {
		flags |= hasLastSeen
	}
	dst = append(dst, codecVersion, flags)
	if flags&hasLastWrite != 0 {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(st.LastWrite.UnixNano()))
	}
	if flags&hasLastSeen != 0 {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(st.LastSeen.UnixNano()))
	}
	dst = binary.AppendUvarint(dst, uint64(st.NextSeq))
	dst = binary.AppendUvarint(dst, uint64(len(st.App)))
	for _, v := range st.App {
		dst = appendName(dst, v.Name)
		dst = binary.LittleEndian.AppendUint64(dst, v.Hash)
		dst = binary.AppendVarint(dst, v.At)
	}
	dst = binary.AppendUvarint(dst, uint64(len(st.Writes)))
	for _, w := range st.Writes {
		dst = binary.AppendUvarint(dst, uint64(w.Seq))
		dst = binary.LittleEndian.AppendUint64(dst, uint64(unixNano(w.At)))
		var wf byte
		if w.NoOp {
			wf |= wNoOp
		}
		if w.Created {
			wf |= wCreated
		}
		if w.Nonce != 0 {
			wf |= wSentinel
		}
		if w.Shown {
			wf |= wShown
		}
		dst = append(dst, wf)
		if wf&wSentinel != 0 {
			dst = binary.LittleEndian.AppendUint64(dst, w.Nonce)
			dst = binary.LittleEndian.AppendUint64(dst, w.FP)
		}
		dst = binary.AppendVarint(dst, w.ProviderAt)
		dst = binary.AppendUvarint(dst, w.Written)
		dst = binary.AppendUvarint(dst, uint64(len(w.Expected)))
		for _, f := range w.Expected {
			dst = appendName(dst, f.Name)
			dst = binary.LittleEndian.AppendUint64(dst, f.Hash)
		}
	}
	return dst
}

func appendName(dst []byte, name string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(name)))
	return append(dst, name...)
}

// Decode decodes b into st (reusing its slices; field names are allocated).
func Decode(b []byte, st *State) error { return decodeStateNames(b, st, nil) }

// decoder reads an entry.
type decoder struct {
	b     []byte
	bad   bool
	names *nameTable
}

func (d *decoder) uvarint() uint64 {
	v, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *decoder) varint() int64 {
	v, k := binary.Varint(d.b)
	if k <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *decoder) u64() uint64 {
	if len(d.b) < 8 {
		d.bad = true
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) byte1() byte {
	if len(d.b) < 1 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) count() int {
	n := d.uvarint()
	if n > maxEncodedFields || n > uint64(len(d.b)) {
		d.bad = true
		return 0
	}
	return int(n)
}

// name reads a field name; old is the name already in the reused slot (a
// reused State usually holds the same names, so nothing is allocated).
func (d *decoder) name(old string) string {
	l := d.uvarint()
	if d.bad || l > uint64(len(d.b)) {
		d.bad = true
		return ""
	}
	nb := d.b[:l]
	d.b = d.b[l:]
	if old == string(nb) {
		return old
	}
	return d.names.intern(nb)
}

// decodeStateNames decodes b into st, taking field names from names (nil:
// allocate them).
func decodeStateNames(b []byte, st *State, names *nameTable) error {
	if len(b) < 2 || b[0] != codecVersion || b[1]&^(hasLastWrite|hasLastSeen) != 0 {
		st.Reset()
		return errCorrupt
	}
	flags := b[1]
	d := decoder{b: b[2:], names: names}
	st.LastWrite, st.LastSeen = time.Time{}, time.Time{}
	if flags&hasLastWrite != 0 {
		st.LastWrite = fromNano(int64(d.u64()))
	}
	if flags&hasLastSeen != 0 {
		st.LastSeen = fromNano(int64(d.u64()))
	}
	st.NextSeq = uint32(d.uvarint())
	n := d.count()
	app := st.App[:0]
	for range n {
		var v Value
		if len(app) < cap(app) {
			v = app[:len(app)+1][len(app)]
		}
		v.Name = d.name(v.Name)
		v.Hash = d.u64()
		v.At = d.varint()
		app = append(app, v)
	}
	st.App = app
	n = d.count()
	ws := st.Writes[:0]
	for range n {
		var w Version
		if len(ws) < cap(ws) {
			w = ws[:len(ws)+1][len(ws)]
		}
		w.Seq = uint32(d.uvarint())
		w.At = fromNano(int64(d.u64()))
		wf := d.byte1()
		w.NoOp, w.Created, w.Shown = wf&wNoOp != 0, wf&wCreated != 0, wf&wShown != 0
		w.Nonce, w.FP = 0, 0
		if wf&wSentinel != 0 {
			w.Nonce, w.FP = d.u64(), d.u64()
		}
		w.ProviderAt = d.varint()
		w.Written = d.uvarint()
		m := d.count()
		exp := w.Expected[:0]
		for range m {
			var f Field
			if len(exp) < cap(exp) {
				f = exp[:len(exp)+1][len(exp)]
			}
			f.Name = d.name(f.Name)
			f.Hash = d.u64()
			exp = append(exp, f)
		}
		w.Expected = exp
		ws = append(ws, w)
	}
	st.Writes = ws
	if d.bad || len(d.b) != 0 {
		st.Reset()
		return errCorrupt
	}
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
