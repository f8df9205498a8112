package tagging

import (
	"strings"
	"testing"
)

func TestSentinelKeyedAndBound(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	b := Binding{Provider: "tracker", Object: "issue", Record: "ISS-1", Nonce: 0x0123456789abcdef, FP: 42}
	s := Sentinel(key, "loopguard", b)
	if !strings.HasPrefix(s, "loopguard:0123456789abcdef.") || len(s) != len("loopguard:")+16+1+16 {
		t.Fatalf("Sentinel = %q", s)
	}
	nonce, mac, ok := ParseSentinel(s, "loopguard")
	if !ok || nonce != b.Nonce {
		t.Fatalf("ParseSentinel(%q) = %x %q %v", s, nonce, mac, ok)
	}
	if !VerifySentinel(key, b, mac) {
		t.Fatal("a sentinel does not verify for its own binding")
	}
	other := func(f func(*Binding)) Binding { c := b; f(&c); return c }
	for name, wrong := range map[string]Binding{
		"another record":   other(func(c *Binding) { c.Record = "ISS-2" }),
		"another object":   other(func(c *Binding) { c.Object = "project" }),
		"another provider": other(func(c *Binding) { c.Provider = "crm" }),
		"other values":     other(func(c *Binding) { c.FP = 43 }),
		"another nonce":    other(func(c *Binding) { c.Nonce++ }),
		"a create":         other(func(c *Binding) { c.Record = "" }),
		"field boundaries": other(func(c *Binding) { c.Object, c.Record = "issueISS-1", "" }),
	} {
		if VerifySentinel(key, wrong, mac) {
			t.Errorf("%s: the sentinel verifies", name)
		}
	}
	if VerifySentinel([]byte("another deployment's key........"), b, mac) {
		t.Error("the sentinel verifies under another key")
	}
}

func TestParseSentinelRejects(t *testing.T) {
	for _, s := range []string{
		"", "loopguard", "loopguard:", "loopguard:0123456789ab", // the old unkeyed format
		"other:0123456789abcdef.0123456789abcdef",
		"loopguard:0123456789abcdeX.0123456789abcdef",
		"loopguard:0123456789abcdef-0123456789abcdef",
		"loopguard:0123456789abcdef.0123456789ABCDEF",
		"loopguard:0123456789abcdef.0123456789abcde",
	} {
		if _, _, ok := ParseSentinel(s, "loopguard"); ok {
			t.Errorf("ParseSentinel(%q) accepted", s)
		}
	}
}

func FuzzParseSentinel(f *testing.F) {
	f.Add("loopguard:0123456789abcdef.0123456789abcdef")
	f.Add("loopguard:0123456789ab")
	f.Fuzz(func(t *testing.T, s string) {
		nonce, mac, ok := ParseSentinel(s, "loopguard")
		if !ok {
			return
		}
		var b [8]byte
		_ = b
		if len(mac) != 16 || !strings.HasPrefix(s, "loopguard:") {
			t.Fatalf("accepted %q: nonce %x mac %q", s, nonce, mac)
		}
	})
}
