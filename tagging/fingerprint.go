// Package tagging stamps the app's writes (change-agent headers, the
// self-verifying sentinel field, idempotency keys) and computes the one
// fingerprint both directions use: a canonical, key-order-independent hash of
// a record's tracked fields only.
package tagging

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/loopguard/loopguard/tagging/jsonscan"
	"github.com/tidwall/gjson"
)

// FieldHash is one tracked field of a record and the hash of its
// normalised value.
type FieldHash struct {
	Name string
	Hash uint64
}

// norm is a bit set of per-field normalisations.
type norm uint8

const (
	normTrim norm = 1 << iota
	normLower
	normNumber
)

// Fingerprinter knows which fields are tracked and how to normalise them.
// It is immutable and safe for concurrent use.
type Fingerprinter struct {
	fields []string // sorted
	norms  []norm   // per field
	// index maps each field to its position when every tracked field is a
	// plain top-level key: FromJSON then reads the record in one pass
	// instead of one path lookup per field. nil otherwise.
	index map[string]int
}

// onePassMax bounds the tracked fields FromJSON reads in one pass (a
// stack bitmap per call).
const onePassMax = 64

// NewFingerprinter builds a fingerprinter for the tracked fields (dotted
// paths relative to the record) with per-field normalisations ("trim",
// "lower", "number"; key "*" applies to every field).
func NewFingerprinter(tracked []string, normalize map[string][]string) *Fingerprinter {
	f := &Fingerprinter{fields: slices.Clone(tracked)}
	slices.Sort(f.fields)
	f.fields = slices.Compact(f.fields)
	f.norms = make([]norm, len(f.fields))
	if len(f.fields) <= onePassMax && !slices.ContainsFunc(f.fields, func(n string) bool { return strings.ContainsAny(n, ".*?#|@\\!") }) {
		f.index = make(map[string]int, len(f.fields))
		for i, name := range f.fields {
			f.index[name] = i
		}
	}
	for i, name := range f.fields {
		for _, key := range []string{"*", name} {
			for _, n := range normalize[key] {
				switch n {
				case "trim":
					f.norms[i] |= normTrim
				case "lower":
					f.norms[i] |= normLower
				case "number":
					f.norms[i] |= normNumber
				}
			}
		}
	}
	return f
}

// Fields returns the tracked field names, sorted.
func (f *Fingerprinter) Fields() []string { return f.fields }

// Tracked reports whether name is a tracked field and its index.
func (f *Fingerprinter) Tracked(name string) (int, bool) {
	return slices.BinarySearch(f.fields, name)
}

// FromJSON appends the tracked fields present in rec (a JSON object) to dst,
// sorted by name. Fields absent from rec are left out; null counts as "".
func (f *Fingerprinter) FromJSON(dst []FieldHash, rec gjson.Result) []FieldHash {
	return f.fromJSON(dst, rec, false)
}

// FromJSONSkipNull is FromJSON for events whose null values mean
// "unchanged": null fields are left out like absent ones.
func (f *Fingerprinter) FromJSONSkipNull(dst []FieldHash, rec gjson.Result) []FieldHash {
	return f.fromJSON(dst, rec, true)
}

func (f *Fingerprinter) fromJSON(dst []FieldHash, rec gjson.Result, skipNull bool) []FieldHash {
	if !rec.IsObject() {
		return dst
	}
	if f.index != nil {
		return f.onePass(dst, rec, skipNull)
	}
	for i, name := range f.fields {
		v := rec.Get(name)
		if !v.Exists() || (skipNull && v.Type == gjson.Null) {
			continue
		}
		dst = append(dst, FieldHash{Name: name, Hash: hashValue(v, f.norms[i])})
	}
	return dst
}

// onePass reads a record whose tracked fields are all top-level keys in a
// single scan. As with Get, the first occurrence of a duplicated key wins.
// The scan (jsonscan.Members) reads values only as far as their ends; a record it
// cannot walk is read with gjson's ForEach, which gives the same hashes.
func (f *Fingerprinter) onePass(dst []FieldHash, rec gjson.Result, skipNull bool) []FieldHash {
	var r onePassRead
	r.f, r.skipNull = f, skipNull
	if !r.scan(rec.Raw) {
		r = onePassRead{f: f, skipNull: skipNull}
		r.forEach(rec)
	}
	for i, name := range f.fields {
		if r.seen&^r.nulls&(1<<i) != 0 {
			dst = append(dst, FieldHash{Name: name, Hash: r.hashes[i]})
		}
	}
	return dst
}

