package jsonscan

import (
	"testing"

	"github.com/tidwall/gjson"
)

// TestMembers reads each member's key and value bytes as written, and
// declines what is not a well-formed object.
func TestMembers(t *testing.T) {
	type kv struct {
		key string
		esc bool
		val string
	}
	for _, c := range []struct {
		name, raw string
		want      []kv
		ok        bool
	}{
		{"empty", `{}`, nil, true},
		{"spaces", "{ \"a\" :\t1 ,\n\"b\":\"x\" }", []kv{{"a", false, "1"}, {"b", false, `"x"`}}, true},
		{"nested", `{"a":{"b":["}",{"c":"]"}]},"d":[1,[2]],"e":null}`, []kv{{"a", false, `{"b":["}",{"c":"]"}]}`}, {"d", false, `[1,[2]]`}, {"e", false, "null"}}, true},
		{"escaped key and value", `{"k\"":"v\\\"","n":-1.5e3}`, []kv{{`k\"`, true, `"v\\\""`}, {"n", false, "-1.5e3"}}, true},
		{"unterminated string", `{"a":"x`, nil, false},
		{"missing colon", `{"a" 1}`, nil, false},
		{"unclosed", `{"a":1`, []kv{{"a", false, "1"}}, false},
		{"control character (not validated)", "{\"a\":\"x\ny\"}", []kv{{"a", false, "\"x\ny\""}}, true},
		{"bad separator", `{"a":1;"b":2}`, []kv{{"a", false, "1"}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []kv
			ok := Members(c.raw, func(key string, esc bool, val string) bool {
				got = append(got, kv{key, esc, val})
				return true
			})
			if ok != c.ok || len(got) != len(c.want) {
				t.Fatalf("Members = %v, %+v; want %v, %+v", ok, got, c.ok, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("member %d = %+v, want %+v", i, got[i], c.want[i])
				}
			}
		})
	}
}

// FuzzAppendUnescaped: the content of any valid JSON string unescapes to
// what gjson gives as its Str.
func FuzzAppendUnescaped(f *testing.F) {
	for _, s := range []string{`a\nb`, `\ud83d\ude00`, `\ud83d x`, `\ude00\u0041`, `\"\\\/\b\f\r\t`, `plain`, `\u00e9\u4e2d`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		quoted := `"` + s + `"`
		if !gjson.Valid(quoted) {
			return
		}
		if got, want := string(AppendUnescaped(nil, s)), gjson.Parse(quoted).Str; got != want {
			t.Fatalf("AppendUnescaped(%q) = %q, gjson %q", s, got, want)
		}
	})
}
