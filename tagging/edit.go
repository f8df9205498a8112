package tagging

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// ErrNotObject is returned when a JSON body (or its fields path) is not an
// object, so no sentinel can be written into it.
var ErrNotObject = errors.New("not a JSON object")

// JoinPath joins a fields path and a field: ("properties", "sync") →
// "properties.sync"; an empty fields path means the body root.
func JoinPath(fields, field string) string {
	if fields == "" {
		return field
	}
	return fields + "." + field
}

// jsonSpace is the insignificant whitespace around a JSON document.
const jsonSpace = " \t\r\n"

// SetJSON writes value as a JSON string at path in body. Only the inserted
// (or replaced) value changes: every other byte stays as sent, including
// whitespace around the document (sjson would drop it). A body that is not
// valid JSON is refused (sjson would mangle it).
func SetJSON(body []byte, fieldsPath, field, value string) ([]byte, error) {
	if !gjson.ValidBytes(body) {
		return nil, fmt.Errorf("set sentinel at %q: %w (body is not valid JSON)", JoinPath(fieldsPath, field), ErrNotObject)
	}
	var rec gjson.Result
	if fieldsPath == "" {
		rec = gjson.ParseBytes(body)
	} else {
		rec = gjson.GetBytes(body, fieldsPath)
	}
	if !rec.IsObject() {
		return nil, fmt.Errorf("set sentinel at %q: %w", JoinPath(fieldsPath, field), ErrNotObject)
	}
	if out, ok := setPlain(body, rec, field, value); ok {
		return out, nil
	}
	start := len(body) - len(bytes.TrimLeft(body, jsonSpace))
	end := len(bytes.TrimRight(body, jsonSpace))
	doc, err := sjson.SetBytes(body[start:end], JoinPath(fieldsPath, field), value)
	if err != nil {
		return nil, fmt.Errorf("set sentinel at %q: %w", JoinPath(fieldsPath, field), err)
	}
	if start == 0 && end == len(body) {
		return doc, nil
	}
	out := make([]byte, 0, start+len(doc)+len(body)-end)
	out = append(out, body[:start]...)
	out = append(out, doc...)
	return append(out, body[end:]...), nil
}

// setPlain is SetJSON's fast path for the usual case — a plain key and a
// plain ASCII value in an object whose position in body is known: one copy
// of the body with the value replaced or the pair inserted before the
// object's closing brace. ok is false when the general path must be used.
func setPlain(body []byte, rec gjson.Result, field, value string) ([]byte, bool) {
	if !plainJSON(field) || !plainJSON(value) || strings.ContainsAny(field, ".*?#|@!") {
		return nil, false
	}
	raw := strings.TrimRight(rec.Raw, jsonSpace) // a root Raw keeps trailing space
	at, end := rec.Index, rec.Index+len(raw)
	if at < 0 || len(raw) < 2 || end > len(body) || string(body[at:end]) != raw || body[end-1] != '}' {
		return nil, false
	}
	quoted := len(value) + 2
	if v := rec.Get(field); v.Exists() {
		vs, ve := at+v.Index, at+v.Index+len(v.Raw)
		if v.Index <= 0 || ve > end || string(body[vs:ve]) != v.Raw {
			return nil, false
		}
		out := make([]byte, 0, len(body)-len(v.Raw)+quoted)
		out = append(out, body[:vs]...)
		out = append(append(append(out, '"'), value...), '"')
		return append(out, body[ve:]...), true
	}
	empty := len(strings.Trim(raw[1:len(raw)-1], jsonSpace)) == 0
	out := make([]byte, 0, len(body)+len(field)+quoted+4)
	out = append(out, body[:end-1]...)
	if !empty {
		out = append(out, ',')
	}
	out = append(append(append(out, '"'), field...), `":"`...)
	out = append(append(out, value...), '"')
	return append(out, body[end-1:]...), true
}

// plainJSON reports a string that is its own JSON string body: printable
// ASCII without quote or backslash.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// SetForm writes key=value into an application/x-www-form-urlencoded body:
// an existing pair for key is replaced in place, otherwise the pair is
// appended; every other byte stays as sent.
func SetForm(body []byte, key, value string) []byte {
	pair := url.QueryEscape(key) + "=" + url.QueryEscape(value)
	var out bytes.Buffer
	out.Grow(len(body) + len(pair) + 1)
	replaced := false
	if len(body) > 0 {
		for i, part := range bytes.Split(body, []byte("&")) {
			if i > 0 {
				out.WriteByte('&')
			}
			k := part
			if j := bytes.IndexByte(part, '='); j >= 0 {
				k = part[:j]
			}
			if dk, err := url.QueryUnescape(string(k)); err == nil && dk == key && !replaced {
				out.WriteString(pair)
				replaced = true
				continue
			}
			out.Write(part)
		}
	}
	if !replaced {
		if len(body) > 0 {
			out.WriteByte('&')
		}
		out.WriteString(pair)
	}
	return out.Bytes()
}

// Expand replaces "{agent}" in a header or marker template.
func Expand(tpl, agent string) string { return strings.ReplaceAll(tpl, "{agent}", agent) }

// SetHeaders stamps the change-agent headers on h. A header the app already
// set is appended to with ", " unless it already carries our value, so the
// app's own options (e.g. Sforce-Call-Options: defaultNamespace=x) survive.
func SetHeaders(h http.Header, headers map[string]string, agent string) {
	for name, tpl := range headers {
		v := Expand(tpl, agent)
		cur := h.Get(name)
		switch {
		case cur == "":
			h.Set(name, v)
		case strings.Contains(cur, v):
		default:
			h.Set(name, cur+", "+v)
		}
	}
}
