package tagging

import (
	"errors"
	"testing"

	"github.com/tidwall/gjson"
)

func TestSetJSONMany(t *testing.T) {
	cases := []struct {
		name  string
		body  string
		paths []string // gjson paths of the objects, one per insert
		field string
		want  string
		err   error
	}{
		{"two records", `{"inputs": [ {"id":"1","properties":{"a":1}}, {"id":"2","properties":{}} ]}`,
			[]string{"inputs.0.properties", "inputs.1.properties"}, "s",
			`{"inputs": [ {"id":"1","properties":{"a":1,"s":"v0"}}, {"id":"2","properties":{"s":"v1"}} ]}`, nil},
		{"replaces an existing value", `{"r":[{"s":"old","x":true}]}`, []string{"r.0"}, "s", `{"r":[{"s":"v0","x":true}]}`, nil},
		{"nested field with its parent", `{"r":[{"meta":{}},{"meta":{"k":1}}]}`, []string{"r.0", "r.1"}, "meta.sync",
			`{"r":[{"meta":{"sync":"v0"}},{"meta":{"k":1,"sync":"v1"}}]}`, nil},
		{"whitespace kept", "{\n  \"r\": [\n    { \"a\": 1 }\n  ]\n}\n", []string{"r.0"}, "s", "{\n  \"r\": [\n    { \"a\": 1 ,\"s\":\"v0\"}\n  ]\n}\n", nil},
		{"space in the field", `{"records":[{"fields":{"Name":"x"}}]}`, []string{"records.0.fields"}, "Loopguard Sync",
			`{"records":[{"fields":{"Name":"x","Loopguard Sync":"v0"}}]}`, nil},
		{"missing parent", `{"r":[{"a":1}]}`, []string{"r.0"}, "meta.sync", "", ErrNotObject},
		{"same object twice", `{"v":{"a":{"x":1}}}`, []string{"v.a", "v.a"}, "s", "", ErrOverlap},
		{"not an object", `{"r":[1]}`, []string{"r.0"}, "s", "", ErrNotObject},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := []byte(c.body)
			var ins []Insert
			for i, p := range c.paths {
				ins = append(ins, Insert{Obj: gjson.GetBytes(body, p), Field: c.field, Value: "v" + string(rune('0'+i))})
			}
			out, err := SetJSONMany(body, ins)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil || string(out) != c.want {
				t.Fatalf("got %s (%v)\nwant %s", out, err, c.want)
			}
			if !gjson.ValidBytes(out) {
				t.Fatalf("invalid JSON: %s", out)
			}
		})
	}
	t.Run("stale offset", func(t *testing.T) {
		obj := gjson.Get(`{"r":[{"a":1}]}`, "r.0")
		if _, err := SetJSONMany([]byte(`{"r":[ {"a":1}]}`), []Insert{{Obj: obj, Field: "s", Value: "v"}}); !errors.Is(err, ErrNotObject) {
			t.Fatalf("err = %v, want ErrNotObject for an object not at its offset", err)
		}
	})
	t.Run("value escaped", func(t *testing.T) {
		body := []byte(`{"r":[{}]}`)
		out, err := SetJSONMany(body, []Insert{{Obj: gjson.GetBytes(body, "r.0"), Field: "s", Value: "a\"b\\c\u2028"}})
		if err != nil || gjson.GetBytes(out, "r.0.s").String() != "a\"b\\c\u2028" {
			t.Fatalf("got %s %v", out, err)
		}
	})
}
