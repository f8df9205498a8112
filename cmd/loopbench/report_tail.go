package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
)

// tailSlowWait is the wait for a CPU counted as slow: the p99 target's
// size (a request that waits this long once has spent its budget).
const tailSlowWait = targetP99AddedMS / 1000

// tailMetrics are the --tail lines: per case, the harness's scheduler
// latency (the load generator measures every case, so its own waits are in
// every latency); per loopguard case, loopguard's.
func (r *report) tailMetrics(add func(name string, v float64)) {
	if !r.opts.Tail {
		return
	}
	us := func(s float64) float64 { return s * 1e6 }
	for _, c := range r.cases {
		h := c.res.harnessTail.Sched
		add(c.name+"_harness_sched_p99_us", nanIfSkipped(c, us(h.quantile(0.99))))
		add(c.name+"_harness_runq_us_per_req", nanIfSkipped(c, us(ratio(c.res.harnessRunQueue, float64(c.res.rateReqs)))))
		if c.procs != nil {
			add(c.name+"_runq_us_per_req", nanIfSkipped(c, us(ratio(c.res.runQueue, float64(c.res.rateReqs)))))
		}
		if !c.loopguard || c.res.tail.Sched.total() == 0 {
			continue
		}
		t := c.res.tail
		add(c.name+"_sched_p50_us", us(t.Sched.quantile(0.50)))
		add(c.name+"_sched_p99_us", us(t.Sched.quantile(0.99)))
		add(c.name+"_sched_p999_us", us(t.Sched.quantile(0.999)))
		add(c.name+"_sched_waits_per_req", ratio(rtmSchedSampling*float64(t.Sched.total()), float64(c.res.rateReqs)))
		add(c.name+"_sched_slow_waits_per_1k_req", ratio(rtmSchedSampling*1000*float64(t.Sched.above(tailSlowWait)), float64(c.res.rateReqs)))
		add(c.name+"_gc_per_1k_req", ratio(1000*float64(t.GCCycles), float64(c.res.rateReqs)))
		add(c.name+"_gc_pause_max_us", us(t.GCPause.max()))
	}
}

// writeTail is the --tail table: for each loopguard case, where the
// fixed-rate phase's latency beyond the work can go.
func (r *report) writeTail(b *strings.Builder) error {
	if !r.opts.Tail {
		return nil
	}
	fmt.Fprintf(b, "\ntail of the fixed-rate phases (run queue: the time the case's processes, and the harness, waited runnable on the kernel's run queues, from schedstat; wait: a runnable goroutine of loopguard waiting for the Go scheduler, from the runtime's histograms at ~9%% resolution, timed for one in %d and counted ×%d; slow: ≥ %.1f ms):\n", rtmSchedSampling, rtmSchedSampling, tailSlowWait*1000)
	tw := tabwriter.NewWriter(b, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\t+p99 ms\trun queue µs/req\tharness run queue µs/req\tharness wait p99 µs\twait p50 µs\twait p99 µs\twait p99.9 µs\twaits/req\tslow waits/1k req\tGC/1k req\tGC pause max µs\t")
	us := func(s float64) string { return cell(s*1e6, 0) }
	perReq := func(s float64, c *benchCase) string { return cell(1e6*ratio(s, float64(c.res.rateReqs)), 1) }
	for _, c := range r.cases {
		if c.skip != "" {
			continue
		}
		t, h := c.res.tail, c.res.harnessTail.Sched
		runq := ""
		if c.procs != nil {
			runq = perReq(c.res.runQueue, c)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t", c.name, cell(r.p99Added(c), 3), runq, perReq(c.res.harnessRunQueue, c), us(h.quantile(0.99)))
		if !c.loopguard || t.Sched.total() == 0 {
			fmt.Fprintf(tw, "\t\t\t\t\t\t\t\n")
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			us(t.Sched.quantile(0.5)), us(t.Sched.quantile(0.99)), us(t.Sched.quantile(0.999)),
			cell(ratio(rtmSchedSampling*float64(t.Sched.total()), float64(c.res.rateReqs)), 1),
			cell(ratio(rtmSchedSampling*1000*float64(t.Sched.above(tailSlowWait)), float64(c.res.rateReqs)), 1),
			cell(ratio(1000*float64(t.GCCycles), float64(c.res.rateReqs)), 2), us(t.GCPause.max()))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write tail table: %w", err)
	}
	return nil
}
