package configs

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestBuiltinProfiles loads every built-in profile as a deployment would
// (providers: [{use: name}]) and pins the choices each one documents.
func TestBuiltinProfiles(t *testing.T) {
	cases := []struct {
		name, hold, family, scheme string
		// marker is the from of the first webhook route's first marker.
		marker string
		// tagHeader is a header every matched write carries ("" for none).
		tagHeader string
		sentinel  string
	}{
		{"generic", "reject", "auto", "", "header:X-Change-Agent", "X-Change-Agent", ""}, // no sentinel unless asked (issue 13)
		{"github", "hold", "x-ratelimit", "github", "", "", ""},
		{"hubspot", "reject", "hubspot", "hubspot-v3", "", "", "loopguard_sync"},
		{"jira", "reject", "x-ratelimit", "jira", "", "", ""},
		{"pipedrive", "hold", "auto", "", "", "", ""},
		{"salesforce", "hold", "salesforce", "", "data.payload.ChangeEventHeader.changeOrigin ?? payload.ChangeEventHeader.changeOrigin ?? ChangeEventHeader.changeOrigin", "Sforce-Call-Options", ""},
		{"smartsheet", "hold", "auto", "smartsheet", "changeAgent", "Smartsheet-Change-Agent", ""},
		{"stripe", "reject", "auto", "stripe", "request.idempotency_key", "", "metadata.loopguard"},
		{"zendesk", "hold", "zendesk", "zendesk", "", "", ""},
		{"linear", "hold", "auto", "linear", "", "", ""},
		{"shopify", "reject", "shopify", "shopify", "", "", ""},
		{"asana", "hold", "auto", "asana", "", "", ""},
		{"airtable", "hold", "auto", "airtable", "", "", ""},
	}

	if got, want := len(Builtins()), len(cases); got != want {
		t.Fatalf("%d built-in profiles %v, the table pins %d", got, Builtins(), want)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw, err := BuiltinProfile(c.name)
			if err != nil {
				t.Fatal(err)
			}
			// Defaults must not decide these: the file states them.
			var top map[string]yaml.Node
			if err := yaml.Unmarshal(raw, &top); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"hold_policy", "rate_limit", "tracked_fields", "writes", "webhooks"} {
				if _, ok := top[k]; !ok && !(k == "tracked_fields" && c.name == "smartsheet") {
					t.Errorf("the profile file does not state %s", k)
				}
			}
			l, err := LoadBytes("x.yaml", []byte("providers: [{use: "+c.name+", signature: {secret: test-secret}}]\n"), nil)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			p := l.Providers[0]
			if p.HoldPolicy != c.hold || p.RateLimit.Family != c.family || p.Signature.Scheme != c.scheme {
				t.Fatalf("hold/family/scheme = %s/%s/%s, want %s/%s/%s", p.HoldPolicy, p.RateLimit.Family, p.Signature.Scheme, c.hold, c.family, c.scheme)
			}
			if p.Tagging.SentinelField != c.sentinel {
				t.Fatalf("sentinel_field = %q, want %q", p.Tagging.SentinelField, c.sentinel)
			}
			marker := ""
			if len(p.Webhooks) > 0 && len(p.Webhooks[0].Markers) > 0 {
				marker = p.Webhooks[0].Markers[0].From
			}
			if marker != c.marker {
				t.Fatalf("first marker from %q, want %q", marker, c.marker)
			}
			if c.tagHeader != "" && p.Tagging.Headers[c.tagHeader] == "" {
				t.Fatalf("writes are not tagged with %s: %v", c.tagHeader, p.Tagging.Headers)
			}
			if len(p.Webhooks) == 0 || len(p.Writes) == 0 {
				t.Fatal("a built-in profile needs write and webhook routes")
			}
			// Every cited doc is an https URL named in the header comment too.
			if len(p.Docs) == 0 && c.name != "generic" {
				t.Fatal("no docs cited")
			}
			for _, d := range p.Docs {
				if !strings.HasPrefix(d, "https://") || !citedInComment(string(raw), d) {
					t.Errorf("doc %q is not an https URL cited in the header comment", d)
				}
			}
		})
	}
}

// citedInComment reports whether a comment line of the file names url.
func citedInComment(file, url string) bool {
	for _, line := range strings.Split(file, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") && strings.Contains(line, url) {
			return true
		}
	}
	return false
}

// TestProvidersReadme keeps providers/README.md accurate: its example
// profile loads from a file, every built-in has a row in the table, and
// every profile key is documented.
func TestProvidersReadme(t *testing.T) {
	b, err := os.ReadFile("providers/README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	t.Run("example loads", func(t *testing.T) {
		_, rest, ok := strings.Cut(doc, "### Example\n\n```yaml\n")
		example, _, ok2 := strings.Cut(rest, "```")
		if !ok || !ok2 {
			t.Fatal("no yaml example under ### Example")
		}
		f := filepath.Join(t.TempDir(), "acme.yaml")
		if err := os.WriteFile(f, []byte(example), 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := LoadBytes("x.yaml", []byte("provider_files: ["+f+"]\nproviders: [{use: acme, signature: {secret: test-secret}}]\n"), nil)
		if err != nil {
			t.Fatalf("README example: %v", err)
		}
		if p := l.Providers[0]; p.Name != "acme" || len(p.Webhooks) != 1 || p.Webhooks[0].Markers[0].Separator != "|" {
			t.Fatalf("README example loaded as %+v", p.Profile)
		}
	})
	t.Run("table lists every built-in", func(t *testing.T) {
		for _, n := range Builtins() {
			if !strings.Contains(doc, "\n| `"+n+"` |") {
				t.Errorf("no table row for %s", n)
			}
		}
	})
	t.Run("every leaf key is documented", func(t *testing.T) {
		var walk func(prefix string, ty reflect.Type)
		walk = func(prefix string, ty reflect.Type) {
			for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice {
				ty = ty.Elem()
			}
			if ty.Kind() != reflect.Struct || isCustomScalar(ty) {
				return
			}
			for k, ft := range yamlFields(ty) {
				leaf := ft
				for leaf.Kind() == reflect.Pointer || leaf.Kind() == reflect.Slice {
					leaf = leaf.Elem()
				}
				if leaf.Kind() == reflect.Struct && !isCustomScalar(leaf) {
					// Documented through its keys.
					walk(prefix+k+".", ft)
					continue
				}
				if !strings.Contains(doc, "`"+k+"`") && !strings.Contains(doc, "`"+prefix+k+"`") &&
					!strings.Contains(doc, "."+k+"`") && !strings.Contains(doc, "/ `"+k+"`") {
					t.Errorf("key %s%s is not documented", prefix, k)
				}
				walk(prefix+k+".", ft)
			}
		}
		walk("", reflect.TypeFor[Profile]())
	})
}
