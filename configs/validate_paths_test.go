package configs

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNeverMatchReported loads each testdata/never_match file, whose first
// line is "# want: <text>", and expects the load to fail with that text.
func TestNeverMatchReported(t *testing.T) {
	files, err := filepath.Glob("testdata/never_match/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			line, _, _ := bufio.NewReader(bytes.NewReader(b)).ReadLine()
			want, ok := strings.CutPrefix(string(line), "# want: ")
			if !ok {
				t.Fatalf("first line %q is not \"# want: …\"", line)
			}
			_, err = Load(f, nil)
			if err == nil {
				t.Fatalf("loaded without error, want %q", want)
			}
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), f) {
				t.Fatalf("error %q does not name the file and %q", err, want)
			}
		})
	}
}

// TestNeverMatchAllowsValid checks that the checks leave valid uses alone.
func TestNeverMatchAllowsValid(t *testing.T) {
	cases := []struct{ name, yaml string }{
		{"body path rooted anywhere", `providers: [{use: generic, webhooks: [{path: /h, batch: events, event_id: ["body:events.0.id", id]}]}]`},
		{"a path merely starting like the batch", `providers: [{use: generic, webhooks: [{path: /h, batch: events, event_id: [eventsId]}]}]`},
		{"create route without id", `providers: [{use: generic, writes: [{path: /v1/things, methods: [POST]}]}]`},
		{"tag-only bulk route", `providers: [{use: generic, writes: [{path: /v1/things, methods: [PUT], tag_only: true}]}]`},
		{"create template with the created id", `providers: [{use: generic, writes: [{path: "/r/{owner}/things", methods: [POST], record_id: "{owner}:{id}"}]}]`},
		{"routes of a group with conditions", `providers: [{use: generic, webhooks: [{path: /h, event_id: [id], when: {from: type, in: [a]}}, {path: /h, event_id: [id]}]}]`},
		{"prefix marker with an idempotency key", `providers: [{use: generic, tagging: {idempotency_key: {header: Idempotency-Key}}, webhooks: [{path: /h, event_id: [id], markers: [{from: k, match: prefix, value: "{idempotency_prefix}"}]}]}]`},
		{"only tag-only writes and skinny events need no tracked fields", `providers: [{use: generic, tracked_fields: [], writes: [{path: "/x/{a...}", methods: [PUT], tag_only: true}], webhooks: [{path: /h, event_id: [id]}]}]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := LoadBytes("v.yaml", []byte(c.yaml), nil); err != nil {
				t.Fatalf("valid profile rejected: %v", err)
			}
		})
	}
}

func TestValueSpecs(t *testing.T) {
	cases := []struct {
		spec string
		alts []string
		ok   bool
	}{
		{"", nil, true},
		{"a.b", []string{"a.b"}, true},
		{"a ?? b ?? =-", []string{"a", "b", "=-"}, true},
		{"header:X-A ?? body:x", []string{"header:X-A", "body:x"}, true},
		{"a ?? ", []string{"a", ""}, false},
		{"header:", []string{"header:"}, false},
		{"a ?? body:", []string{"a", "body:"}, false},
		{"{a", []string{"{a"}, false},
		{"=literal {", []string{"=literal {"}, true},
	}
	for _, c := range cases {
		t.Run(c.spec, func(t *testing.T) {
			if got := SpecAlternatives(c.spec); strings.Join(got, "|") != strings.Join(c.alts, "|") || len(got) != len(c.alts) {
				t.Fatalf("SpecAlternatives = %q, want %q", got, c.alts)
			}
			if err := CheckValueSpec(c.spec); (err == nil) != c.ok {
				t.Fatalf("CheckValueSpec = %v, want ok=%v", err, c.ok)
			}
		})
	}
}
