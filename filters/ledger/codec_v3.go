package ledger

import "time"

// Entry encoding, version 3 (the first of the ordered history; written
// until version 4, still read), little endian, absent values left out:
//
//	version(1) flags(1: bit0 lastWrite, bit1 lastSeen)
//	[lastWrite(8, unix ns)] [lastSeen(8)] nextSeq(uvarint)
//	napp(uvarint), per value: nameLen(uvarint) name hash(8) at(varint)
//	nwrites(uvarint), per write: seq(uvarint) at(8) wflags(1: bit0 noop,
//	bit1 created, bit2 sentinel, bit3 shown) [nonce(8) fp(8)] providerAt(varint)
//	written(uvarint)
//	nexpected(uvarint), per field: nameLen(uvarint) name hash(8)
const codecVersion3 = 3

// decodeV3 decodes the body of a version-3 entry (after version and flags).
func decodeV3(d *decoder, flags byte, st *State) error {
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
		return errCorrupt
	}
	return nil
}
