package sim

import (
	"strconv"
	"testing"
)

// failingSeeds lists every seed the simulator failed on that showed a bug
// of its own kind, with the bug (shrunk: `go test ./filters/sim -run
// TestHistories -sim.seed=N -v`). Each stays a regression test. The seeds
// mean something only with this Generate: a change to the generator must
// keep the old one for these seeds (or re-find them). They were all found
// before batch writes, so they replay with batch writes off (asFound):
// with the flag off every seed's history is the one it was (measured: the
// 5,000 traces of the sweep are byte for byte as before), while with it on
// seed 15's would not be.
var failingSeeds = []struct {
	seed uint64
	bug  string
}{
	// Found on the decision model before the ordered history (9decd9d).
	{2, "case 1: a person's undo equals a value the app wrote and then overwrote; the older write is still pending, the undo is dropped (fingerprint/matches_pending_write)"},
	{22, "pending keeps every write since the last genuine state: a person's change back to the value of an earlier, already echoed write is dropped (matches_pending_write)"},
	{147, "case 1: once the app's write left pending (write_ttl 10m), a person's revert to the genuine state that write superseded is dropped (matches_last_genuine)"},
	{18, "case 2: a person duplicates a record the app wrote; the new record carries the sentinel and is dropped: the app never gets it"},
	{10, "case 3: the echo of a partial PATCH carries the whole record; fields the ledger never saw look new: forwarded, and the app writes back once more"},
	{59, "a reordered, late echo (older provider time) arrives after a person's change and is forwarded; the app's write-back sent inside the handler is cleared from pending by the delivery's Accepted"},
	{24, "case 7: a person's edits forwarded after the app's writes count as round trips: quarantined without a loop, the app's writes answered 429 for 15 minutes"},
	{48, "case 5: a JSON body sent as a form gets &sync_source=… appended: the provider refuses it, the app's edit is lost"},
	// Found on the decision model before the ordered history, and failing
	// on it still (27c803f), for the reason given.
	{16, "a person's paste lands just before the app's no-op PATCH of one field; the write's response shows the person's values, so the person's event equals the write's expected state and is dropped (matches_our_write): the app never gets the pasted fields (before: the pasted sentinel matched)"},
	{40, "null for unchanged fields hashes as \"\": the echo of the app's write looks new, and as it reflects no write it never counts toward quarantine"},
	{931, "case 7: the app writes back a person's change inside its webhook handler, before answering; the delivery's acceptance supersedes that write, so its echo looks new: ping-pong, never quarantined"},
	{1136, "case 5 before (a JSON body sent as a form was neither tagged nor recorded: a loop never quarantined); now the loop of seed 3"},
	// Found on the ordered history (27c803f).
	{3, "two quick edits by a person, each written back by the app inside its webhook handler (before it answers): each acceptance supersedes the write-back made while it was being delivered, every echo looks new, and as none reflects an unsettled write the loop never counts toward quarantine — it never stops"},
	{15, "two quick partial PATCHes of a record loopguard never saw: the first echo is rightly forwarded (blind), its acceptance supersedes the second write, whose echo is then forwarded too: ping-pong, never quarantined"},
	{88, "null for unchanged fields with a stored sentinel: the ledger knows only the event's non-null fields, so the app's no-op write-back is stamped, the API stores the new sentinel, and the all-null event of that change looks new: a loop that never stops"},
	{4752, "reordered partial (null-unchanged) events: the older one carries a field the newer does not; it is dropped as stale_event and the person's change of that field is lost"},
}

// asFound is the history of a seed as Generate made it before batch
// writes.
func asFound(seed uint64) History {
	h := Generate(seed)
	h.B.BatchWrites, h.B.BatchFailures = false, false
	return h
}

// TestFailingSeeds replays every seed that ever failed.
func TestFailingSeeds(t *testing.T) {
	p := &Profiles{}
	for _, fs := range failingSeeds {
		t.Run(strconv.FormatUint(fs.seed, 10), func(t *testing.T) {
			res, err := Run(asFound(fs.seed), Config{Profiles: p})
			if err != nil {
				t.Fatal(err)
			}
			if res.Failed() {
				if why, ok := stillFailing[fs.seed]; ok {
					t.Skipf("still failing (issue 13): %s\nseed %d: %s", why, fs.seed, res.Violations[0])
				}
				t.Fatalf("seed %d (%s): %s", fs.seed, fs.bug, res.Violations[0])
			}
		})
	}
}
