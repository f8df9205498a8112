package tagging

import (
	"testing"

	"github.com/tidwall/gjson"
)

// readBoth reads rec with the scan and with gjson's ForEach; ok is
// whether the scan could read it.
func readBoth(f *Fingerprinter, raw string, skipNull bool) (scan, each onePassRead, ok bool) {
	scan = onePassRead{f: f, skipNull: skipNull}
	ok = scan.scan(raw)
	each = onePassRead{f: f, skipNull: skipNull}
	each.forEach(gjson.Parse(raw))
	return scan, each, ok
}

// TestScanMatchesForEach: the one-pass scan reads exactly what gjson's
// ForEach reads — escapes, surrogates, nested values, duplicates, nulls,
// numbers and whitespace — and declines what is not an object.
func TestScanMatchesForEach(t *testing.T) {
	f := NewFingerprinter([]string{"a", "b", "c", "d", "e", "n", "k\"q"}, map[string][]string{"b": {"trim", "lower"}, "n": {"number"}})
	for _, c := range []struct {
		name, raw string
		ok        bool
	}{
		{"plain", `{"a":"x","b":" Y ","c":1,"d":true,"e":false,"n":"1.50"}`, true},
		{"escapes", `{"a":"line\nnext\t\"q\" \\ \/ \b\f\r","b":"\u0041\u00e9 ","c":"\ud83d\ude00","d":"\ud83d x","e":"\ude00"}`, true},
		{"escaped keys", `{"\u0061":"via escape","k\"q":"quoted key","a":"second a"}`, true},
		{"nested and skipped", `{"z":{"a":"inner","s":"}]\"{["},"y":[1,{"b":2}],"a":[1, 2],"b":{"x":null}}`, true},
		{"duplicates keep the first", `{"a":"first","a":"second","c":null,"c":3}`, true},
		{"nulls", `{"a":null,"b":null,"n":null}`, true},
		{"numbers", `{"c":-1.5e+10,"n":2.50,"d":0}`, true},
		{"whitespace", " {\n \"a\" :\t\"x\" ,\r\n \"c\" : 3 \n}", false}, // leading space: not at '{'
		{"inner whitespace", "{\n \"a\" :\t\"x\" ,\r\n \"c\" : 3 \n}", true},
		{"empty", `{}`, true},
		{"empty with space", `{ }`, true},
		{"long escaped", `{"a":"` + longEscaped(3000) + `"}`, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, skip := range []bool{false, true} {
				scan, each, ok := readBoth(f, c.raw, skip)
				if ok != c.ok {
					t.Fatalf("scan ok = %v, want %v", ok, c.ok)
				}
				if ok && (scan.seen != each.seen || scan.nulls != each.nulls || scan.hashes != each.hashes) {
					t.Fatalf("skipNull %v: scan %+v\nforEach %+v", skip, scan, each)
				}
			}
		})
	}
}

func longEscaped(n int) string {
	b := make([]byte, 0, n)
	for len(b) < n-2 {
		b = append(b, `x\n`...)
	}
	return string(b)
}

// FuzzScanMatchesForEach: on any valid JSON object, the scan reads it and
// reads what ForEach reads; on anything else it never panics.
func FuzzScanMatchesForEach(f *testing.F) {
	for _, s := range []string{`{"a":"x\u00e9\n","b":[1,{"c":"}"}],"c":null,"a":2}`, `{"d":"\ud83d\ude00","e":true,"n":1e3}`, `{"a":`, `{"a" "b"}`, `{}`} {
		f.Add(s)
	}
	fp := NewFingerprinter([]string{"a", "b", "c", "d", "e", "n"}, map[string][]string{"b": {"trim", "lower"}, "n": {"number"}})
	f.Fuzz(func(t *testing.T, raw string) {
		if len(raw) == 0 || raw[0] != '{' {
			return
		}
		scan, each, ok := readBoth(fp, raw, false)
		if !gjson.Valid(raw) {
			return // the scan may decline or read a prefix; it must not panic
		}
		if !ok {
			t.Fatalf("scan declined a valid object %q", raw)
		}
		if scan.seen != each.seen || scan.hashes != each.hashes {
			t.Fatalf("%q: scan %+v\nforEach %+v", raw, scan, each)
		}
	})
}
