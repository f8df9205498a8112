package filters

import (
	"net/http"
	"strings"

	"github.com/tidwall/gjson"
)

// valueSpec is a compiled value spec: a gjson path relative to the event,
// "header:Name", "body:path" (relative to the whole delivery) or "=literal".
type valueSpec struct {
	kind specKind
	s    string
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
	return valueSpec{kind: specPath, s: s}
}

// result returns the spec's JSON value (for header and literal specs, a
// string result).
func (v valueSpec) result(ev, root gjson.Result, h http.Header) gjson.Result {
	switch v.kind {
	case specPath:
		return ev.Get(v.s)
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

// str returns the spec's value as a string ("" when absent or null).
func (v valueSpec) str(ev, root gjson.Result, h http.Header) string {
	if v.kind == specNone {
		return ""
	}
	r := v.result(ev, root, h)
	switch r.Type {
	case gjson.Null:
		return ""
	case gjson.String:
		return r.Str
	case gjson.JSON:
		if r.IsArray() {
			// recordIds: ["001…"] — a one-element array is its element.
			if a := r.Array(); len(a) == 1 {
				return a[0].String()
			}
		}
		return r.Raw
	}
	return r.String()
}
