package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"net/http"
	"slices"
	"time"
)

const (
	// formatVersion is the record encoding version written by this package.
	formatVersion byte = 1
	// attemptsOff and heldAtOff locate the fixed-width fields of a record.
	attemptsOff = 1
	heldAtOff   = 5
	// fixedLen is the size of the fixed-width prefix (version, attempts, heldAt).
	fixedLen = 13
	// crcLen is the size of the trailing checksum.
	crcLen = 4
	// minRecordLen is the smallest valid record: fixed prefix, six empty
	// strings, zero header keys, empty body and the checksum.
	minRecordLen = fixedLen + 6 + 1 + 1 + crcLen
)

// ErrCorrupt is matched (errors.Is) by every *CorruptError.
var ErrCorrupt = errors.New("spool: corrupt record")

// CorruptError reports a stored record that cannot be decoded. The record
// stays in the spool (it is never dropped silently); an operator can inspect
// and Remove it.
type CorruptError struct {
	Queue string // queue (bucket) holding the record
	Seq   uint64 // key of the record
	Err   error  // what was wrong
}

// Error names the queue and seq so the record can be found and removed.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("spool: corrupt record in queue %q seq %d: %v", e.Queue, e.Seq, e.Err)
}

// Unwrap returns the underlying decode error.
func (e *CorruptError) Unwrap() error { return e.Err }

// Is reports whether target is ErrCorrupt, so callers can test without errors.As.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// checksum is CRC-32C; the standard library caches the Castagnoli table.
func checksum(b []byte) uint32 {
	return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
}

// Size returns how many bytes the item counts against Options.MaxBytes: the
// length of its encoded record (body, headers and metadata).
func (it Item) Size() int {
	n := fixedLen + crcLen
	for _, s := range it.metaStrings() {
		n += strLen(len(s))
	}
	n += uvarintLen(uint64(len(it.Header)))
	for k, vs := range it.Header {
		n += strLen(len(k)) + uvarintLen(uint64(len(vs)))
		for _, v := range vs {
			n += strLen(len(v))
		}
	}
	return n + strLen(len(it.Body))
}

// metaStrings lists the string fields in encoding order.
func (it *Item) metaStrings() [6]string {
	return [6]string{it.Provider, it.Account, it.Record, it.Reason, it.Method, it.Path}
}

func strLen(n int) int { return uvarintLen(uint64(n)) + n }

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// encodeItem returns the version-1 record for it. Attempts must already be
// validated as fitting in a uint32.
func encodeItem(it *Item) []byte {
	buf := make([]byte, 0, it.Size())
	buf = append(buf, formatVersion)
	buf = binary.BigEndian.AppendUint32(buf, uint32(it.Attempts))
	buf = binary.BigEndian.AppendUint64(buf, uint64(it.HeldAt.UnixNano()))
	for _, s := range it.metaStrings() {
		buf = appendString(buf, s)
	}
	keys := make([]string, 0, len(it.Header))
	for k := range it.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	buf = binary.AppendUvarint(buf, uint64(len(keys)))
	for _, k := range keys {
		vs := it.Header[k]
		buf = appendString(buf, k)
		buf = binary.AppendUvarint(buf, uint64(len(vs)))
		for _, v := range vs {
			buf = appendString(buf, v)
		}
	}
	buf = binary.AppendUvarint(buf, uint64(len(it.Body)))
	buf = append(buf, it.Body...)
	return binary.BigEndian.AppendUint32(buf, checksum(buf))
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// verifyRecord checks length, checksum and version without decoding fields.
func verifyRecord(v []byte) error {
	if len(v) < minRecordLen {
		return fmt.Errorf("record is %d bytes, shorter than the minimum %d", len(v), minRecordLen)
	}
	body, sum := v[:len(v)-crcLen], binary.BigEndian.Uint32(v[len(v)-crcLen:])
	if got := checksum(body); got != sum {
		return fmt.Errorf("checksum mismatch: stored %08x, computed %08x", sum, got)
	}
	if v[0] != formatVersion {
		return fmt.Errorf("unsupported record version %d (want %d)", v[0], formatVersion)
	}
	return nil
}

// decodeItem parses a record. Everything returned is copied out of v, which
// may point into bbolt's read-only mmap. Queue and Seq are left for the caller.
func decodeItem(v []byte) (Item, error) {
	if err := verifyRecord(v); err != nil {
		return Item{}, err
	}
	it := Item{
		Attempts: int(binary.BigEndian.Uint32(v[attemptsOff:])),
		HeldAt:   time.Unix(0, int64(binary.BigEndian.Uint64(v[heldAtOff:]))),
	}
	r := reader{b: v[fixedLen : len(v)-crcLen]}
	for _, f := range []*string{&it.Provider, &it.Account, &it.Record, &it.Reason, &it.Method, &it.Path} {
		*f = string(r.bytes("string field"))
	}
	nkeys := r.count("header key count")
	it.Header = make(http.Header, nkeys)
	prev := ""
	for i := 0; i < nkeys && r.err == nil; i++ {
		k := string(r.bytes("header key"))
		if i > 0 && k <= prev && r.err == nil {
			r.err = fmt.Errorf("header key %d out of order or duplicated", i)
		}
		prev = k
		nvals := r.count("header value count")
		vals := make([]string, 0, nvals)
		for j := 0; j < nvals && r.err == nil; j++ {
			vals = append(vals, string(r.bytes("header value")))
		}
		it.Header[k] = vals
	}
	it.Body = slices.Clone(r.bytes("body"))
	if r.err == nil && r.off != len(r.b) {
		r.err = fmt.Errorf("%d trailing bytes after body", len(r.b)-r.off)
	}
	if r.err != nil {
		return Item{}, r.err
	}
	return it, nil
}

// reader walks a record, remembering the first error so decode stays linear.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	x, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.err = fmt.Errorf("bad uvarint for %s at offset %d", what, fixedLen+r.off)
		return 0
	}
	r.off += n
	return x
}

// count reads an element count and bounds it by the bytes left (every element
// takes at least one byte), so corrupt counts cannot force huge allocations.
func (r *reader) count(what string) int {
	x := r.uvarint(what)
	if r.err == nil && x > uint64(len(r.b)-r.off) {
		r.err = fmt.Errorf("%s %d exceeds the %d bytes left", what, x, len(r.b)-r.off)
		return 0
	}
	return int(x)
}

func (r *reader) bytes(what string) []byte {
	n := r.uvarint(what + " length")
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.off) || n > math.MaxInt32 {
		r.err = fmt.Errorf("%s length %d exceeds the %d bytes left", what, n, len(r.b)-r.off)
		return nil
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return s
}
