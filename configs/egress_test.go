package configs

import (
	"strings"
	"testing"
)

func TestEgressDefaultsAndEnv(t *testing.T) {
	l, err := LoadBytes(DefaultFile, Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if o := l.Config.Outbound; o.Tunnel != "public" || len(o.Allow) != 0 {
		t.Fatalf("egress defaults: tunnel %q allow %v; want public and nothing", o.Tunnel, o.Allow)
	}
	l, err = LoadBytes("x.yaml", []byte("outbound: {allow: [db.internal]}\n"), env(map[string]string{
		"LOOPGUARD_OUTBOUND_TUNNEL": "configured", "LOOPGUARD_OUTBOUND_ALLOW": "10.0.0.0/8, *.corp.example",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if o := l.Config.Outbound; o.Tunnel != "configured" || strings.Join(o.Allow, " ") != "10.0.0.0/8 *.corp.example" {
		t.Fatalf("env not applied: tunnel %q allow %v", o.Tunnel, o.Allow)
	}
	_, err = LoadBytes("x.yaml", nil, env(map[string]string{"LOOPGUARD_OUTBOUND_TUNNEL": "open"}))
	if err == nil || !strings.Contains(err.Error(), `outbound.tunnel: "open" is not one of public, configured, none`) {
		t.Fatalf("bad tunnel from env: %v", err)
	}
}

func TestEgressErrorsNameEntry(t *testing.T) {
	_, err := Load("testdata/bad_egress.yaml", nil)
	if err == nil {
		t.Fatal("want an error")
	}
	for _, w := range []string{
		`outbound.tunnel: "everything" is not one of public, configured, none`,
		`outbound.allow: [0] "10.0.0.1/8": host bits are set: did you mean 10.0.0.0/8?`,
		`[1] "https://api.example.com": want a host, address or CIDR, not a URL`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "db.internal") {
		t.Errorf("a good entry was reported: %v", err)
	}
}
