package jsonlimit

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestDepth(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
	}{
		{"empty", ``, 0},
		{"scalar", `42`, 0},
		{"string", `"[[[["`, 0},
		{"object", `{"a":1}`, 1},
		{"nested", `{"a":[{"b":[1,2]}]}`, 4},
		{"siblings", `[[1],[2],[[3]]]`, 3},
		{"brackets in a string", `{"a":"[[[{{{"}`, 1},
		{"escaped quote", `{"a":"\"[[["}`, 1},
		{"escaped backslash ends the string", `{"a":"\\"}`, 1},
		{"escaped backslash then bracket", `["\\",[[1]]]`, 3},
		{"three backslashes", `["\\\"[[",[1]]`, 2},
		{"unterminated string", `[["abc`, 2},
		{"unbalanced closers ignored", `]]]}}[1]`, 1},
		{"unicode escape", `["\u005b[",[]]`, 2},
		{"not JSON", `a=[1]&b={2}`, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Depth([]byte(tc.in)); got != tc.want {
				t.Fatalf("Depth(%q) = %d, want %d", tc.in, got, tc.want)
			}
			if got := reference([]byte(tc.in)); got != tc.want {
				t.Fatalf("reference(%q) = %d, want %d (test table is wrong)", tc.in, got, tc.want)
			}
		})
	}
}

func TestExceeded(t *testing.T) {
	nest := func(n int) []byte {
		return []byte(strings.Repeat("[", n) + strings.Repeat("]", n))
	}
	tests := []struct {
		name  string
		limit Limit
		in    []byte
		want  bool
	}{
		{"at the default", 0, nest(DefaultMaxDepth), false},
		{"one past the default", 0, nest(DefaultMaxDepth + 1), true},
		{"negative means default", -1, nest(DefaultMaxDepth + 1), true},
		{"custom limit", 3, nest(3), false},
		{"custom limit exceeded", 3, nest(4), true},
		{"deep inside a string", 3, []byte(`"` + strings.Repeat("[", 10000) + `"`), false},
		{"open brackets only", 0, bytes.Repeat([]byte("["), 5<<20), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.limit.Exceeded(tc.in); got != tc.want {
				t.Fatalf("Limit(%d).Exceeded = %v, want %v", tc.limit, got, tc.want)
			}
		})
	}
}

// TestAgreesWithEncodingJSON: for valid JSON, the depth is the one
// encoding/json builds (its own limit is 10000 levels).
func TestAgreesWithEncodingJSON(t *testing.T) {
	docs := []string{`{"a":{"b":{"c":[1,{"d":"}]]"}]}}}`, `[[],[[]],{"x":[[[[]]]]}]`, `"x"`, `{"k\"[":["\\\\"]}`}
	for _, d := range docs {
		var v any
		if err := json.Unmarshal([]byte(d), &v); err != nil {
			t.Fatalf("test doc %s: %v", d, err)
		}
		if got, want := Depth([]byte(d)), valueDepth(v); got != want {
			t.Errorf("Depth(%s) = %d, want %d", d, got, want)
		}
	}
}

func valueDepth(v any) int {
	max := 0
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			max = maxInt(max, valueDepth(e))
		}
		return max + 1
	case map[string]any:
		for _, e := range x {
			max = maxInt(max, valueDepth(e))
		}
		return max + 1
	}
	return 0
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// reference is the obvious byte-at-a-time scanner the fast one must match.
func reference(b []byte) int {
	depth, max := 0, 0
	inStr, esc := false, false
	for _, c := range b {
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case inStr && c == '"':
			inStr = false
		case inStr:
		case c == '"':
			inStr = true
		case c == '[' || c == '{':
			depth++
			max = maxInt(max, depth)
		case (c == ']' || c == '}') && depth > 0:
			depth--
		}
	}
	return max
}

func FuzzDepth(f *testing.F) {
	for _, s := range []string{`{"a":[1,"[\"]"]}`, `[[[`, `"\\"[`, `{"a":"\\\"}"}`, ``} {
		f.Add([]byte(s), 2)
	}
	f.Fuzz(func(t *testing.T, b []byte, limit int) {
		want := reference(b)
		if got := Depth(b); got != want {
			t.Fatalf("Depth(%q) = %d, reference %d", b, got, want)
		}
		l := Limit(limit % 300)
		if got := l.Exceeded(b); got != (want > l.Max()) {
			t.Fatalf("Limit(%d).Exceeded(%q) = %v, depth %d", l, b, got, want)
		}
	})
}
