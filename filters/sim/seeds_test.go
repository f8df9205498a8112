package sim

import (
	"strconv"
	"testing"
)

// failingSeeds lists every seed the simulator failed on that showed a bug
// of its own kind, with the bug (shrunk: `go test ./filters/sim -run
// TestHistories -sim.seed=N -v`). Each stays a regression test. The seeds
// mean something only with this Generate: a change to the generator must
// keep the old one for these seeds (or re-find them).
var failingSeeds = []struct {
	seed uint64
	bug  string
}{
	{2, "case 1: a person's undo equals a value the app wrote and then overwrote; the older write is still pending, the undo is dropped (fingerprint/matches_pending_write)"},
	{22, "pending keeps every write since the last genuine state: a person's change back to the value of an earlier, already echoed write is dropped (matches_pending_write)"},
	{147, "case 1: once the app's write left pending (write_ttl 10m), a person's revert to the genuine state that write superseded is dropped (matches_last_genuine)"},
	{16, "case 2: a person pastes another record's values and sentinel over a record loopguard never wrote: dropped (sentinel_match)"},
	{18, "case 2: a person duplicates a record the app wrote; the new record carries the sentinel and is dropped: the app never gets it"},
	{10, "case 3: the echo of a partial PATCH carries the whole record; fields the ledger never saw look new: forwarded, and the app writes back once more"},
	{40, "null for unchanged fields hashes as \"\": every echo looks new, a loop"},
	{59, "a reordered, late echo (older provider time) arrives after a person's change and is forwarded; the app's write-back sent inside the handler is cleared from pending by the delivery's Accepted"},
	{931, "case 7: the echo of an app write that raced a person's change is forwarded once the person's event was accepted: ping-pong, then quarantine"},
	{24, "case 7: a person's edits forwarded after the app's writes count as round trips: quarantined without a loop, the app's writes answered 429 for 15 minutes"},
	{48, "case 5: a JSON body sent as a form gets &sync_source=… appended: the provider refuses it, the app's edit is lost"},
	{1136, "case 5: a JSON body sent as a form without a sentinel is neither tagged nor recorded: its echo is forwarded, and as the loop detector only counts recorded writes the loop is never quarantined"},
}

// TestFailingSeeds replays every seed that ever failed.
func TestFailingSeeds(t *testing.T) {
	p := &Profiles{}
	for _, fs := range failingSeeds {
		t.Run(strconv.FormatUint(fs.seed, 10), func(t *testing.T) {
			res, err := Run(Generate(fs.seed), Config{Profiles: p})
			if err != nil {
				t.Fatal(err)
			}
			if res.Failed() {
				knownBrokenf(t, "seed %d (%s): %s", fs.seed, fs.bug, res.Violations[0])
			}
		})
	}
}
