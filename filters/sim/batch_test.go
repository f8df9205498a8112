package sim

import (
	"strings"
	"testing"
)

// noiseWhere returns the first step noise whose write the provider fails
// (or does not fail) as a batch item.
func noiseWhere(fails bool, from noise) noise {
	for n := from; ; n++ {
		if batchItemFails(n, 0) == fails {
			return n
		}
	}
}

// A batch of three records, one failing: the two written are recorded,
// each as its own write, and their echoes dropped on the ledger's evidence
// alone (no actor, marker or sentinel; the events name what changed — the
// rest of a record loopguard never saw is no evidence, see
// TestPartialWriteEchoIsDropped); the failed one is not recorded — the
// app's retry of it, a second later, is, and its echo is dropped too.
func TestBatchWriteEchoesDropped(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sentinel bool
		evidence Evidence
	}{
		{"ledger only", false, EvLedger},
		// A sentinel per record, stamped into each input's fields.
		{"sentinel per record", true, EvSentinel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := linear
			b.Sentinel, b.StoresSentinel = tc.sentinel, tc.sentinel
			b.NullUnchanged = !tc.sentinel
			batchOfThree(t, b, tc.evidence)
		})
	}
}

func batchOfThree(t *testing.T, b Behaviour, evidence Evidence) {
	b.BatchWrites, b.BatchFailures = true, true
	s := newScript(b, full("x"), full("y"), full("z")).
		app(0, 0, false, v("title", "A")).
		app(0, 1, false, v("title", "B")).
		app(0, 2, false, v("title", "C"))
	s.h.Steps[0].Noise = noiseWhere(false, 1)
	s.h.Steps[1].Noise = noiseWhere(true, 1)
	s.h.Steps[2].Noise = noiseWhere(false, s.h.Steps[0].Noise+1)
	res := s.run(t)
	trace := strings.Join(res.Trace, "\n")
	if res.Failed() {
		t.Fatalf("%s", Format(res))
	}
	for _, want := range []string{
		"app POST b1 /v1/issues/batch [w1 r1", "-> 207",
		"provider fails w2 (r2) in b1: not applied",
		"loopguard records b1: [r1 r3] (failed 0, unmatched 1, empty 0)",
		"app PATCH w2 /v1/issues/r2 {title=\"B\"} (edit (step 2), retried, hops 0) -> 200",
	} {
		if !strings.Contains(trace, want) {
			t.Errorf("the trace lacks %q:\n%s", want, trace)
		}
	}
	if st := res.Stats; st.Batches != 1 || st.BatchItems != 3 || st.BatchFailed != 1 {
		t.Errorf("batches %d, items %d, failed %d; want 1, 3, 1", st.Batches, st.BatchItems, st.BatchFailed)
	}
	// Three echoes: r1's and r3's of the batch, r2's of the retry; every
	// one dropped (without a sentinel: with nothing but the ledger to go on).
	if ec := res.Stats.Echoes[evidence]; ec.Total != 3 || ec.Dropped != 3 {
		t.Errorf("echoes with %s evidence: %+v; want 3, all dropped\n%s", evidence, ec, trace)
	}
	if evidence != EvLedger {
		for _, l := range res.Trace {
			if strings.Contains(l, "app POST b1 ") && strings.Count(l, `"`+sentinelField+`":"S`) != 3 {
				t.Errorf("the batch went without a sentinel per record: %s", l)
			}
		}
		return
	}
	for _, rec := range []string{"r1", "r2", "r3"} {
		dropped := false
		for _, l := range res.Trace {
			dropped = dropped || (strings.Contains(l, "loopguard drops ") && strings.Contains(l, " for "+rec+" (fingerprint/"))
		}
		if !dropped {
			t.Errorf("no echo of %s dropped by the fingerprint:\n%s", rec, trace)
		}
	}
}
