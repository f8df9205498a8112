package redisq

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loopguard/loopguard/filters/spool"
)

// Stream entry fields of one held item. Queue and Seq are not stored: they
// are the stream and the entry id. Attempts and the accounted size live in
// the queue's info hash so MarkAttempt can change them (entries are
// immutable).
const (
	fieldHeldAt   = "t" // Unix ns, decimal
	fieldProvider = "p"
	fieldAccount  = "a"
	fieldRecord   = "r"
	fieldReason   = "w"
	fieldMethod   = "m"
	fieldPath     = "u"
	fieldHeader   = "h" // see encodeHeader
	fieldBody     = "b"
	fieldVerify   = "v" // spool.Verification, decimal; absent in entries of earlier releases
	// entryFields is the number of fields of one entry; entries held by
	// earlier releases have entryFieldsV1 (no verification: read as
	// spool.VerifyUnknown, treated as unverified).
	entryFields   = 10
	entryFieldsV1 = 9
)

// validate reports the first problem with an item about to be appended,
// with the rules of the bbolt spool.
func validate(it *spool.Item) error {
	switch {
	case it.Queue == "":
		return errors.New("queue is required")
	case len(it.Queue) > spool.MaxQueueLen:
		return fmt.Errorf("queue is %d bytes, longer than %d", len(it.Queue), spool.MaxQueueLen)
	case it.Method == "":
		return errors.New("method is required")
	case strings.ContainsAny(it.Method, " \t\r\n"):
		return fmt.Errorf("method %q contains whitespace", it.Method)
	case !strings.HasPrefix(it.Path, "/"):
		return fmt.Errorf("path %q must start with \"/\"", it.Path)
	case it.Attempts < 0 || it.Attempts > math.MaxUint32:
		return fmt.Errorf("attempts %d out of range", it.Attempts)
	case !time.Unix(0, it.HeldAt.UnixNano()).Equal(it.HeldAt):
		return fmt.Errorf("held-at time %s not representable in Unix nanoseconds", it.HeldAt)
	case it.Verification.String() == "invalid":
		return fmt.Errorf("verification %d unknown", it.Verification)
	}
	return nil
}

// entryArgs appends the stream fields of it as XADD field/value pairs.
func entryArgs(args []any, it *spool.Item) []any {
	return append(args,
		fieldHeldAt, strconv.FormatInt(it.HeldAt.UnixNano(), 10),
		fieldProvider, it.Provider, fieldAccount, it.Account, fieldRecord, it.Record,
		fieldReason, it.Reason, fieldMethod, it.Method, fieldPath, it.Path,
		fieldHeader, encodeHeader(it.Header), fieldBody, it.Body,
		fieldVerify, strconv.Itoa(int(it.Verification)))
}

// decodeEntry rebuilds an item from a stream entry's field/value list.
func decodeEntry(kv []any, it *spool.Item) error {
	n := len(kv) / 2
	if len(kv)%2 != 0 || (n != entryFields && n != entryFieldsV1) {
		return fmt.Errorf("entry has %d fields, want %d (or %d from earlier releases)", n, entryFields, entryFieldsV1)
	}
	seen := 0
	for i := 0; i < len(kv); i += 2 {
		name, _ := kv[i].(string)
		val, ok := kv[i+1].(string)
		if !ok {
			return fmt.Errorf("field %q is not a string", name)
		}
		switch name {
		case fieldHeldAt:
			ns, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return fmt.Errorf("held-at %q: %w", val, err)
			}
			it.HeldAt = time.Unix(0, ns)
		case fieldProvider:
			it.Provider = val
		case fieldAccount:
			it.Account = val
		case fieldRecord:
			it.Record = val
		case fieldReason:
			it.Reason = val
		case fieldMethod:
			it.Method = val
		case fieldPath:
			it.Path = val
		case fieldHeader:
			h, err := decodeHeader(val)
			if err != nil {
				return err
			}
			it.Header = h
		case fieldBody:
			it.Body = []byte(val)
		case fieldVerify:
			v, err := strconv.ParseUint(val, 10, 8)
			if err != nil || spool.Verification(v).String() == "invalid" {
				return fmt.Errorf("verification %q unknown", val)
			}
			it.Verification = spool.Verification(v)
		default:
			return fmt.Errorf("unknown field %q", name)
		}
		seen++
	}
	if seen != n || it.Header == nil || it.Method == "" {
		return errors.New("entry lacks required fields")
	}
	return nil
}

// encodeHeader is binary so any header bytes round-trip: uvarint key
// count; per key (sorted) uvarint length + key, uvarint value count, per
// value uvarint length + value.
func encodeHeader(h http.Header) []byte {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	buf := binary.AppendUvarint(nil, uint64(len(keys)))
	for _, k := range keys {
		buf = appendString(buf, k)
		buf = binary.AppendUvarint(buf, uint64(len(h[k])))
		for _, v := range h[k] {
			buf = appendString(buf, v)
		}
	}
	return buf
}

func appendString(buf []byte, s string) []byte {
	return append(binary.AppendUvarint(buf, uint64(len(s))), s...)
}

// decodeHeader reverses encodeHeader; counts are bounded by the bytes left,
// so a corrupt entry cannot force huge allocations.
func decodeHeader(s string) (http.Header, error) {
	r := reader{b: s}
	n := r.count()
	h := make(http.Header, n)
	for i := 0; i < n && r.err == nil; i++ {
		k := r.str()
		nv := r.count()
		vals := make([]string, 0, nv)
		for j := 0; j < nv && r.err == nil; j++ {
			vals = append(vals, r.str())
		}
		h[k] = vals
	}
	if r.err == nil && r.off != len(r.b) {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b)-r.off)
	}
	if r.err != nil {
		return nil, fmt.Errorf("header: %w", r.err)
	}
	return h, nil
}

// reader walks an encoded header, keeping the first error.
type reader struct {
	b   string
	off int
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	var x uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if r.off >= len(r.b) {
			break
		}
		c := r.b[r.off]
		r.off++
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return x
		}
	}
	r.err = errors.New("bad uvarint")
	return 0
}

func (r *reader) count() int {
	x := r.uvarint()
	if r.err == nil && x > uint64(len(r.b)-r.off) {
		r.err = fmt.Errorf("count %d exceeds the %d bytes left", x, len(r.b)-r.off)
		return 0
	}
	return int(x)
}

func (r *reader) str() string {
	n := r.count()
	if r.err != nil {
		return ""
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

// entryID is the stream id of seq; parseID reverses it.
func entryID(seq uint64) string { return strconv.FormatUint(seq, 10) + "-0" }

func parseID(id string) (uint64, error) {
	ms, rest, ok := strings.Cut(id, "-")
	if !ok || rest != "0" {
		return 0, fmt.Errorf("entry id %q is not <seq>-0", id)
	}
	return strconv.ParseUint(ms, 10, 64)
}

// parseInfo reads a queue info value "<size> <attempts>", followed by
// " u" when the item counts against the unverified budget.
func parseInfo(v string) (size int64, attempts int, err error) {
	v = strings.TrimSuffix(v, " u")
	a, b, ok := strings.Cut(v, " ")
	if !ok {
		return 0, 0, fmt.Errorf("info %q is not \"<size> <attempts>\"", v)
	}
	if size, err = strconv.ParseInt(a, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("info size %q: %w", a, err)
	}
	if attempts, err = strconv.Atoi(b); err != nil {
		return 0, 0, fmt.Errorf("info attempts %q: %w", b, err)
	}
	return size, attempts, nil
}
