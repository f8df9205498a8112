package sim

import (
	"strings"
	"testing"
)

// TestRealBreakerBoundsRunawayLoop replays a history whose loop the loop
// detector's quarantine only pauses (seed 1110: each quarantine ends, the
// ping-pong resumes). The adapter runs the proxy's own guard and breakers:
// the account's breaker opens on the burn rate, holds the account's events
// and answers the app's writes 429; half-open, the app's retried write is
// its probe and closes it, the held events are replayed — and the history
// settles, converged. (With the old approximation, an account breaker
// opened by quarantines only, it never settled.)
func TestRealBreakerBoundsRunawayLoop(t *testing.T) {
	res, err := Run(Generate(1110), Config{Trace: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() {
		t.Fatalf("seed 1110: %s", res.Violations[0])
	}
	trace := strings.Join(res.Trace, "\n")
	for _, want := range []string{
		"loopguard opens the breaker of tracker/acme until",
		"(burn_rate: ",
		"(breaker/breaker_open)",
		"loopguard's breaker of tracker/acme is half-open",
		"loopguard's breaker of tracker/acme is closed",
		"loopguard replays held",
	} {
		if !strings.Contains(trace, want) {
			t.Errorf("the trace has no %q", want)
		}
	}
	open := strings.Index(trace, "(burn_rate: ")
	closed := strings.Index(trace, "loopguard's breaker of tracker/acme is closed")
	if open < 0 || closed < open {
		t.Errorf("the breaker did not open on the burn rate before it closed")
	}
}
