package tagging

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// contactFields are the tracked fields of the contact fixtures.
var contactFields = []string{"name", "email", "amount", "active", "note"}

// readFixture returns a testdata file's bytes.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

// fingerprintFile fingerprints a fixture: JSON records by FromJSON, .form
// files by FromForm.
func fingerprintFile(t *testing.T, f *Fingerprinter, name string) (uint64, []FieldHash) {
	t.Helper()
	b := readFixture(t, name)
	var fs []FieldHash
	if strings.HasSuffix(name, ".form") {
		vals, err := url.ParseQuery(string(b))
		if err != nil {
			t.Fatalf("parse form fixture %s: %v", name, err)
		}
		fs = f.FromForm(nil, vals)
	} else {
		if !gjson.ValidBytes(b) {
			t.Fatalf("fixture %s is not valid JSON", name)
		}
		fs = f.FromJSON(nil, gjson.ParseBytes(b))
	}
	return Combine(fs), fs
}

func TestFingerprintEquivalence(t *testing.T) {
	normAll := map[string][]string{"*": {"trim"}, "email": {"lower"}, "amount": {"number"}}
	cases := []struct {
		name      string
		a, b      string
		normalize map[string][]string
		equal     bool
	}{
		{"key order and whitespace do not matter", "contact.json", "contact_reordered.json", nil, true},
		{"volatile untracked fields are ignored", "contact.json", "contact_volatile.json", nil, true},
		{"normalised trim lower number", "contact.json", "contact_unnormalised.json", normAll, true},
		{"without normalisation spaces, case and 100.0 differ", "contact.json", "contact_unnormalised.json", nil, false},
		{"a changed tracked value differs", "contact.json", "contact_changed.json", nil, false},
		{"a changed tracked value differs after normalisation", "contact.json", "contact_changed.json", normAll, false},
		{"an absent field is not the same as null", "contact.json", "contact_missing_field.json", nil, false},
		{"form body equals JSON body of the same values", "contact.json", "contact.form", nil, true},
		{"form body equals reordered JSON body", "contact.form", "contact_reordered.json", nil, true},
		{"form body differs from changed JSON", "contact.form", "contact_changed.json", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := NewFingerprinter(contactFields, c.normalize)
			fa, la := fingerprintFile(t, f, c.a)
			fb, lb := fingerprintFile(t, f, c.b)
			if len(la) == 0 || len(lb) == 0 {
				t.Fatalf("no tracked fields found: %d / %d", len(la), len(lb))
			}
			if (fa == fb) != c.equal {
				t.Fatalf("Combine(%s)=%x Combine(%s)=%x, want equal=%v\n%v\n%v", c.a, fa, c.b, fb, c.equal, la, lb)
			}
		})
	}
}

func TestFromJSONSortedTrackedOnly(t *testing.T) {
	// Tracked fields given out of order and duplicated come back sorted and
	// unique; untracked fields (id, updated_at) never appear.
	f := NewFingerprinter([]string{"note", "email", "name", "email", "amount", "active"}, nil)
	if got, want := strings.Join(f.Fields(), ","), "active,amount,email,name,note"; got != want {
		t.Fatalf("Fields() = %s, want %s", got, want)
	}
	_, fs := fingerprintFile(t, f, "contact_volatile.json")
	var names []string
	for _, fh := range fs {
		names = append(names, fh.Name)
	}
	if got, want := strings.Join(names, ","), "active,amount,email,name,note"; got != want {
		t.Fatalf("FromJSON names = %s, want %s", got, want)
	}
	// dst is appended to, not overwritten.
	pre := []FieldHash{{Name: "x", Hash: 1}}
	out := f.FromJSON(pre, gjson.Parse(`{"name":"a"}`))
	if len(out) != 2 || out[0].Name != "x" || out[1].Name != "name" {
		t.Fatalf("FromJSON did not append to dst: %v", out)
	}
}

func TestFromJSONNotObject(t *testing.T) {
	f := NewFingerprinter(contactFields, nil)
	for _, in := range []string{`[1,2]`, `"name"`, `42`, `null`, ``} {
		t.Run(in, func(t *testing.T) {
			if got := f.FromJSON(nil, gjson.Parse(in)); len(got) != 0 {
				t.Fatalf("FromJSON(%q) = %v, want nothing", in, got)
			}
		})
	}
}

