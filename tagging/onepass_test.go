package tagging

import (
	"testing"

	"github.com/tidwall/gjson"
)

// TestOnePassMatchesPathLookups: reading top-level tracked fields in one
// scan gives exactly what a path lookup per field gives.
func TestOnePassMatchesPathLookups(t *testing.T) {
	fast := NewFingerprinter([]string{"email", "name", "phone", "status", "n"}, map[string][]string{"email": {"trim", "lower"}, "n": {"number"}})
	if fast.index == nil {
		t.Fatal("plain top-level fields should use the one-pass reader")
	}
	slow := *fast
	slow.index = nil
	cases := []struct{ name, rec string }{
		{"all present", `{"email":" A@B.C ","name":"Ada","phone":"1","status":"x","n":1.50}`},
		{"some missing", `{"name":"Ada","other":{"email":"nested@x"}}`},
		{"duplicate key keeps the first", `{"name":"first","name":"second"}`},
		{"escaped key", `{"na\u006de":"escaped","email":null}`},
		{"nested values", `{"name":{"first":"A","last":"L"},"status":[1,2],"n":"2"}`},
		{"empty", `{}`},
		{"not an object", `[1,2]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := gjson.Parse(c.rec)
			got := fast.FromJSON(nil, rec)
			want := slow.FromJSON(nil, rec)
			if len(got) != len(want) {
				t.Fatalf("one pass %+v, lookups %+v", got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("field %d: one pass %+v, lookups %+v", i, got[i], want[i])
				}
			}
		})
	}
	if NewFingerprinter([]string{"priority.id", "name"}, nil).index != nil {
		t.Fatal("dotted paths must use path lookups")
	}
}
