package ledger

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"time"
)

// Entry encoding, version 4, little endian, absent values left out. Times
// of the local clock are Unix nanoseconds relative to one base (lastWrite,
// else 0) as zigzag varints; each field name is stored once per entry and
// referred to by its index; a written field whose hash is the app's value
// of that field refers to it instead of repeating the hash:
//
//	version(1) flags(1: bit0 lastWrite, bit1 lastSeen)
//	[lastWrite(8, unix ns): the base] [lastSeen(varint, minus base)]
//	nextSeq(uvarint)
//	napp(uvarint), per value: nameLen(uvarint) name hash(8) at(varint)
//	  (value i's name is name i)
//	nextra(uvarint), per name: nameLen(uvarint) name (names napp, napp+1, …)
//	nwrites(uvarint), per write: nextSeq-seq(uvarint, uint32 arithmetic) wflags(1: bit0 noop,
//	bit1 created, bit2 sentinel, bit3 shown, bit4 no time, bit5 rebased, bit6 contradicted, bit7 unproven) [at(varint, minus
//	base)] [nonce(8) fp(8)] providerAt(varint) written(uvarint)
//	nexpected(uvarint), per field: ref(uvarint: name index<<1 | 1 when the
//	hash is that of app value index) [hash(8) when ref&1 == 0]
//
// The encoding of 1 M typical records (one write of three fields) went from
// 111 to 67 bytes per record with it. Version 3 (see codec_v3.go) is still
// read: Redis ledgers persist across upgrades.
const codecVersion = 4

const (
	hasLastWrite = 1 << iota
	hasLastSeen
)

const (
	wNoOp = 1 << iota
	wCreated
	wSentinel
	wShown
	wNoTime       // version 4: the write has no time
	wRebased      // version 4: Version.Rebased
	wContradicted // version 4: Version.Contradicted
	wUnproven     // version 4: Version.Unproven
)

// maxEncodedFields bounds a decoded list (a corrupt entry must not make a
// huge allocation).
const maxEncodedFields = 1 << 12

// inlineNames is how many names past the app's an entry can hold without
// the encoder or decoder allocating for them.
const inlineNames = 8

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
	var base int64
	if flags&hasLastWrite != 0 {
		base = st.LastWrite.UnixNano()
		dst = binary.LittleEndian.AppendUint64(dst, uint64(base))
	}
	if flags&hasLastSeen != 0 {
		dst = binary.AppendVarint(dst, delta(st.LastSeen.UnixNano(), base))
	}
	dst = binary.AppendUvarint(dst, uint64(st.NextSeq))
	dst = binary.AppendUvarint(dst, uint64(len(st.App)))
	for _, v := range st.App {
		dst = appendName(dst, v.Name)
		dst = binary.LittleEndian.AppendUint64(dst, v.Hash)
		dst = binary.AppendVarint(dst, v.At)
	}
	var inline [inlineNames]string
	nf := nameFinder{app: st.App, extra: inline[:0]}
	for i := range st.Writes {
		nf.j = 0
		for _, f := range st.Writes[i].Expected {
			if _, ok := nf.find(f.Name); !ok {
				nf.extra = append(nf.extra, f.Name)
			}
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(nf.extra)))
	for _, n := range nf.extra {
		dst = appendName(dst, n)
	}
	dst = binary.AppendUvarint(dst, uint64(len(st.Writes)))
	for k := range st.Writes {
		w := &st.Writes[k]
		dst = binary.AppendUvarint(dst, uint64(st.NextSeq-w.Seq))
		wf := writeFlags(w)
		at := unixNano(w.At)
		if at == 0 {
			wf |= wNoTime
		}
		dst = append(dst, wf)
		if wf&wNoTime == 0 {
			dst = binary.AppendVarint(dst, delta(at, base))
		}
		if wf&wSentinel != 0 {
			dst = binary.LittleEndian.AppendUint64(dst, w.Nonce)
			dst = binary.LittleEndian.AppendUint64(dst, w.FP)
		}
		dst = binary.AppendVarint(dst, w.ProviderAt)
		dst = binary.AppendUvarint(dst, w.Written)
		dst = binary.AppendUvarint(dst, uint64(len(w.Expected)))
		nf.j = 0
		for _, f := range w.Expected {
			i, _ := nf.find(f.Name)
			if i < len(st.App) && st.App[i].Hash == f.Hash {
				dst = binary.AppendUvarint(dst, uint64(i)<<1|1)
				continue
			}
			dst = binary.AppendUvarint(dst, uint64(i)<<1)
			dst = binary.LittleEndian.AppendUint64(dst, f.Hash)
		}
	}
	return dst
}

// nameFinder finds the index of a name among the app's names followed by
// extra. A write's expected fields and the app's values are both sorted by
// name, so the names of one write are found in one merge walk (j; reset per
// write); a name the walk passes by is looked up in full, so unsorted lists
// only cost a name stored twice.
type nameFinder struct {
	app   []Value
	extra []string
	j     int
}