// onePassRead is the state of one onePass.
type onePassRead struct {
	f           *Fingerprinter
	skipNull    bool
	seen, nulls uint64
	hashes      [onePassMax]uint64
}

// take records field i's value unless an earlier occurrence was taken; it
// reports whether fields are left to read.
func (r *onePassRead) take(i int, null bool, hash func() uint64) bool {
	if r.seen&(1<<i) == 0 {
		r.seen |= 1 << i
		if r.skipNull && null {
			r.nulls |= 1 << i // left out; the first occurrence wins, as with Get
		} else {
			r.hashes[i] = hash()
		}
	}
	return r.seen != 1<<len(r.f.fields)-1
}

// scan reads the record with members; false: it could not.
func (r *onePassRead) scan(raw string) bool {
	var buf [1024]byte
	return jsonscan.Members(raw, func(key string, esc bool, val string) bool {
		if esc {
			b := jsonscan.AppendUnescaped(buf[:0], key)
			key = string(b)
		}
		i, ok := r.f.index[key]
		if !ok {
			return true
		}
		return r.take(i, val[0] == 'n', func() uint64 { return hashRaw(val, r.f.norms[i], buf[:]) })
	})
}

// forEach reads the record with gjson.
func (r *onePassRead) forEach(rec gjson.Result) {
	rec.ForEach(func(k, v gjson.Result) bool {
		i, ok := r.f.index[k.Str]
		if !ok {
			return true
		}
		return r.take(i, v.Type == gjson.Null, func() uint64 { return hashValue(v, r.f.norms[i]) })
	})
}

// FromForm appends the tracked fields present in a form body; the key
// "metadata[sync]" is the field "metadata.sync".
func (f *Fingerprinter) FromForm(dst []FieldHash, vals url.Values) []FieldHash {
	for i, name := range f.fields {
		vs, ok := vals[FormKey(name)]
		if !ok || len(vs) == 0 {
			continue
		}
		dst = append(dst, FieldHash{Name: name, Hash: hashString(vs[len(vs)-1], f.norms[i])})
	}
	return dst
}

// Property returns the hash of one per-property change (HubSpot's
// propertyName/propertyValue), if the property is tracked.
func (f *Fingerprinter) Property(name string, value gjson.Result) (FieldHash, bool) {
	i, ok := f.Tracked(name)
	if !ok {
		return FieldHash{}, false
	}
	return FieldHash{Name: name, Hash: hashValue(value, f.norms[i])}, true
}

// Combine is the record fingerprint over fields sorted by name (as the
// From* methods return them): key-order independent by construction.
func Combine(fields []FieldHash) uint64 {
	h := uint64(fnvOffset)
	for _, fh := range fields {
		h = fnvString(h, fh.Name)
		h = fnvByte(h, 0)
		for s := 0; s < 64; s += 8 {
			h = fnvByte(h, byte(fh.Hash>>s))
		}
	}
	return h
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvByte(h uint64, b byte) uint64 { return (h ^ uint64(b)) * fnvPrime }

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = fnvByte(h, s[i])
	}
	return h
}

// hashValue hashes a JSON value canonically: strings by content, numbers
// and booleans by their literal, null as "", objects and arrays by their
// raw text.
func hashValue(v gjson.Result, n norm) uint64 {
	switch v.Type {
	case gjson.String:
		return hashString(v.Str, n)
	case gjson.Null:
		return hashString("", n)
	case gjson.Number:
		return hashString(v.Raw, n|normNumberLiteral)
	case gjson.True:
		return hashString("true", n)
	case gjson.False:
		return hashString("false", n)
	}
	return hashString(v.Raw, 0)
}

// normNumberLiteral marks a JSON number literal, which is canonicalised when
// the field asks for number normalisation.
const normNumberLiteral norm = 1 << 7

func hashString(s string, n norm) uint64 {
	if n&normTrim != 0 {
		s = strings.TrimSpace(s)
	}
	if n&normNumber != 0 {
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			s = strconv.FormatFloat(f, 'g', -1, 64)
		}
	}
	h := uint64(fnvOffset)
	if n&normLower != 0 {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			h = fnvByte(h, c)
		}
		return h
	}
	return fnvString(h, s)
}

// FormKey turns a dotted field path into its form-encoding key:
// "metadata.sync" → "metadata[sync]".
func FormKey(dotted string) string {
	first, rest, ok := strings.Cut(dotted, ".")
	if !ok {
		return dotted
	}
	var b strings.Builder
	b.WriteString(first)
	for _, p := range strings.Split(rest, ".") {
		b.WriteByte('[')
		b.WriteString(p)
		b.WriteByte(']')
	}
	return b.String()
}
