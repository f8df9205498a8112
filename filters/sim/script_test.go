package sim

import (
	"math/rand/v2"
	"testing"
	"time"
)

// script builds a scripted history: the same machinery as the generated
// ones, with the steps written out.
type script struct{ h History }

func newScript(b Behaviour, recs ...vals) *script {
	if b.People == 0 {
		b.People = 2
	}
	return &script{h: History{B: b, Records: recs}}
}

// v builds values from name/value pairs: v("title", "g").
func v(kv ...string) vals {
	var out vals
	for i := 0; i+1 < len(kv); i += 2 {
		out[fieldIndex(kv[i])] = kv[i+1]
	}
	return out
}

func fieldIndex(name string) int {
	for i, f := range fieldNames {
		if f == name {
			return i
		}
	}
	panic("no field " + name)
}

// full is a whole record with every field set to x, then the pairs.
func full(x string, kv ...string) vals {
	out := vals{x, x, x, x, x}
	for i, s := range v(kv...) {
		if s != "" {
			out[i] = s
		}
	}
	return out
}

func (s *script) add(st Step) *script {
	st.Noise = noise(len(s.h.Steps) + 1)
	s.h.Steps = append(s.h.Steps, st)
	return s
}

func (s *script) person(at time.Duration, who, rec int, set vals) *script {
	return s.add(Step{At: at, Kind: PersonEdit, Who: who, Rec: rec, Set: set})
}

func (s *script) app(at time.Duration, rec int, whole bool, set vals) *script {
	return s.add(Step{At: at, Kind: AppEdit, Rec: rec, Full: whole, Set: set})
}

func (s *script) duplicate(at time.Duration, who, rec int) *script {
	return s.add(Step{At: at, Kind: PersonDuplicate, Who: who, Rec: rec})
}

func (s *script) paste(at time.Duration, who, from, rec int) *script {
	return s.add(Step{At: at, Kind: PersonPaste, Who: who, From: from, Rec: rec, Full: true})
}

func (s *script) poll(at time.Duration) *script { return s.add(Step{At: at, Kind: AppPoll}) }

// run plays the script through loopguard on the memory ledger, tracing.
// The same script under the oracle must break nothing: else the script
// (or the simulator) is wrong, not loopguard.
func (s *script) run(t *testing.T) *Result {
	t.Helper()
	if res, err := Run(s.h, Config{Oracle: true, Trace: true}); err != nil || res.Failed() {
		t.Fatalf("the script fails under the oracle (%v):\n%s", err, Format(res))
	}
	res, err := Run(s.h, Config{Trace: true})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// noViolation fails (or skips, when listed as still failing) when res broke an
// invariant, with the trace.
func noViolation(t *testing.T, res *Result, what string) {
	t.Helper()
	if res.Failed() {
		knownBrokenf(t, "%s\n%s", what, Format(res))
	}
}

// workload is the randomized workload of issue 13, case 7: two people and
// the app editing four records with full, partial and undo edits, some
// racing, over about three minutes.
func workload(seed uint64, at time.Duration) []Step {
	r := rand.New(rand.NewPCG(seed, 7))
	var steps []Step
	for range 30 {
		at += [...]time.Duration{0, 200 * time.Millisecond, time.Second, 3 * time.Second, 10 * time.Second}[r.IntN(5)]
		s := Step{At: at, Who: 1 + r.IntN(2), Rec: r.IntN(4), Noise: noise(r.Uint64())}
		switch k := r.IntN(10); {
		case k < 4:
			s.Kind, s.Set = PersonEdit, randVals(r, randMask(r))
		case k < 6:
			s.Kind, s.Field = PersonUndo, r.IntN(nF)
		default:
			s.Kind, s.Set, s.Full = AppEdit, randVals(r, randMask(r)), r.IntN(2) == 0
		}
		steps = append(steps, s)
	}
	return steps
}
