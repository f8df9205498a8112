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
	rec := gjson.ParseBytes(body)
	if fieldsPath != "" {
		rec = rec.Get(fieldsPath)
	}
	if !rec.IsObject() {
		return nil, fmt.Errorf("set sentinel at %q: %w", JoinPath(fieldsPath, field), ErrNotObject)
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
