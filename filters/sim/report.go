package sim

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
)

// Sweep is the outcome of many histories.
type Sweep struct {
	Histories int
	Stats     Stats
	// Failing are the failing seeds by violation kind ("(b) genuine change
	// dropped (fingerprint/matches_pending_write)"), in seed order.
	Failing map[string][]uint64
	// First is the first failing result of each kind.
	First map[string]*Result
}

// Kinds returns the violation kinds found, sorted.
func (s *Sweep) Kinds() []string {
	ks := make([]string, 0, len(s.Failing))
	for k := range s.Failing {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// FailedHistories counts the histories with at least one violation.
func (s *Sweep) FailedHistories() int {
	seen := map[uint64]bool{}
	for _, seeds := range s.Failing {
		for _, sd := range seeds {
			seen[sd] = true
		}
	}
	return len(seen)
}

func kindKey(v Violation) string { return "(" + v.Invariant + ") " + v.Kind }

// RunSeeds runs the histories of seeds first … first+n-1.
func RunSeeds(first uint64, n int, cfg Config) (*Sweep, error) {
	s := &Sweep{Failing: map[string][]uint64{}, First: map[string]*Result{}}
	if cfg.Profiles == nil {
		cfg.Profiles = &Profiles{}
	}
	for seed := first; seed < first+uint64(n); seed++ {
		res, err := Run(Generate(seed), cfg)
		if err != nil {
			return s, err
		}
		s.Histories++
		s.Stats.Add(res.Stats)
		seen := map[string]bool{}
		for _, v := range res.Violations {
			k := kindKey(v)
			if seen[k] {
				continue
			}
			seen[k] = true
			s.Failing[k] = append(s.Failing[k], seed)
			if s.First[k] == nil {
				s.First[k] = res
			}
		}
	}
	return s, nil
}

// Summary renders the failing kinds with their counts and first seeds.
func (s *Sweep) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d histories, %d with a violation\n", s.Histories, s.FailedHistories())
	for _, k := range s.Kinds() {
		seeds := s.Failing[k]
		fmt.Fprintf(&b, "  %-70s %5d histories, seeds %v\n", k, len(seeds), seeds[:min(len(seeds), 24)])
	}
	return b.String()
}

// EvidenceTable renders (d): how the echoes of the app's writes fared, by
// the strongest evidence they carried.
func EvidenceTable(st Stats) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "evidence\techoes\tdropped\tforwarded\theld\tdrop rate\t")
	for k := range nEvidence {
		c := st.Echoes[k]
		rate := "-"
		if c.Total > 0 {
			rate = fmt.Sprintf("%.1f%%", 100*float64(c.Dropped)/float64(c.Total))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t\n", k, c.Total, c.Dropped, c.Forwarded, c.Held, rate)
	}
	_ = tw.Flush()
	fmt.Fprintf(&b, "events %d, app writes %d, genuine changes dropped %d, quarantines %d\n",
		st.Events, st.AppWrites, st.GenuineDropped, st.Quarantines)
	return b.String()
}

// Format renders a result as numbered lines: the seed, the behaviour, the
// trace and the violations.
func Format(r *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %s\n", r.History.Seed, r.History.B)
	for i, l := range r.Trace {
		fmt.Fprintf(&b, "%3d %s\n", i+1, l)
	}
	for _, v := range r.Violations {
		fmt.Fprintf(&b, "    %s\n", v)
	}
	return b.String()
}

// Explain shrinks a failing result to its smallest history that still
// violates v (its first violation when v is zero) and returns that
// history's readable trace.
func Explain(r *Result, v Violation, cfg Config, runs int) string {
	if !r.Failed() {
		return Format(r)
	}
	if v.Kind == "" {
		v = r.Violations[0]
	}
	h := Shrink(r.History, v, cfg, runs)
	cfg.Trace = true
	res, err := Run(h, cfg)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("shrunk from %d to %d steps for %s\n%s", len(r.History.Steps), len(h.Steps), kindKey(v), Format(res))
}

// Of returns the first violation of r with the kind key k ("(b) …").
func (r *Result) Of(k string) Violation {
	for _, v := range r.Violations {
		if kindKey(v) == k {
			return v
		}
	}
	return Violation{}
}
