package signature

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewErrors(t *testing.T) {
	cases := []struct {
		name     string
		cfg      Config
		contains []string // substrings the error must name
	}{
		{"unknown scheme", Config{Scheme: "gitlab", Secret: testSecret}, append([]string{`"gitlab"`}, Known()...)},
		{"empty scheme", Config{Secret: testSecret}, []string{"unknown scheme"}},
		{"scheme is case-sensitive", Config{Scheme: "GitHub", Secret: testSecret}, []string{`"GitHub"`}},
		{"empty secret", Config{Scheme: SchemeGitHub}, []string{"secret is empty"}},
		{"empty secret generic", Config{Scheme: SchemeGeneric, Header: "X-Sig"}, []string{"secret is empty"}},
		{"generic without header", Config{Scheme: SchemeGeneric, Secret: testSecret}, []string{"Header is required"}},
		{"generic bad encoding", Config{Scheme: SchemeGeneric, Secret: testSecret, Header: "X", Encoding: "base32"}, []string{"base32"}},
		{"payload without timestamp header", Config{Scheme: SchemeGeneric, Secret: testSecret, Header: "X", Payload: "{timestamp}.{body}"}, []string{"TimestampHeader"}},
		{"format without timestamp header", Config{Scheme: SchemeGeneric, Secret: testSecret, Header: "X", TimestampFormat: "unix"}, []string{"TimestampHeader"}},
		{"tolerance without timestamp header", Config{Scheme: SchemeGeneric, Secret: testSecret, Header: "X", Tolerance: time.Minute}, []string{"TimestampHeader"}},
		{"payload without body", Config{Scheme: SchemeGeneric, Secret: testSecret, Header: "X", TimestampHeader: "T", Payload: "{timestamp}"}, []string{"{body}"}},
		{"payload misspelt", Config{Scheme: SchemeGeneric, Secret: testSecret, Header: "X", TimestampHeader: "T", Payload: "{ts}.{body}"}, []string{"{ts}"}},
		{"bad timestamp format", Config{Scheme: SchemeGeneric, Secret: testSecret, Header: "X", TimestampHeader: "T", TimestampFormat: "iso"}, []string{`"iso"`}},
		{"generic field on provider", Config{Scheme: SchemeStripe, Secret: testSecret, Header: "X-Sig"}, []string{"Header", SchemeGeneric}},
		{"encoding on provider", Config{Scheme: SchemeShopify, Secret: testSecret, Encoding: "hex"}, []string{"Encoding"}},
		{"tolerance on untimed provider", Config{Scheme: SchemeGitHub, Secret: testSecret, Tolerance: time.Minute}, []string{"no timestamp"}},
		{"tolerance on asana", Config{Scheme: SchemeAsana, Secret: testSecret, Tolerance: time.Minute}, []string{"no timestamp"}},
		{"airtable secret not base64", Config{Scheme: SchemeAirtable, Secret: testSecret}, []string{"secret", "base64"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(c.cfg)
			if err == nil {
				t.Fatalf("New(%v) = %v, want error", c.cfg, s)
			}
			if s != nil {
				t.Fatalf("New returned scheme %v with error", s)
			}
			for _, want := range c.contains {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error %q leaks the secret", err)
			}
		})
	}
}

func TestNewAccepts(t *testing.T) {
	cases := []Config{
		{Scheme: SchemeGitHub, Secret: testSecret, Tolerance: -1},
		{Scheme: SchemeZendesk, Secret: testSecret, Tolerance: time.Minute},
		{Scheme: SchemeGeneric, Secret: testSecret, Header: "X", Encoding: "hex", TimestampHeader: "T", TimestampFormat: "rfc3339"},
		{Scheme: SchemeGeneric, Secret: testSecret, Header: "X", Encoding: "base64", TimestampHeader: "T", Payload: "v0:{timestamp}:{body}"},
	}
	for _, name := range Known() {
		cfg := Config{Scheme: name, Secret: testSecret}
		switch name {
		case SchemeGeneric:
			cfg.Header = "X-Sig"
		case SchemeAirtable:
			cfg.Secret = "c2VjcmV0LWtleS1ieXRlcw=="
		}
		cases = append(cases, cfg)
	}
	for _, cfg := range cases {
		t.Run(cfg.Scheme, func(t *testing.T) {
			s := mustNew(t, cfg)
			if s.Name() != cfg.Scheme {
				t.Fatalf("Name() = %q, want %q", s.Name(), cfg.Scheme)
			}
		})
	}
}

func TestKnownSortedAndComplete(t *testing.T) {
	got := Known()
	if !slices.IsSorted(got) {
		t.Fatalf("Known() not sorted: %v", got)
	}
	want := []string{"airtable", "asana", "github", "hmac-sha256", "hubspot-v3", "jira", "linear", "shopify", "smartsheet", "stripe", "zendesk"}
	if !slices.Equal(got, want) {
		t.Fatalf("Known() = %v, want %v", got, want)
	}
	got[0] = "mutated"
	if Known()[0] != "airtable" {
		t.Fatal("Known() returns shared state")
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	cfg := Config{Scheme: SchemeStripe, Secret: testSecret}
	s := mustNew(t, cfg)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for name, v := range map[string]any{"config": cfg, "config ptr": &cfg, "scheme": s} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, testSecret) || strings.Contains(out, fmt.Sprint([]byte(testSecret))) {
				t.Errorf("fmt %s of %s leaks the secret: %s", verb, name, out)
			}
		}
	}
	if !strings.Contains(cfg.String(), "[redacted]") || !strings.Contains(cfg.String(), SchemeStripe) {
		t.Errorf("Config.String() = %q, want scheme and [redacted]", cfg.String())
	}
}