func TestFieldHashValues(t *testing.T) {
	// Each case fingerprints one field "v" from two JSON values (or a form
	// value, written as form:...).
	cases := []struct {
		name  string
		norm  []string
		a, b  string
		equal bool
	}{
		{"null equals empty string", nil, `null`, `""`, true},
		{"null equals empty form value", nil, `null`, `form:`, true},
		{"form 100 equals JSON 100", nil, `100`, `form:100`, true},
		{"JSON string 100 equals JSON number 100", nil, `"100"`, `100`, true},
		{"form true equals JSON true", nil, `true`, `form:true`, true},
		{"false is not true", nil, `false`, `true`, false},
		{"1.0 differs from 1 without number", nil, `1.0`, `1`, false},
		{"1.0 equals 1 with number", []string{"number"}, `1.0`, `1`, true},
		{"string 1.0 equals number 1 with number", []string{"number"}, `"1.0"`, `1`, true},
		{"1e2 equals form 100 with number", []string{"number"}, `1e2`, `form:100`, true},
		{"number leaves non-numbers alone", []string{"number"}, `"abc"`, `"abc"`, true},
		{"number does not merge distinct numbers", []string{"number"}, `1.5`, `1.50001`, false},
		{"trim", []string{"trim"}, `"  Ada\t"`, `"Ada"`, true},
		{"no trim", nil, `"  Ada"`, `"Ada"`, false},
		{"lower", []string{"lower"}, `"ADA@Example.com"`, `"ada@example.com"`, true},
		{"no lower", nil, `"ADA"`, `"ada"`, false},
		{"trim and lower", []string{"trim", "lower"}, `" ADA "`, `form:ada`, true},
		{"unknown normalisation is ignored", []string{"upper"}, `"A"`, `"a"`, false},
		{"empty string is not absent-but-zero", nil, `""`, `0`, false},
		{"objects hash by their raw text", nil, `{"a":1}`, `{"a":1}`, true},
		{"different objects differ", nil, `{"a":1}`, `{"a":2}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := NewFingerprinter([]string{"v"}, map[string][]string{"v": c.norm})
			ha, hb := hashOf(t, f, c.a), hashOf(t, f, c.b)
			if (ha == hb) != c.equal {
				t.Fatalf("hash(%s)=%x hash(%s)=%x, want equal=%v", c.a, ha, c.b, hb, c.equal)
			}
		})
	}
}

// hashOf fingerprints the single field "v" given as JSON or "form:value".
func hashOf(t *testing.T, f *Fingerprinter, v string) uint64 {
	t.Helper()
	var fs []FieldHash
	if rest, ok := strings.CutPrefix(v, "form:"); ok {
		fs = f.FromForm(nil, url.Values{"v": {rest}})
	} else {
		fs = f.FromJSON(nil, gjson.Parse(`{"v":`+v+`}`))
	}
	if len(fs) != 1 {
		t.Fatalf("value %s: got %d field hashes, want 1", v, len(fs))
	}
	return fs[0].Hash
}

func TestStarNormalisationAppliesToEveryField(t *testing.T) {
	f := NewFingerprinter([]string{"a", "b"}, map[string][]string{"*": {"lower"}, "b": {"trim"}})
	x := Combine(f.FromJSON(nil, gjson.Parse(`{"a":"X","b":"  Y  "}`)))
	y := Combine(f.FromJSON(nil, gjson.Parse(`{"a":"x","b":"y"}`)))
	if x != y {
		t.Fatalf("'*' lower plus per-field trim: %x != %x", x, y)
	}
}

func TestNestedTrackedFields(t *testing.T) {
	f := NewFingerprinter([]string{"properties.email", "properties.firstname"}, nil)
	body := readFixture(t, "hubspot_patch.json")
	fs := f.FromJSON(nil, gjson.ParseBytes(body))
	if len(fs) != 2 || fs[0].Name != "properties.email" || fs[1].Name != "properties.firstname" {
		t.Fatalf("nested FromJSON = %v", fs)
	}
	// The form encoding of the same nested fields uses bracketed keys.
	form := url.Values{"properties[email]": {"ada@example.com"}, "properties[firstname]": {"Ada"}}
	if got, want := Combine(f.FromForm(nil, form)), Combine(fs); got != want {
		t.Fatalf("form %x != JSON %x", got, want)
	}
}

func TestFromFormLastValueWins(t *testing.T) {
	f := NewFingerprinter([]string{"v"}, nil)
	multi := f.FromForm(nil, url.Values{"v": {"first", "last"}})
	last := f.FromForm(nil, url.Values{"v": {"last"}})
	if len(multi) != 1 || multi[0] != last[0] {
		t.Fatalf("repeated key: got %v, want %v", multi, last)
	}
	if got := f.FromForm(nil, url.Values{"v": {}}); len(got) != 0 {
		t.Fatalf("key without values: got %v, want nothing", got)
	}
}

func TestProperty(t *testing.T) {
	f := NewFingerprinter([]string{"email", "firstname"}, map[string][]string{"email": {"lower"}})
	rec := f.FromJSON(nil, gjson.Parse(`{"email":"ada@example.com"}`))
	cases := []struct {
		name, prop, value string
		tracked           bool
		wantHash          uint64
	}{
		{"tracked property hashes like the record field", "email", `"ADA@example.com"`, true, rec[0].Hash},
		{"untracked property", "hs_lastmodifieddate", `"1"`, false, 0},
		{"empty name", "", `"x"`, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fh, ok := f.Property(c.prop, gjson.Parse(c.value))
			if ok != c.tracked {
				t.Fatalf("Property(%q) ok=%v, want %v", c.prop, ok, c.tracked)
			}
			if ok && (fh.Name != c.prop || fh.Hash != c.wantHash) {
				t.Fatalf("Property(%q) = %v, want hash %x", c.prop, fh, c.wantHash)
			}
		})
	}
}

func TestCombine(t *testing.T) {
	a := []FieldHash{{"a", 1}, {"b", 2}}
	cases := []struct {
		name  string
		other []FieldHash
		equal bool
	}{
		{"same fields", []FieldHash{{"a", 1}, {"b", 2}}, true},
		{"a value changed", []FieldHash{{"a", 1}, {"b", 3}}, false},
		{"a name changed", []FieldHash{{"a", 1}, {"c", 2}}, false},
		{"a field missing", []FieldHash{{"a", 1}}, false},
		{"names and hashes are not interchangeable", []FieldHash{{"a", 2}, {"b", 1}}, false},
		{"empty", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if (Combine(a) == Combine(c.other)) != c.equal {
				t.Fatalf("Combine equality with %v: want %v", c.other, c.equal)
			}
		})
	}
	if Combine(nil) != Combine([]FieldHash{}) {
		t.Fatal("Combine(nil) != Combine(empty)")
	}
}
