package sim

import (
	"strings"
	"testing"
)

// TestQuarantineReleaseCoalescesRunawayLoop replays a history whose loop
// the loop detector's quarantine once only paused (seed 1110: each
// quarantine ended, the replayed held states restarted the ping-pong, and
// only the account breaker's burn-rate trip stopped it). The held states
// of the record are now coalesced at the release — every one but the
// newest is replaced and not replayed — so one quarantine ends the loop and
// the history settles, converged, without the breaker. (The breaker's
// burn-rate trip is tested in filters/breaker.)
func TestQuarantineReleaseCoalescesRunawayLoop(t *testing.T) {
	res, err := Run(Generate(1110), Config{Trace: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() {
		t.Fatalf("seed 1110: %s", res.Violations[0])
	}
	trace := strings.Join(res.Trace, "\n")
	if n := strings.Count(trace, "loopguard quarantines r1"); n != 1 {
		t.Errorf("%d quarantines of r1, want 1", n)
	}
	if !strings.Contains(trace, "(loop/superseded)") || strings.Count(trace, "loopguard replays held") != 1 {
		t.Errorf("the release did not coalesce the held states to the newest:\n%s", trace)
	}
	if strings.Contains(trace, "(burn_rate: ") {
		t.Errorf("the account breaker still had to stop the loop")
	}
}
