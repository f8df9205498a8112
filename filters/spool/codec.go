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
	// formatVersion is the file format version kept in the meta bucket; it
	// did not change when records gained a version 2 (new records are
	// version 2, version-1 records of older files still read).
	formatVersion byte = 1
	// recordV1 is the record encoding of earlier releases (no
	// verification: read as VerifyUnknown); recordV2 is written now.
	recordV1 byte = 1
	recordV2 byte = 2
	// attemptsOff, heldAtOff and verifyOff locate the fixed-width fields of
	// a record (verifyOff in version 2 only).
	attemptsOff = 1
	heldAtOff   = 5
	verifyOff   = 13
	// fixedLenV1 and fixedLen are the sizes of the fixed-width prefix of a
	// version-1 record (version, attempts, heldAt) and a version-2 record
	// (… and verification).
	fixedLenV1 = 13
	fixedLen   = 14
	// crcLen is the size of the trailing checksum.
	crcLen = 4
	// minRecordLen is the smallest valid record of any version: the
	// version-1 fixed prefix, six empty strings, zero header keys, empty
	// body and the checksum.
	minRecordLen = fixedLenV1 + 6 + 1 + 1 + crcLen
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

// encodeItem returns the version-2 record for it. Attempts must already be
// validated as fitting in a uint32.
func encodeItem(it *Item) []byte {
	buf := make([]byte, 0, it.Size())
	buf = append(buf, recordV2)
	buf = binary.BigEndian.AppendUint32(buf, uint32(it.Attempts))
	buf = binary.BigEndian.AppendUint64(buf, uint64(it.HeldAt.UnixNano()))
	buf = append(buf, byte(it.Verification))
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
	switch {
	case v[0] != recordV1 && v[0] != recordV2:
		return fmt.Errorf("unsupported record version %d (want %d or %d)", v[0], recordV1, recordV2)
	case v[0] == recordV2 && len(v) < minRecordLen+1:
		return fmt.Errorf("version-2 record is %d bytes, shorter than the minimum %d", len(v), minRecordLen+1)
	case v[0] == recordV2 && Verification(v[verifyOff]) > maxVerification:
		return fmt.Errorf("unknown verification %d", v[verifyOff])
	}
	return nil
}

// prefixLen is the fixed-width prefix length of a checked record.
func prefixLen(v []byte) int {
	if v[0] == recordV1 {
		return fixedLenV1
	}
	return fixedLen
}

// recordTrust is the verification a checked record was held with; a
// version-1 record reads as VerifyUnknown.
func recordTrust(v []byte) Verification {
	if v[0] == recordV1 {
		return VerifyUnknown
	}
	return Verification(v[verifyOff])
}

// countedUntrusted reports whether a checked record counts against the
// unverified budget: version-2 records that are not trusted. Version-1
// records were counted in the main budget when they were held and stay
// there, although they replay as unverified.
func countedUntrusted(v []byte) bool {
	return v[0] == recordV2 && !Verification(v[verifyOff]).Trusted()
}

// decodeItem parses a record. Everything returned is copied out of v, which
// may point into bbolt's read-only mmap. Queue and Seq are left for the caller.
func decodeItem(v []byte) (Item, error) {
	if err := verifyRecord(v); err != nil {
		return Item{}, err
	}
	return decodeRecord(v, true)
}

// decodeRecord parses a checked record; without body it does not copy the
// body (listings), leaving Body nil.
func decodeRecord(v []byte, body bool) (Item, error) {
	it := Item{
		Attempts:     int(binary.BigEndian.Uint32(v[attemptsOff:])),
		HeldAt:       time.Unix(0, int64(binary.BigEndian.Uint64(v[heldAtOff:]))),
		Verification: recordTrust(v),
	}
	r := reader{b: v[prefixLen(v) : len(v)-crcLen]}
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
	b := r.bytes("body")
	if body {
		it.Body = slices.Clone(b)
	}
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
		r.err = fmt.Errorf("bad uvarint for %s at offset %d of the fields", what, r.off)
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
