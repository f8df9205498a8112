package tagging

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

const testSentinel = "loopguard:0123456789ab"

// splitDiff returns what changed between a and b after removing their
// longest common prefix and (non-overlapping) common suffix.
func splitDiff(a, b []byte) (removed, added string) {
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	return string(a[p : len(a)-s]), string(b[p : len(b)-s])
}

func TestSetJSONInsertsOnlyTheField(t *testing.T) {
	cases := []struct {
		name        string
		body        string // inline body, or @file from testdata
		fields      string
		field       string
		wantAdded   string
		wantRemoved string
	}{
		{"root object", `{"name":"Ada","email":"ada@example.com"}`, "", "sync_source",
			`,"sync_source":"` + testSentinel + `"`, ""},
		{"empty object", `{}`, "", "sync_source", `"sync_source":"` + testSentinel + `"`, ""},
		{"odd spacing is preserved", `{ "name" : "Ada" ,  "n":1 }`, "", "sync_source",
			`,"sync_source":"` + testSentinel + `"`, ""},
		{"nested fields path, pretty printed", "@hubspot_patch.json", "properties", "loopguard_sync",
			`,"loopguard_sync":"` + testSentinel + `"`, ""},
		{"nested empty object", `{"properties":{},"x":[1]}`, "properties", "loopguard_sync",
			`"loopguard_sync":"` + testSentinel + `"`, ""},
		{"replacing an existing sentinel", "@hubspot_patch_sentinel.json", "properties", "loopguard_sync",
			"0123456789ab", "ffffffffffff"},
		{"replacing a non-string value", `{"a":1,"sync":{"x":1},"b":2}`, "", "sync",
			`"` + testSentinel + `"`, `{"x":1}`},
		{"leading and trailing whitespace survive", "\n  {\"a\":1}\r\n", "", "sync",
			`,"sync":"` + testSentinel + `"`, ""},
		{"unicode and escapes around are untouched", `{"n":"\u00e9\"x\"","m":"日本"}`, "", "s",
			`,"s":"` + testSentinel + `"`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := []byte(c.body)
			if name, ok := strings.CutPrefix(c.body, "@"); ok {
				body = readFixture(t, name)
			}
			orig := string(body)
			out, err := SetJSON(body, c.fields, c.field, testSentinel)
			if err != nil {
				t.Fatalf("SetJSON: %v", err)
			}
			if string(body) != orig {
				t.Fatal("SetJSON modified its input")
			}
			removed, added := splitDiff(body, out)
			if removed != c.wantRemoved || added != c.wantAdded {
				t.Fatalf("diff: removed %q added %q; want removed %q added %q\nout: %s", removed, added, c.wantRemoved, c.wantAdded, out)
			}
			if !gjson.ValidBytes(out) {
				t.Fatalf("output is not valid JSON: %s", out)
			}
			if got := gjson.GetBytes(out, JoinPath(c.fields, c.field)).String(); got != testSentinel {
				t.Fatalf("sentinel at %s = %q", JoinPath(c.fields, c.field), got)
			}
		})
	}
}

func TestSetJSONPreservesOtherValues(t *testing.T) {
	body := readFixture(t, "hubspot_patch.json")
	out, err := SetJSON(body, "properties", "loopguard_sync", testSentinel)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFingerprinter([]string{"properties.email", "properties.firstname", "properties.lifecyclestage"}, nil)
	before := Combine(f.FromJSON(nil, gjson.ParseBytes(body)))
	after := Combine(f.FromJSON(nil, gjson.ParseBytes(out)))
	if before != after {
		t.Fatal("tracked fingerprint changed by inserting the sentinel")
	}
	if tail := "\"associations\": []\n}\n"; !strings.HasSuffix(string(out), tail) {
		t.Fatalf("trailing bytes changed: %q, want suffix %q", out, tail)
	}
}

func TestSetJSONErrors(t *testing.T) {
	cases := []struct {
		name, body, fields string
	}{
		{"root array", `[{"a":1}]`, ""},
		{"root string", `"x"`, ""},
		{"root number", `42`, ""},
		{"empty body", ``, ""},
		{"fields path is a string", `{"properties":"x"}`, "properties"},
		{"fields path is an array", `{"properties":[1]}`, "properties"},
		{"fields path missing", `{"other":{}}`, "properties"},
		{"truncated JSON", `{"a":`, ""},
		{"trailing comma", `{"a":1,}`, ""},
		{"mismatched brackets", `{]`, ""},
		{"truncated nested", `{"properties":{"a":1}`, "properties"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := SetJSON([]byte(c.body), c.fields, "sync", testSentinel)
			if !errors.Is(err, ErrNotObject) {
				t.Fatalf("SetJSON(%q) err = %v, want ErrNotObject", c.body, err)
			}
			if out != nil {
				t.Fatalf("SetJSON(%q) returned a body on error: %q", c.body, out)
			}
			if !strings.Contains(err.Error(), JoinPath(c.fields, "sync")) {
				t.Fatalf("error %q does not name the path", err)
			}
		})
	}
}

func TestJoinPath(t *testing.T) {
	if got := JoinPath("", "sync"); got != "sync" {
		t.Fatalf("JoinPath root = %q", got)
	}
	if got := JoinPath("properties", "sync"); got != "properties.sync" {
		t.Fatalf("JoinPath nested = %q", got)
	}
}

