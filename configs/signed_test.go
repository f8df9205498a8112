package configs

import (
	"strings"
	"testing"
)

func TestSignedProvidersNeedTheirSecret(t *testing.T) {
	cases := []struct {
		name    string
		yaml    string
		env     map[string]string
		wantErr string
		trusted bool
	}{
		{name: "no secret refuses", yaml: "providers: [{use: github}]", wantErr: "signature.secret: required"},
		{name: "the error names the keys", yaml: "providers: [{use: stripe, name: billing}]",
			wantErr: "LOOPGUARD_PROVIDER_BILLING_SECRET), or set signature.trust_unsigned: true (or LOOPGUARD_PROVIDER_BILLING_TRUST_UNSIGNED=true)"},
		{name: "secret in yaml", yaml: "providers: [{use: github, signature: {secret: s3cret}}]"},
		{name: "secret in env", yaml: "providers: [{use: hubspot}]", env: map[string]string{"LOOPGUARD_PROVIDER_HUBSPOT_SECRET": "s3cret"}},
		{name: "trust_unsigned in yaml", yaml: "providers: [{use: zendesk, signature: {trust_unsigned: true}}]", trusted: true},
		{name: "trust_unsigned in env", yaml: "providers: [{use: jira}]", env: map[string]string{"LOOPGUARD_PROVIDER_JIRA_TRUST_UNSIGNED": "true"}, trusted: true},
		{name: "trust_unsigned env false", yaml: "providers: [{use: jira, signature: {trust_unsigned: true}}]",
			env: map[string]string{"LOOPGUARD_PROVIDER_JIRA_TRUST_UNSIGNED": "false"}, wantErr: "signature.secret: required"},
		{name: "trust_unsigned env malformed", yaml: "providers: [{use: jira}]", env: map[string]string{"LOOPGUARD_PROVIDER_JIRA_TRUST_UNSIGNED": "yes please"}, wantErr: "want true or false"},
		{name: "secret wins over trust", yaml: "providers: [{use: github, signature: {secret: s, trust_unsigned: true}}]"},
		{name: "unsigned profile needs nothing", yaml: "providers: [{use: generic}, {use: salesforce}, {use: pipedrive}]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := LoadBytes("x.yaml", []byte(c.yaml+"\n"), func(k string) (string, bool) { v, ok := c.env[k]; return v, ok })
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := UnsignedTrusted(&l.Providers[0].Profile); got != c.trusted {
				t.Fatalf("UnsignedTrusted = %v, want %v", got, c.trusted)
			}
		})
	}
}

// TestDefaultNeedsNoSetup: the embedded default starts with no secret, no
// token and no environment.
func TestDefaultNeedsNoSetup(t *testing.T) {
	if _, err := LoadBytes(DefaultFile, Default(), nil); err != nil {
		t.Fatal(err)
	}
}
