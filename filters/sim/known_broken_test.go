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
var stillFailing = map[uint64]string{
	3:   "a person's quick edits written back inside the app's webhook handler on an every-write, timed provider still bounce; the loop detector bounds them but the write count exceeds the invariant",
	15:  "two quick partial PATCHes of a record loopguard never saw, on a provider whose responses hold no record: ping-pong until the loop detector quarantines the record",
	147: "a write-back of a cold record (fields loopguard never saw) on a real-change provider is not known to be a no-op when the app answers before writing it back; a person's later return to its value within write_ttl is taken for its echo",
}

// stillFailingCases are the named cases that still fail, with why.
var stillFailingCases = map[string]string{
	"TestConcurrentEditingConverges/event_on_real_change": "as seed 147: cold write-backs of records people keep editing",
}

// Measured violating histories (of the default seed sets) on the ordered
// history: the sweeps fail above these. Batch writes (Behaviour.BatchWrites,
// on for 1,953 of the 5,000 seeds, 811 of which send batches) left both
// counts as they were: memory 232 before and after (seed 4159 now fails
// with a loop of seed 3's kind, seed 746 now passes), Redis 8 of 200
// before and after (the allowance of 10 predates them).
const (
	maxFailingMemory = 232 // of 5,000
	maxFailingRedis  = 10  // of 200
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
