package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestTailHist(t *testing.T) {
	inf := math.Inf(1)
	h := tailHist{Buckets: []float64{0, 1, 2, 4, inf}, Counts: []uint64{50, 40, 9, 1}}
	for _, tc := range []struct {
		q    float64
		want float64
	}{{0, 1}, {0.5, 1}, {0.51, 2}, {0.9, 2}, {0.99, 4}, {0.999, 4}, {1, 4}} {
		if got := h.quantile(tc.q); got != tc.want {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := h.max(); got != 4 {
		t.Errorf("max = %v, want 4 (the open bucket's lower bound)", got)
	}
	if got := h.above(2); got != 10 {
		t.Errorf("above(2) = %d, want 10", got)
	}
	before := tailHist{Buckets: h.Buckets, Counts: []uint64{40, 40, 9, 0}}
	d := h.minus(before)
	if d.total() != 11 || d.quantile(1) != 4 || d.quantile(0.5) != 1 {
		t.Errorf("minus = %+v", d.Counts)
	}
	if s := d.plus(d); s.total() != 22 || s.Counts[0] != 20 {
		t.Errorf("plus = %+v", s.Counts)
	}
	if s := (tailHist{}).plus(d); s.total() != 11 {
		t.Errorf("empty plus = %+v", s.Counts)
	}
	if other := h.minus(tailHist{Counts: []uint64{1}}); other.total() != h.total() {
		t.Errorf("minus of other buckets changed the histogram: %+v", other.Counts)
	}
	var empty tailHist
	if !math.IsNaN(empty.quantile(0.99)) || !math.IsNaN(empty.max()) {
		t.Error("empty histogram: want NaN")
	}
}

func TestReadRuntimeTail(t *testing.T) {
	t0 := readRuntimeTail()
	runtime.GC()
	done := make(chan struct{})
	for range 1000 {
		go func() { done <- struct{}{} }()
		<-done
	}
	d := readRuntimeTail().since(t0)
	if d.GCCycles < 1 || d.GCPause.total() < 1 {
		t.Errorf("after runtime.GC: %d cycles, %d pauses", d.GCCycles, d.GCPause.total())
	}
	if d.Sched.total()*rtmSchedSampling < 500 {
		t.Errorf("after 1000 goroutines: %d scheduler latencies sampled", d.Sched.total())
	}
	if d.GOMAXPROCS != uint64(runtime.GOMAXPROCS(0)) {
		t.Errorf("GOMAXPROCS = %d, want %d", d.GOMAXPROCS, runtime.GOMAXPROCS(0))
	}
}

func TestParseVariant(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    string // name=env joined by space; "" for an error
		errPart string
	}{
		{"gogc400:GOGC=400", "gogc400=GOGC=400", ""},
		{"mix:GOGC=200,GOMAXPROCS=1", "mix=GOGC=200 GOMAXPROCS=1", ""},
		{"nethttp:LOOPGUARD_INBOUND_SERVER=net/http", "nethttp=LOOPGUARD_INBOUND_SERVER=net/http", ""},
		{"GOGC=400", "", "NAME:KEY=VALUE"},
		{"Bad:GOGC=1", "", "NAME"},
		{"x:", "", "NAME:KEY=VALUE"},
		{"x:GOGC", "", "want KEY=VALUE"},
		{"x:=1", "", "want KEY=VALUE"},
	} {
		v, err := parseVariant(tc.in)
		if tc.want == "" {
			if err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Errorf("parseVariant(%q) = %+v, %v; want an error naming %q", tc.in, v, err, tc.errPart)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseVariant(%q): %v", tc.in, err)
			continue
		}
		if got := v.Name + "=" + strings.Join(v.Env, " "); got != tc.want {
			t.Errorf("parseVariant(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestTailAndVariantOption runs the realistic inbound case through the
// main loopguard and a GOMAXPROCS=1 variant with --tail: both report
// scheduler waits from their own process, and the variant runs with its
// environment.
func TestTailAndVariantOption(t *testing.T) {
	o := tinyOptions()
	o.Tail = true
	o.Latency = time.Second // 200 deliveries: enough waits that the sampled count is sure to show them
	o.Variants = []Variant{{Name: "procs1", Env: []string{"GOMAXPROCS=1"}}}
	o.Only = []string{"inbound_real_direct", "inbound_real_loopguard"}
	o.RedisURL = "off"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var progress strings.Builder
	rep, err := run(ctx, o, &progress)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	main, v := find(rep.cases, groupInboundReal, viaLoopguard), find(rep.cases, groupInboundReal, viaLoopguard+"_procs1")
	if main == nil || v == nil || v.name != "inbound_real_loopguard_procs1" {
		t.Fatalf("cases: main %v, variant %v", main, v)
	}
	for _, c := range []*benchCase{main, v} {
		if c.skip != "" || c.res.rateReqs == 0 || c.res.rateErrs+c.res.satErrs > 0 {
			t.Errorf("%s: skip %q, %d requests, %d+%d errors (%s)", c.name, c.skip, c.res.rateReqs, c.res.satErrs, c.res.rateErrs, c.res.firstErr)
		}
		// Each delivery wakes loopguard at least on its request and the
		// app's answer; one in rtmSchedSampling waits is timed.
		if n := c.res.tail.Sched.total() * rtmSchedSampling; n < uint64(c.res.rateReqs) {
			t.Errorf("%s: %d scheduler waits for %d requests: not loopguard's histogram", c.name, n, c.res.rateReqs)
		}
		if c.res.harnessTail.Sched.total() == 0 {
			t.Errorf("%s: no harness scheduler waits", c.name)
		}
	}
	if g := v.res.tail.GOMAXPROCS; g != 1 {
		t.Errorf("variant GOMAXPROCS = %d, want 1 (its environment not applied)", g)
	}
	if g := main.res.tail.GOMAXPROCS; g != uint64(runtime.NumCPU()) {
		t.Errorf("main GOMAXPROCS = %d, want %d", g, runtime.NumCPU())
	}
	var out strings.Builder
	if err := rep.write(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tail of the fixed-rate phases", "inbound_real_loopguard_procs1_sched_p99_us=", "inbound_real_loopguard_sched_waits_per_req=", "inbound_real_direct_harness_sched_p99_us="} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestRunQueueSeconds(t *testing.T) {
	self := []int{os.Getpid()}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/schedstat", os.Getpid())); err != nil {
		t.Skipf("no schedstat: %v", err)
	}
	// More busy threads than CPUs: the kernel must queue some of them.
	busy := 2*runtime.NumCPU() + 2
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(busy))
	w0 := runQueueSeconds(self)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range busy {
		wg.Go(func() {
			for !stop.Load() {
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	w1 := w0
	for w1 <= w0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		w1 = runQueueSeconds(self)
	}
	stop.Store(true)
	wg.Wait()
	if w1 <= w0 {
		t.Errorf("run-queue wait stayed %v for 10 s while %d threads spun on %d CPUs", w0, busy, runtime.NumCPU())
	}
	if got := runQueueSeconds([]int{1 << 30}); got != 0 {
		t.Errorf("a missing process: %v, want 0", got)
	}
}
