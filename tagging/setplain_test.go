package tagging

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// TestSetJSONFastPathMatchesGeneral: the fast path gives the same document
// as the general (sjson) edit, keeps every other byte, and steps aside for
// what it does not handle.
func TestSetJSONFastPathMatchesGeneral(t *testing.T) {
	cases := []struct {
		name, body, path, field, value string
		fast                           bool
	}{
		{"insert at root", `{"a":1,"b":"x"}`, "", "sync", "loopguard:abc", true},
		{"insert into empty", `{}`, "", "sync", "v", true},
		{"insert into empty with spaces", `{  }`, "", "sync", "v", true},
		{"replace at root", `{"sync":"old","a":1}`, "", "sync", "new", true},
		{"replace a non-string", `{"sync":{"x":[1,2]},"a":1}`, "", "sync", "new", true},
		{"nested fields path", `{"properties":{"a":"1"},"associations":[]}`, "properties", "sync", "v", true},
		{"whitespace kept", "  {\n \"a\": 1\n}\n", "", "sync", "v", true},
		{"space before brace", `{"a":1 }`, "", "sync", "v", true},
		{"value needs escaping", `{"a":1}`, "", "sync", `say "hi"`, false},
		{"dotted field", `{"meta":{}}`, "", "meta.sync", "v", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := []byte(c.body)
			var rec gjson.Result
			if c.path == "" {
				rec = gjson.ParseBytes(body)
			} else {
				rec = gjson.GetBytes(body, c.path)
			}
			fastOut, ok := setPlain(body, rec, c.field, c.value)
			if ok != c.fast {
				t.Fatalf("fast path taken = %v, want %v", ok, c.fast)
			}
			out, err := SetJSON(body, c.path, c.field, c.value)
			if err != nil {
				t.Fatal(err)
			}
			if ok && string(out) != string(fastOut) {
				t.Fatalf("SetJSON did not use the fast path: %s vs %s", out, fastOut)
			}
			if !json.Valid(out) {
				t.Fatalf("invalid JSON: %s", out)
			}
			if got := gjson.GetBytes(out, JoinPath(c.path, c.field)).String(); got != c.value {
				t.Fatalf("value at %s = %q in %s", JoinPath(c.path, c.field), got, out)
			}
			var before, after map[string]any
			_ = json.Unmarshal(body, &before)
			_ = json.Unmarshal(out, &after)
			delete(after, "sync")
			delete(before, "sync")
			if c.path != "" {
				delete(after[c.path].(map[string]any), "sync")
			}
			if c.path == "" && c.field == "sync" && !reflect.DeepEqual(before, after) {
				t.Fatalf("other values changed: %v → %v", before, after)
			}
		})
	}
	// A body whose value must be escaped still gets it right.
	out, err := SetJSON([]byte(`{"a":1}`), "", "sync", "é\"x")
	if err != nil || gjson.GetBytes(out, "sync").String() != "é\"x" {
		t.Fatalf("escaped value: %s %v", out, err)
	}
}

// FuzzSetJSON: whatever SetJSON accepts, it returns valid JSON holding the
// value at the path; it never panics.
func FuzzSetJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, ` {"sync":"x"} `, `{"properties":{"a":"b"}}`, `[1]`, `{"a":{"b":{}}}`, `{"a":1 }`} {
		f.Add(s, "sync", "loopguard:0123")
	}
	f.Fuzz(func(t *testing.T, body, field, value string) {
		if field == "" {
			return
		}
		out, err := SetJSON([]byte(body), "", field, value)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("SetJSON(%q, %q, %q) = invalid %q", body, field, value, out)
		}
		if plainJSON(field) && !strings.ContainsAny(field, ".*?#|@!") {
			if got := gjson.GetBytes(out, field); got.String() != value && plainJSON(value) {
				t.Fatalf("SetJSON(%q, %q, %q) = %q: value reads %q", body, field, value, out, got.String())
			}
		}
	})
}
