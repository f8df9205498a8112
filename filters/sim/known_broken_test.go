package sim

import (
	"fmt"
	"testing"
)

// What the simulator still finds on today's decision model (issue 13 is
// not done while any of this is here). Every other seed, case and history
// must pass: a test fails on any violation not listed, and the sweeps fail
// when their count of violating histories grows past the measured one.

// stillFailing are the regression seeds that still fail, with why.
var stillFailing = map[uint64]string{}

// stillFailingCases are the named cases that still fail, with why.
var stillFailingCases = map[string]string{}

// Measured violating histories (of the default seed sets) on the ordered
// history: the sweeps fail above these (0 once issue 13 is done). 28 of
// 5,000 before the adapter ran the real guard: its account breaker only
// opened on quarantines, while the proxy's also opens on the burn rate,
// which stops the runaway loops of three "unsettled" histories (1110,
// 4615, 4836; 12 of 20,000).
// Session 5: 0 of the default 5,000 (memory) and 0 of 200 (Redis); the
// 100,000-history sweep still finds 19 (see the README). Session 6: 0 in
// seeds 1–200,000; seeds 200,001–300,000 found 4, all fixed.
const (
	maxFailingMemory = 0 // of 5,000
	maxFailingRedis  = 0 // of 200
)

// knownBrokenf skips a listed failure with its reason and fails any other.
func knownBrokenf(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if why, ok := stillFailingCases[t.Name()]; ok {
		t.Skip("still failing (issue 13): " + why + "\n" + msg)
	}
	t.Fatal(msg)
}
