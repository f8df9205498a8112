package configs

import (
	"os"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) LookupEnv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadEmbeddedDefault(t *testing.T) {
	l, err := LoadBytes(DefaultFile, Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if c.Agent != "loopguard" || c.Listen.Outbound != "127.0.0.1:8080" || c.Listen.Inbound != ":8081" || c.Listen.Admin != "127.0.0.1:9090" {
		t.Fatalf("defaults: %+v", c.Listen)
	}
	if c.Ledger.WriteTTL.D() != 10*time.Minute || c.Inbound.MaxBodyBytes != 5<<20 || c.Outbound.MaxBodyBytes != 10<<20 {
		t.Fatalf("defaults: %+v %+v", c.Ledger, c.Inbound)
	}
	if len(l.Providers) != 1 || l.Providers[0].Name != "generic" || !l.Providers[0].Layers["fingerprint"] || l.Providers[0].Layers["skinny"] {
		t.Fatalf("providers: %+v", l.Providers)
	}
}

func TestEnvWins(t *testing.T) {
	l, err := LoadBytes("x.yaml", []byte("agent: fromfile\nproviders: [{use: generic}]\n"), env(map[string]string{
		"LOOPGUARD_AGENT": "fromenv", "LOOPGUARD_LEDGER_WRITE_TTL": "5m", "LOOPGUARD_OBSERVE": "true",
		"LOOPGUARD_PROVIDER_GENERIC_SECRET": "s", "LOOPGUARD_PROVIDER_GENERIC_INTEGRATION_USERS": "a, b",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if l.Config.Agent != "fromenv" || l.Config.Ledger.WriteTTL.D() != 5*time.Minute || !l.Config.Observe {
		t.Fatalf("env not applied: %+v", l.Config)
	}
	p := l.Providers[0]
	if p.Signature.Secret.Value() != "s" || strings.Join(p.IntegrationUsers, ",") != "a,b" {
		t.Fatalf("provider env not applied: %+v", p.Profile)
	}
	if p.Signature.Secret.String() != Redacted {
		t.Error("secret prints")
	}
	if _, err := LoadBytes("x.yaml", nil, env(map[string]string{"LOOPGUARD_LEDGER_WRITE_TTL": "soon"})); err == nil || !strings.Contains(err.Error(), "LOOPGUARD_LEDGER_WRITE_TTL") {
		t.Fatalf("bad env value: %v", err)
	}
}

func TestAccountOverrides(t *testing.T) {
	l, err := Load("testdata/account_overrides.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	p := l.Providers[0]
	if got := p.For("acme"); got.Tagging.SentinelField != "Integration_Source__c" || got.IntegrationUsers[0] != "u_acme" || got.Tagging.Headers["X-Change-Agent"] == "" {
		t.Fatalf("acme profile: %+v", got)
	}
	if got := p.For("other"); got.Tagging.SentinelField != "" || got.IntegrationUsers[0] != "u_deploy" {
		t.Fatalf("default profile: %+v", got)
	}
}

func TestLoadErrorsNameFieldAndReason(t *testing.T) {
	cases := []struct {
		file string
		want []string
	}{
		{"testdata/bad_route.yaml", []string{"writes[0].record_id", "recordId", "never match"}},
		{"testdata/bad_values.yaml", []string{"log.format", `"xml"`, "cert_file and key_file"}},
		{"testdata/bad_hold.yaml", []string{"spool.max_item_bytes", "inbound.max_body_bytes", "spool.dead_letter.max_attempts"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			_, err := Load(c.file, nil)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	b, _ := os.ReadFile("testdata/bad_values.yaml")
	_, err := LoadBytes("v.yaml", []byte(strings.Replace(string(b), "format: xml", "format: json", 1)+"\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "cert_file") {
		t.Fatalf("ca error: %v", err)
	}
	_, err = LoadBytes("v.yaml", []byte("providers: [{use: generic, hold_policy: maybe, layers: {finger: true}}]"), nil)
	if err == nil || !strings.Contains(err.Error(), "hold_policy") || !strings.Contains(err.Error(), "finger") {
		t.Fatalf("profile errors: %v", err)
	}
	_, err = LoadBytes("v.yaml", []byte("providers: [{use: generic, webhooks: [{path: /w, body: \"form_field:\"}]}]"), nil)
	if err == nil || !strings.Contains(err.Error(), "webhooks[0].body") {
		t.Fatalf("webhook body without a field name: %v", err)
	}
	_, err = LoadBytes("v.yaml", []byte("providers: [{use: nosuch}]"), nil)
	if err == nil || !strings.Contains(err.Error(), `no profile named "nosuch"`) {
		t.Fatalf("unknown profile: %v", err)
	}
}

func TestParseSizesAndDurations(t *testing.T) {
	for in, want := range map[string]int64{"5MiB": 5 << 20, "512KB": 512 << 10, "10": 10, "1GiB": 1 << 30} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v", in, got, err)
		}
	}
	if _, err := ParseByteSize("lots"); err == nil {
		t.Error("ParseByteSize(lots) must fail")
	}
	if d, err := ParseDuration("90"); err != nil || d != 90*time.Second {
		t.Errorf("bare seconds: %v %v", d, err)
	}
}

func TestProviderFileAddsNewAPI(t *testing.T) {
	dir := t.TempDir()
	prof := "name: madeup\nhosts: [api.madeup.test]\ntracked_fields: [title]\ntagging: {headers: {X-Origin: \"{agent}\"}}\nwrites: [{path: \"/items/{id}\", object: item}]\n"
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(dir+"/madeup.yaml", []byte(prof), 0o644))
	l, err := LoadBytes("x.yaml", []byte("provider_files: ["+dir+"/madeup.yaml]\nproviders: [{use: madeup}]\n"), nil)
	must(err)
	if l.Providers[0].Name != "madeup" || l.Providers[0].Writes[0].Object != "item" {
		t.Fatalf("file profile: %+v", l.Providers[0].Profile)
	}
}
