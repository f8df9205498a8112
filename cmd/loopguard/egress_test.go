package main

import (
	"strings"
	"testing"
)

// TestValidateShowsEgress: validate prints outbound.allow and
// outbound.tunnel, and names a bad CIDR and a bad mode clearly.
func TestValidateShowsEgress(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t, "validate", "--config", "testdata/egress.yaml")
	if code != 0 {
		t.Fatalf("validate: %d %s", code, errOut)
	}
	for _, w := range []string{"allow:\n    - db.internal:5432\n    - 10.0.0.0/8\n    - '*.corp.example'\n", "tunnel: configured"} {
		if !strings.Contains(out, w) {
			t.Errorf("validate output lacks %q:\n%s", w, out)
		}
	}
	code, out, _ = run(t, "validate", "--config", "../../configs/loopguard.yaml")
	if code != 0 || !strings.Contains(out, "allow: []") || !strings.Contains(out, "tunnel: public") {
		t.Errorf("default config: validate shows no egress defaults:\n%s", out)
	}
	code, _, errOut = run(t, "validate", "--config", "testdata/bad_egress_cidr_and_mode.yaml")
	for _, w := range []string{`outbound.allow: [0] "10.0.0.1/8": host bits are set: did you mean 10.0.0.0/8?`, `outbound.tunnel: "open" is not one of public, configured, none`} {
		if code != 1 || !strings.Contains(errOut, w) {
			t.Errorf("bad egress config: %d %q; want %q", code, errOut, w)
		}
	}
}
