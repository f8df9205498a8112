package lab

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/loopguard/loopguard/filters"
)

// Result counts what a run cost and what reached the apps.
type Result struct {
	Name string
	// UpstreamWrites are writes the CRM applied (quota used).
	UpstreamWrites int
	// UpstreamThrottled are writes the CRM refused with 429.
	UpstreamThrottled int
	// Webhooks are deliveries the CRM posted (to every app).
	Webhooks int
	// Deliveries are deliveries the apps received.
	Deliveries int
	// Drops counts dropped events by layer; Held counts held events.
	Drops map[string]int
	Held  int
	// WouldDrop counts events observe mode would have dropped.
	WouldDrop int
	// Forwarded counts events forwarded as genuine.
	Forwarded int
	// Settled is false when traffic was still flowing at the time limit.
	Settled bool
}

// Result collects the counters of every part.
func (l *Lab) Result(name string, settled bool) Result {
	st := l.CRM.Stats()
	r := Result{Name: name, UpstreamWrites: st.Writes, UpstreamThrottled: st.Throttled, Webhooks: st.Deliveries,
		Drops: map[string]int{}, Settled: settled}
	for _, s := range l.Sides {
		r.Deliveries += s.App.Stats().Deliveries
		if s.LG == nil {
			continue
		}
		for _, d := range s.LG.Ring.Last(0) {
			switch {
			case d.Observed:
				r.WouldDrop++
			case d.Action == filters.Drop:
				r.Drops[d.Layer]++
			case d.Action == filters.Hold:
				r.Held++
			default:
				r.Forwarded++
			}
		}
	}
	return r
}

// DropsString renders drops by layer as "marker=1 fingerprint=2".
func (r Result) DropsString() string {
	if len(r.Drops) == 0 {
		return "-"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(r.Drops)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, r.Drops[k]))
	}
	return strings.Join(parts, " ")
}

// WriteTable prints results as an aligned table.
func WriteTable(w io.Writer, rs []Result) {
	fmt.Fprintf(w, "%-34s %8s %8s %10s %8s %-28s %5s %s\n", "run", "writes", "webhooks", "to the app", "genuine", "echoes dropped (by layer)", "held", "loop")
	for _, r := range rs {
		loop := "stopped"
		if !r.Settled {
			loop = "RUNNING at time limit"
		}
		fmt.Fprintf(w, "%-34s %8d %8d %10d %8d %-28s %5d %s\n", r.Name, r.UpstreamWrites, r.Webhooks, r.Deliveries,
			r.Forwarded, r.DropsString(), r.Held, loop)
	}
}
