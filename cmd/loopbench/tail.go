package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"runtime/metrics"
	"time"
)

// The tail of the fixed-rate phase (--tail): where a request's latency
// beyond its work goes. Go's runtime keeps two histograms at ~9 %
// resolution that answer it for one process: how long goroutines waited,
// runnable, for a CPU (every wake-up: a connection readable, a response
// back from the app) and how long the GC stopped the world. The harness
// reads them for itself (load generator, app, API) and, through the
// sidecar role's debug listener, for loopguard, before and after each
// fixed-rate phase.
const (
	rtmSchedLatency = "/sched/latencies:seconds"
	rtmGCPauses     = "/sched/pauses/total/gc:seconds"
	rtmGCCycles     = "/gc/cycles/total:gc-cycles"
	rtmGOMAXPROCS   = "/sched/gomaxprocs:threads"
	// rtmSchedSampling: the runtime times one in eight of a goroutine's
	// runnable spells (gTrackingPeriod), so counts of waits are an eighth
	// of all waits; their distribution is not biased by it.
	rtmSchedSampling = 8
	// runtimeTailPath is the sidecar role's endpoint serving them as JSON.
	runtimeTailPath  = "/debug/loopbench/runtime"
	tailFetchTimeout = 5 * time.Second
)

// tailHist is a runtime histogram: Counts[i] samples in [Buckets[i],
// Buckets[i+1]).
type tailHist struct {
	Buckets []float64 `json:"buckets"`
	Counts  []uint64  `json:"counts"`
}

// runtimeTail is one process's scheduler latencies, GC pauses and GC
// cycles: cumulative when read, a window once subtracted.
type runtimeTail struct {
	Sched    tailHist `json:"sched"`
	GCPause  tailHist `json:"gc_pause"`
	GCCycles uint64   `json:"gc_cycles"`
	// GOMAXPROCS is the process's setting when last read.
	GOMAXPROCS uint64 `json:"gomaxprocs"`
}

// readRuntimeTail reads this process's histograms.
func readRuntimeTail() runtimeTail {
	s := []metrics.Sample{{Name: rtmSchedLatency}, {Name: rtmGCPauses}, {Name: rtmGCCycles}, {Name: rtmGOMAXPROCS}}
	metrics.Read(s)
	hist := func(v metrics.Value) tailHist {
		if v.Kind() != metrics.KindFloat64Histogram {
			return tailHist{}
		}
		h := v.Float64Histogram()
		return tailHist{Buckets: append([]float64(nil), h.Buckets...), Counts: append([]uint64(nil), h.Counts...)}
	}
	var t runtimeTail
	t.Sched, t.GCPause = hist(s[0].Value), hist(s[1].Value)
	if s[2].Value.Kind() == metrics.KindUint64 {
		t.GCCycles = s[2].Value.Uint64()
	}
	if s[3].Value.Kind() == metrics.KindUint64 {
		t.GOMAXPROCS = s[3].Value.Uint64()
	}
	return t
}

// serveRuntimeTail answers with this process's histograms.
func serveRuntimeTail(w http.ResponseWriter, _ *http.Request) {
	t := readRuntimeTail()
	t.Sched.Buckets, t.GCPause.Buckets = jsonBounds(t.Sched.Buckets, math.Inf(1), math.MaxFloat64), jsonBounds(t.GCPause.Buckets, math.Inf(1), math.MaxFloat64)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(t)
}

// jsonBounds maps the open ends of a histogram's buckets (±Inf, which
// JSON cannot carry) to ±MaxFloat64 and back: every value ±from becomes
// ±to.
func jsonBounds(b []float64, from, to float64) []float64 {
	for i, v := range b {
		switch v {
		case from:
			b[i] = to
		case -from:
			b[i] = -to
		}
	}
	return b
}

// fetchRuntimeTail reads a sidecar role's histograms from its debug
// listener at addr.
func fetchRuntimeTail(ctx context.Context, addr string) (runtimeTail, error) {
	ctx, cancel := context.WithTimeout(ctx, tailFetchTimeout)
	defer cancel()
	var t runtimeTail
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+runtimeTailPath, nil)
	if err != nil {
		return t, fmt.Errorf("fetch runtime tail: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return t, fmt.Errorf("fetch runtime tail: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return t, fmt.Errorf("fetch runtime tail: status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil {
		return t, fmt.Errorf("fetch runtime tail: %w", err)
	}
	t.Sched.Buckets, t.GCPause.Buckets = jsonBounds(t.Sched.Buckets, math.MaxFloat64, math.Inf(1)), jsonBounds(t.GCPause.Buckets, math.MaxFloat64, math.Inf(1))
	return t, nil
}

// since is t minus an earlier reading of the same process.
func (t runtimeTail) since(before runtimeTail) runtimeTail {
	return runtimeTail{Sched: t.Sched.minus(before.Sched), GCPause: t.GCPause.minus(before.GCPause),
		GCCycles: t.GCCycles - min(before.GCCycles, t.GCCycles), GOMAXPROCS: t.GOMAXPROCS}
}

// plus accumulates windows (rounds of a case).
func (t runtimeTail) plus(o runtimeTail) runtimeTail {
	return runtimeTail{Sched: t.Sched.plus(o.Sched), GCPause: t.GCPause.plus(o.GCPause),
		GCCycles: t.GCCycles + o.GCCycles, GOMAXPROCS: max(t.GOMAXPROCS, o.GOMAXPROCS)}
}

// minus subtracts an earlier reading; a histogram of other buckets (never
// from one process) or a counter gone backwards leaves h unchanged.
func (h tailHist) minus(before tailHist) tailHist {
	if len(before.Counts) != len(h.Counts) {
		return h
	}
	d := tailHist{Buckets: h.Buckets, Counts: make([]uint64, len(h.Counts))}
	for i, c := range h.Counts {
		if c >= before.Counts[i] {
			d.Counts[i] = c - before.Counts[i]
		}
	}
	return d
}

// plus adds two windows of the same buckets; an empty side is the other.
func (h tailHist) plus(o tailHist) tailHist {
	switch {
	case len(h.Counts) == 0:
		return o
	case len(o.Counts) != len(h.Counts):
		return h
	}
	s := tailHist{Buckets: h.Buckets, Counts: make([]uint64, len(h.Counts))}
	for i := range h.Counts {
		s.Counts[i] = h.Counts[i] + o.Counts[i]
	}
	return s
}

// total is the number of samples.
func (h tailHist) total() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// quantile is the upper bound of the bucket holding the q-th sample, in
// seconds (the lower bound for the open last bucket); NaN when empty.
func (h tailHist) quantile(q float64) float64 {
	n := h.total()
	if n == 0 {
		return math.NaN()
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	var seen uint64
	for i, c := range h.Counts {
		seen += c
		if seen >= rank {
			return h.upper(i)
		}
	}
	return h.upper(len(h.Counts) - 1)
}

// max is the upper bound of the highest non-empty bucket; NaN when empty.
func (h tailHist) max() float64 {
	for i := len(h.Counts) - 1; i >= 0; i-- {
		if h.Counts[i] > 0 {
			return h.upper(i)
		}
	}
	return math.NaN()
}

// above is how many samples fall in buckets starting at or above s.
func (h tailHist) above(s float64) uint64 {
	var n uint64
	for i, c := range h.Counts {
		if h.Buckets[i] >= s {
			n += c
		}
	}
	return n
}

// upper is bucket i's upper bound, or its lower bound when that is +Inf.
func (h tailHist) upper(i int) float64 {
	if u := h.Buckets[i+1]; !math.IsInf(u, 1) {
		return u
	}
	return h.Buckets[i]
}
