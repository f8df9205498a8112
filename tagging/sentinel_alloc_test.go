package tagging

import "testing"

// TestVerifyAllocatesNothing: verifying a sentinel allocates nothing; it runs for every inbound event that
// carries a sentinel (the decision's allocation budget).
func TestVerifyAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	k := NewKey([]byte("0123456789abcdef0123456789abcdef"))
	b := Binding{Provider: "crm", Object: "contacts", Record: "c42", Nonce: 7, FP: 9}
	s := k.Sentinel("loopguard", b)
	if n := testing.AllocsPerRun(100, func() {
		if _, m, ok := ParseSentinel(s, "loopguard"); !ok || !k.Verify(b, m) {
			t.Fatal("verify failed")
		}
	}); n != 0 {
		t.Fatalf("ParseSentinel+Verify: %.1f allocations, want 0", n)
	}
}