func (nf *nameFinder) find(name string) (int, bool) {
	for nf.j < len(nf.app) && nf.app[nf.j].Name < name {
		nf.j++
	}
	if nf.j < len(nf.app) && nf.app[nf.j].Name == name {
		return nf.j, true
	}
	if i, ok := slices.BinarySearchFunc(nf.app, name, func(v Value, n string) int { return strings.Compare(v.Name, n) }); ok {
		return i, true
	}
	if i := slices.Index(nf.extra, name); i >= 0 {
		return len(nf.app) + i, true
	}
	return 0, false
}

func writeFlags(w *Version) byte {
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
	if w.Rebased {
		wf |= wRebased
	}
	if w.Contradicted {
		wf |= wContradicted
	}
	if w.Unproven {
		wf |= wUnproven
	}
	return wf
}

// delta is t-base in wrapping arithmetic (exact for any two times).
func delta(t, base int64) int64 { return int64(uint64(t) - uint64(base)) }

// undelta reverses delta.
func undelta(d, base int64) int64 { return int64(uint64(base) + uint64(d)) }

func appendName(dst []byte, name string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(name)))
	return append(dst, name...)
}

// Decode decodes b into st (reusing its slices; field names are allocated).
func Decode(b []byte, st *State) error { return decodeStateNames(b, st, nil) }

// decodeStateNames decodes b (version 3 or 4) into st, taking field names
// from names (nil: allocate them).
func decodeStateNames(b []byte, st *State, names *nameTable) error {
	var err error
	switch {
	case len(b) < 2 || b[1]&^(hasLastWrite|hasLastSeen) != 0:
		err = errCorrupt
	case b[0] == codecVersion:
		err = decodeV4(&decoder{b: b[2:], names: names}, b[1], st)
	case b[0] == codecVersion3:
		err = decodeV3(&decoder{b: b[2:], names: names}, b[1], st)
	default:
		err = errCorrupt
	}
	if err != nil {
		st.Reset()
	}
	return err
}

func decodeV4(d *decoder, flags byte, st *State) error {
	var base int64
	st.LastWrite, st.LastSeen = time.Time{}, time.Time{}
	if flags&hasLastWrite != 0 {
		base = int64(d.u64())
		st.LastWrite = fromNano(base)
	}
	if flags&hasLastSeen != 0 {
		st.LastSeen = fromNano(undelta(d.varint(), base))
	}
	st.NextSeq = uint32(d.uvarint())
	n := d.count()
	app := st.App[:0]
	if cap(app) < n {
		app = make([]Value, 0, n) // one allocation, not one per doubling
	}
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
	var inline [inlineNames]string
	extra := inline[:0]
	for range d.count() {
		extra = append(extra, d.name(""))
	}
	n = d.count()
	ws := st.Writes[:0]
	if cap(ws) < n {
		ws = make([]Version, 0, n)
	}
	for range n {
		var w Version
		if len(ws) < cap(ws) {
			w = ws[:len(ws)+1][len(ws)]
		}
		back := d.uvarint() // nextSeq-seq in uint32 arithmetic, as encoded
		if back > math.MaxUint32 {
			d.bad = true
		}
		w.Seq = st.NextSeq - uint32(back)
		wf := d.byte1()
		w.NoOp, w.Created, w.Shown, w.Rebased, w.Contradicted, w.Unproven = wf&wNoOp != 0, wf&wCreated != 0, wf&wShown != 0, wf&wRebased != 0, wf&wContradicted != 0, wf&wUnproven != 0
		w.At = time.Time{}
		if wf&wNoTime == 0 {
			w.At = fromNano(undelta(d.varint(), base))
		}
		w.Nonce, w.FP = 0, 0
		if wf&wSentinel != 0 {
			w.Nonce, w.FP = d.u64(), d.u64()
		}
		w.ProviderAt = d.varint()
		w.Written = d.uvarint()
		m := d.count()
		exp := w.Expected[:0]
		for range m {
			ref := d.uvarint()
			i := ref >> 1
			var f Field
			switch {
			case ref&1 != 0 && i < uint64(len(app)):
				f = Field{Name: app[i].Name, Hash: app[i].Hash}
			case ref&1 != 0:
				d.bad = true
			case i < uint64(len(app)):
				f = Field{Name: app[i].Name, Hash: d.u64()}
			case i-uint64(len(app)) < uint64(len(extra)):
				f = Field{Name: extra[i-uint64(len(app))], Hash: d.u64()}
			default:
				d.bad = true
			}
			exp = append(exp, f)
		}
		w.Expected = exp
		ws = append(ws, w)
	}
	st.Writes = ws
	if d.bad || len(d.b) != 0 {
		return errCorrupt
	}
	return nil
}

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
