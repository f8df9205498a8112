package filters

import (
	"testing"

	"github.com/tidwall/gjson"
)

// TestEvViewMatchesGet: a spec read through an event's one-scan view
// gives what gjson's Get from the event's start gives — nested paths,
// arrays, escapes, duplicate keys, absent keys, nulls, alternatives — and
// paths that are not plain keep gjson's lookup.
func TestEvViewMatchesGet(t *testing.T) {
	specs := []string{"type", "data.id", "data.updatedAt", "data", "actor.id", "organizationId", "missing", "missing.x",
		"ids.1", "ids", "esc", "dup", "data.nested.deep", "nul", "n", "b", "data.#", "ids.#", "a*", "data|@this", "missing ?? type", "header:X-A", "=lit"}
	events := []string{
		`{"type":"Issue","actor":{"id":"u1","name":"A"},"data":{"id":"i1","updatedAt":"2026-11-27T10:00:00.000Z","nested":{"deep":[1,2]}},"organizationId":"org","ids":["a","b"],"n":-1.5e3,"b":true,"nul":null}`,
		`{"esc":"line\nnext \u00e9","dup":"first","dup":"second","\u0074ype":"escaped key"}`,
		"{ \"type\" : \"spaced\" ,\n\"data\" : { \"id\" : 7 } }",
		`{"data":[{"id":1}],"ids":{"1":"x"},"a1":"wild"}`,
		`{"data":{"id":"first","id":"second","\u0075pdatedAt":"escaped","nested":"not an object"},"actor":"not an object"}`,
		`{"data":{"id":1,"updatedAt":`, // the nested scan fails, the top level too
		`{}`,
		`{"type":`, // truncated: the scan declines, gjson reads what it can
	}
	heads := []viewKey{{-1, "type"}, {-1, "data"}, {-1, "actor"}, {-1, "organizationId"}, {-1, "missing"}, {-1, "ids"},
		{-1, "esc"}, {-1, "dup"}, {-1, "nul"}, {1, "id"}, {1, "updatedAt"}, {1, "nested"}, {2, "id"}, {4, "x"}, {5, "1"}}
	for _, raw := range events {
		ev := gjson.Parse(raw)
		x := view(ev)
		x.scan(heads)
		for _, s := range specs {
			v := compileSpec(s)
			got := v.resultIn(&x, ev, nil)
			want := v.result(ev, ev, nil)
			if got.Type != want.Type || got.Raw != want.Raw || got.Str != want.Str || got.Num != want.Num {
				t.Errorf("event %s, spec %q: view %+v, Get %+v", raw, s, got, want)
			}
		}
	}
}

// TestPlainPath: only paths of plain keys are split.
func TestPlainPath(t *testing.T) {
	for s, want := range map[string][2]string{
		"type": {"type", ""}, "data.id": {"data", "id"}, "a.b.c": {"a", "b.c"}, "$x-y_1.z": {"$x-y_1", "z"},
	} {
		if h, r, ok := plainPath(s); !ok || h != want[0] || r != want[1] {
			t.Errorf("plainPath(%q) = %q, %q, %v", s, h, r, ok)
		}
	}
	for _, s := range []string{"", ".a", "a.", "a..b", "a.#", "a*", "a?", "@this", "a|b", `a\.b`, "a.b:c", "a.[0]"} {
		if _, _, ok := plainPath(s); ok {
			t.Errorf("plainPath(%q) should not be plain", s)
		}
	}
}

// TestParseRawMatchesParse: the shortcut for plain strings gives what
// gjson.Parse gives, and everything else is gjson.Parse's.
func TestParseRawMatchesParse(t *testing.T) {
	for _, raw := range []string{`"abc"`, `""`, `"a\"b"`, `"\u00e9t\u00e9"`, `"tab\there"`, `"é"`, `12`, `-1.5e3`,
		`true`, `null`, `{"a":1}`, `[1,"x"]`, `"`, `"abc`, ``} {
		got, want := parseRaw(raw), gjson.Parse(raw)
		if got.Type != want.Type || got.Str != want.Str || got.Raw != want.Raw || got.Num != want.Num || got.Index != want.Index {
			t.Errorf("parseRaw(%q) = %+v, gjson.Parse = %+v", raw, got, want)
		}
	}
}
