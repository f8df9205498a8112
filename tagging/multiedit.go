package tagging

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tidwall/gjson"
)

// Insert is one value to write into a JSON body: Value, as a JSON string,
// at Field (a dotted path of plain keys) inside the object Obj — a result
// read from that same body, so its Index is the object's offset in it.
type Insert struct {
	Obj   gjson.Result
	Field string
	Value string
}

// ErrOverlap is returned when two inserts touch the same bytes (two
// records sharing one object): one object cannot hold two sentinels.
var ErrOverlap = errors.New("inserts overlap")

// splice replaces body[start:end] with repl.
type splice struct {
	start, end int
	repl       []byte
}

// SetJSONMany writes every insert into body in one pass: each value
// replaces the field's value where the field exists, or is added as the
// last pair of its parent object; every other byte stays as sent. A batch
// of n records costs one copy of the body, not n. A field whose parent
// object does not exist is refused (a batch needs no intermediate objects
// created), as are inserts whose objects are not found at their offsets or
// that touch the same object twice.
func SetJSONMany(body []byte, ins []Insert) ([]byte, error) {
	sp := make([]splice, 0, len(ins))
	for i, in := range ins {
		s, err := spliceFor(body, in)
		if err != nil {
			return nil, fmt.Errorf("insert %d at %q: %w", i, in.Field, err)
		}
		sp = append(sp, s)
	}
	slices.SortStableFunc(sp, func(a, b splice) int { return a.start - b.start })
	grow := 0
	for i, s := range sp {
		if i > 0 && s.start < sp[i-1].end || i > 0 && s.start == sp[i-1].start {
			return nil, ErrOverlap
		}
		grow += len(s.repl) - (s.end - s.start)
	}
	out := make([]byte, 0, len(body)+grow)
	at := 0
	for _, s := range sp {
		out = append(out, body[at:s.start]...)
		out = append(out, s.repl...)
		at = s.end
	}
	return append(out, body[at:]...), nil
}

// spliceFor finds where an insert goes.
func spliceFor(body []byte, in Insert) (splice, error) {
	if !spanned(body, in.Obj) || !in.Obj.IsObject() {
		return splice{}, ErrNotObject
	}
	if in.Field == "" || strings.ContainsAny(in.Field, "*?#|@!\\") {
		return splice{}, fmt.Errorf("field must be a dotted path of plain keys")
	}
	parent, last := in.Obj, in.Field
	if i := strings.LastIndexByte(in.Field, '.'); i >= 0 {
		parent, last = in.Obj.Get(in.Field[:i]), in.Field[i+1:]
		if !spanned(body, parent) || !parent.IsObject() {
			return splice{}, fmt.Errorf("parent object %q: %w", in.Field[:i], ErrNotObject)
		}
	}
	val, err := json.Marshal(in.Value)
	if err != nil {
		return splice{}, err
	}
	if v := parent.Get(last); v.Exists() {
		if !spanned(body, v) {
			return splice{}, fmt.Errorf("existing value has no span in the body")
		}
		return splice{start: v.Index, end: v.Index + len(v.Raw), repl: val}, nil
	}
	raw := strings.TrimRight(parent.Raw, jsonSpace)
	end := parent.Index + len(raw) - 1 // the closing brace
	key, _ := json.Marshal(last)
	repl := make([]byte, 0, len(key)+len(val)+2)
	if len(strings.Trim(raw[1:len(raw)-1], jsonSpace)) > 0 {
		repl = append(repl, ',')
	}
	repl = append(append(append(repl, key...), ':'), val...)
	return splice{start: end, end: end, repl: repl}, nil
}

// spanned reports a result whose Raw is found at its Index in body.
func spanned(body []byte, r gjson.Result) bool {
	raw := strings.TrimRight(r.Raw, jsonSpace)
	end := r.Index + len(raw)
	return r.Index > 0 && len(raw) > 0 && end <= len(body) && string(body[r.Index:end]) == raw
}
