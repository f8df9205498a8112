package filters

import (
	"net/http"
	"strings"

	"github.com/loopguard/loopguard/configs"
	"github.com/tidwall/gjson"
)

// valueSpec is a compiled value spec: a gjson path relative to the event,
// "header:Name", "body:path" (relative to the whole delivery) or "=literal";
// alternatives written "a ?? b" are tried in order until one yields a value.
type valueSpec struct {
	kind specKind
	s    string
	// head and rest split a plain path (plainPath) for evView; head is ""
	// for any other spec.
	head, rest string
	// next is the alternative tried when this one yields nothing.
	next *valueSpec
	// text is the whole spec as written (on the first alternative), for
	// explanations.
	text string
}

type specKind uint8

const (
	specNone specKind = iota
	specPath
	specHeader
	specBody
	specLiteral
)

func compileSpec(s string) valueSpec {
	alts := configs.SpecAlternatives(s)
	if len(alts) == 0 {
		return valueSpec{}
	}
	v := compileOne(alts[0])
	v.text = s
	tail := &v
	for _, a := range alts[1:] {
		n := compileOne(a)
		tail.next = &n
		tail = tail.next
	}
	return v
}

func compileOne(s string) valueSpec {
	switch {
	case s == "":
		return valueSpec{}
	case strings.HasPrefix(s, "="):
		return valueSpec{kind: specLiteral, s: s[1:]}
	case strings.HasPrefix(s, "header:"):
		return valueSpec{kind: specHeader, s: http.CanonicalHeaderKey(s[len("header:"):])}
	case strings.HasPrefix(s, "body:"):
		return valueSpec{kind: specBody, s: s[len("body:"):]}
	}
	v := valueSpec{kind: specPath, s: s}
	if head, rest, ok := plainPath(s); ok {
		v.head, v.rest = head, rest
	}
	return v
}

// result returns the spec's JSON value (for header and literal specs, a
// string result): the first alternative that yields a non-empty value.
func (v valueSpec) result(ev, root gjson.Result, h http.Header) gjson.Result {
	x := view(ev)
	return v.resultIn(&x, root, h)
}

// resultIn is result for an event read through x.
func (v valueSpec) resultIn(x *evView, root gjson.Result, h http.Header) gjson.Result {
	for a := &v; a != nil; a = a.next {
		if r := a.one(x, root, h); !emptyResult(r) || a.next == nil {
			return r
		}
	}
	return gjson.Result{}
}

func (v *valueSpec) one(x *evView, root gjson.Result, h http.Header) gjson.Result {
	switch v.kind {
	case specPath:
		return x.get(v)
	case specBody:
		return root.Get(v.s)
	case specHeader:
		if vs := h[v.s]; len(vs) > 0 {
			return gjson.Result{Type: gjson.String, Str: vs[0], Raw: vs[0]}
		}
	case specLiteral:
		return gjson.Result{Type: gjson.String, Str: v.s, Raw: v.s}
	}
	return gjson.Result{}
}

// emptyResult reports a value that counts as absent: missing, null, "" or
// an empty array.
func emptyResult(r gjson.Result) bool {
	return !r.Exists() || r.Type == gjson.Null || (r.Type == gjson.String && r.Str == "") || (r.IsArray() && emptyArray(r.Raw))
}

// emptyArray reports a raw JSON array without elements ("[]", "[ ]").
func emptyArray(raw string) bool {
	return len(raw) >= 2 && strings.TrimSpace(raw[1:len(raw)-1]) == ""
}

// str returns the spec's value as a string ("" when absent or null).
func (v valueSpec) str(ev, root gjson.Result, h http.Header) string {
	x := view(ev)
	return v.strIn(&x, root, h)
}

// strIn is str for an event read through x.
func (v valueSpec) strIn(x *evView, root gjson.Result, h http.Header) string {
	if v.kind == specNone {
		return ""
	}
	return resultString(v.resultIn(x, root, h))
}

func resultString(r gjson.Result) string {
	switch r.Type {
	case gjson.Null:
		return ""
	case gjson.String:
		return r.Str
	case gjson.JSON:
		if r.IsArray() {
			// recordIds: ["001…"] — a one-element array is its element,
			// an empty one no value.
			switch a := r.Array(); len(a) {
			case 0:
				return ""
			case 1:
				return a[0].String()
			}
		}
		return r.Raw
	}
	return r.String()
}

// compositeSpec is one or more value specs whose values are joined with ":"
// (composite event and record ids). Any part without a value makes the
// whole value empty.
type compositeSpec []valueSpec

func compileComposite(ss []string) compositeSpec {
	var c compositeSpec
	for _, s := range ss {
		if s != "" {
			c = append(c, compileSpec(s))
		}
	}
	return c
}

// strIn returns the joined value of an event read through x, "" when
// any part is empty.
func (c compositeSpec) strIn(x *evView, root gjson.Result, h http.Header) string {
	if len(c) == 1 {
		return c[0].strIn(x, root, h)
	}
	var b strings.Builder
	for i, s := range c {
		v := s.strIn(x, root, h)
		if v == "" {
			return ""
		}
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(v)
	}
	return b.String()
}

// each calls fn with every value of the composite: once normally, and once
// per element when a part yields an array of two or more values (Salesforce
// recordIds: one change event for several records). Only the first such
// part fans out; an empty part yields a single "".
func (c compositeSpec) each(ev, root gjson.Result, h http.Header, fn func(string)) {
	x := view(ev)
	c.eachIn(&x, root, h, fn)
}

// eachIn is each for an event read through x.
func (c compositeSpec) eachIn(x *evView, root gjson.Result, h http.Header, fn func(string)) {
	if len(c) == 1 {
		r := c[0].resultIn(x, root, h)
		if a := fanOut(r); a == nil {
			fn(resultString(r))
		} else {
			eachElem(a, nil, 0, fn)
		}
		return
	}
	fan := -1
	var elems []gjson.Result
	parts := make([]string, len(c))
	for i, s := range c {
		r := s.resultIn(x, root, h)
		if fan < 0 {
			if a := fanOut(r); a != nil {
				fan, elems = i, a
				continue
			}
		}
		if parts[i] = resultString(r); parts[i] == "" {
			fn("")
			return
		}
	}
	if fan < 0 {
		fn(strings.Join(parts, ":"))
		return
	}
	eachElem(elems, parts, fan, fn)
}

// fanOut returns the elements of an array of two or more values, else nil.
func fanOut(r gjson.Result) []gjson.Result {
	if !r.IsArray() {
		return nil
	}
	if a := r.Array(); len(a) >= 2 {
		return a
	}
	return nil
}

// eachElem calls fn once per non-empty element, set into parts[at] (parts
// nil: the element alone); at least once, with "" when none has a value.
func eachElem(elems []gjson.Result, parts []string, at int, fn func(string)) {
	n := 0
	for _, e := range elems {
		v := resultString(e)
		if v == "" {
			continue
		}
		if parts != nil {
			parts[at] = v
			v = strings.Join(parts, ":")
		}
		fn(v)
		n++
	}
	if n == 0 {
		fn("")
	}
}