func TestSetForm(t *testing.T) {
	enc := url.QueryEscape(testSentinel)
	cases := []struct {
		name, body, key string
		want            string // exact output; "" means check prefix and parse only
		wantPrefix      string
	}{
		{"append", "name=Ada&amount=100", "sync", "name=Ada&amount=100&sync=" + enc, ""},
		{"replace in place", "name=Ada&sync=old&amount=100", "sync", "name=Ada&sync=" + enc + "&amount=100", ""},
		{"replace first pair", "sync=old&name=Ada", "sync", "sync=" + enc + "&name=Ada", ""},
		{"replace last pair", "name=Ada&sync=", "sync", "name=Ada&sync=" + enc, ""},
		{"replace a key without '='", "name=Ada&sync&x=1", "sync", "name=Ada&sync=" + enc + "&x=1", ""},
		{"empty body", "", "sync", "sync=" + enc, ""},
		{"bracketed key matched when escaped", "metadata%5Bsync%5D=old&a=1", "metadata[sync]",
			url.QueryEscape("metadata[sync]") + "=" + enc + "&a=1", ""},
		{"bracketed key matched when raw", "metadata[sync]=old&a=1", "metadata[sync]",
			url.QueryEscape("metadata[sync]") + "=" + enc + "&a=1", ""},
		{"bracketed key appended", "a=1", "metadata[sync]", "a=1&metadata%5Bsync%5D=" + enc, ""},
		{"other encodings untouched", "name=Ada%20Lovelace&t=%7E+x&e=", "sync",
			"name=Ada%20Lovelace&t=%7E+x&e=&sync=" + enc, ""},
		{"trailing & is preserved", "name=Ada&", "sync", "", "name=Ada&"},
		{"similar key is not replaced", "sync_source=x&async=y", "sync", "sync_source=x&async=y&sync=" + enc, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := []byte(c.body)
			out := SetForm(in, c.key, testSentinel)
			if string(in) != c.body {
				t.Fatal("SetForm modified its input")
			}
			if c.want != "" && string(out) != c.want {
				t.Fatalf("SetForm(%q) = %q, want %q", c.body, out, c.want)
			}
			if !strings.HasPrefix(string(out), c.wantPrefix) {
				t.Fatalf("SetForm(%q) = %q, want prefix %q", c.body, out, c.wantPrefix)
			}
			vals, err := url.ParseQuery(string(out))
			if err != nil {
				t.Fatalf("output does not parse: %v", err)
			}
			if got := vals[c.key]; len(got) != 1 || got[0] != testSentinel {
				t.Fatalf("parsed %s = %v, want [%s]", c.key, got, testSentinel)
			}
			orig, _ := url.ParseQuery(c.body)
			for k, v := range orig {
				if k == c.key {
					continue
				}
				if got := vals[k]; strings.Join(got, "\x00") != strings.Join(v, "\x00") {
					t.Fatalf("field %s changed: %v -> %v", k, v, got)
				}
			}
		})
	}
}

func TestSetHeaders(t *testing.T) {
	cases := []struct {
		name     string
		existing map[string]string
		headers  map[string]string
		want     map[string]string
	}{
		{"set when absent",
			nil,
			map[string]string{"X-Change-Agent": "{agent}"},
			map[string]string{"X-Change-Agent": "loopguard"}},
		{"append to an existing Sforce-Call-Options",
			map[string]string{"Sforce-Call-Options": "defaultNamespace=acme"},
			map[string]string{"Sforce-Call-Options": "client={agent}"},
			map[string]string{"Sforce-Call-Options": "defaultNamespace=acme, client=loopguard"}},
		{"not appended twice",
			map[string]string{"Sforce-Call-Options": "defaultNamespace=acme, client=loopguard"},
			map[string]string{"Sforce-Call-Options": "client={agent}"},
			map[string]string{"Sforce-Call-Options": "defaultNamespace=acme, client=loopguard"}},
		{"several headers, literal values",
			map[string]string{"User-Agent": "app/1.0"},
			map[string]string{"X-Change-Agent": "{agent}", "X-Source": "sync-{agent}-v1"},
			map[string]string{"X-Change-Agent": "loopguard", "X-Source": "sync-loopguard-v1", "User-Agent": "app/1.0"}},
		{"header name case does not matter",
			map[string]string{"x-change-agent": "app"},
			map[string]string{"X-CHANGE-AGENT": "{agent}"},
			map[string]string{"X-Change-Agent": "app, loopguard"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range c.existing {
				h.Set(k, v)
			}
			SetHeaders(h, c.headers, "loopguard")
			for k, v := range c.want {
				if got := h.Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("%s = %q, want [%q]", k, got, v)
				}
			}
			if len(h) != len(c.want) {
				t.Errorf("headers = %v, want exactly %v", h, c.want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	if got := Expand("client={agent}; x={agent}", "lg"); got != "client=lg; x=lg" {
		t.Fatalf("Expand = %q", got)
	}
	if got := Expand("literal", "lg"); got != "literal" {
		t.Fatalf("Expand literal = %q", got)
	}
}
