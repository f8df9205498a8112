package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Targets of issue 19 (issue 9's, tightened), checked at the end of the
// table for both workloads.
const (
	targetInboundVsNginx  = 0.8
	targetP99AddedMS      = 0.5
	targetInboundCPUPer1k = 0.15
	targetMITMVsDirect    = 0.6
	targetConnectVsDirect = 0.9
	targetSplicedVsDirect = 0.9 // issue 17
	targetLedgerMB        = 200
	targetDecisionNs      = 2000
	targetDecisionAllocs  = 4
)

// metric is one name=value line.
type metric struct {
	name  string
	value float64
}

// ratio is a/b, NaN when either is not measured.
func ratio(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return math.NaN()
	}
	return a / b
}

// caseOf returns a case's result or an empty (NaN) one.
func (r *report) caseOf(group, via string) *benchCase {
	if c := find(r.cases, group, via); c != nil && c.skip == "" {
		return c
	}
	return &benchCase{group: group, via: via, skip: "not run"}
}

// rps is the case's saturation throughput (NaN when skipped).
func (c *benchCase) rps() float64 {
	if c.skip != "" {
		return math.NaN()
	}
	return c.res.rps()
}

// p99Added is the case's p99 minus its group's direct p99 in ms.
func (r *report) p99Added(c *benchCase) float64 {
	return c.res.latencyMS(0.99) - r.caseOf(c.group, viaDirect).res.latencyMS(0.99)
}

// metrics are the machine-readable results: per case, then the summary
// names the issue requires (and a few more).
func (r *report) metrics() []metric {
	var ms []metric
	add := func(name string, v float64) { ms = append(ms, metric{name, v}) }
	for _, c := range r.cases {
		add(c.name+"_rps", c.rps())
		add(c.name+"_p50_ms", c.res.latencyMS(0.50))
		add(c.name+"_p99_ms", c.res.latencyMS(0.99))
		if c.procs != nil || (c.skip != "" && c.via != viaDirect) {
			add(c.name+"_cpu_s_per_1k", per1k(c.res.rateCPU, c.res.rateReqs))
			add(c.name+"_sat_cpu_s_per_1k", per1k(c.res.satCPU, c.res.satReqs))
			add(c.name+"_rss_mb", nanIfZero(c.res.rssMB))
		}
		if c.loopguard {
			add(c.name+"_allocs_per_req", c.allocsPerReq())
			add(c.name+"_body_bytes_unreleased", nanIfSkipped(c, c.res.inflightGrowth))
		}
		add(c.name+"_errors", float64(c.res.satErrs+c.res.rateErrs))
	}
	in, inD, inN := r.caseOf(groupInbound, viaLoopguard), r.caseOf(groupInbound, viaDirect), r.caseOf(groupInbound, viaNginx)
	ba, baD, baN := r.caseOf(groupBatch, viaLoopguard), r.caseOf(groupBatch, viaDirect), r.caseOf(groupBatch, viaNginx)
	outD := r.caseOf(groupOutbound, viaDirect)
	mitm, conn, gw := r.caseOf(groupOutbound, viaMITM), r.caseOf(groupOutbound, viaConnect), r.caseOf(groupOutbound, viaGateway)
	add("batch_rps_ratio_direct", ratio(ba.rps(), baD.rps()))
	add("batch_rps_ratio_nginx", ratio(ba.rps(), baN.rps()))
	add("batch_nginx_rps_ratio_direct", ratio(baN.rps(), baD.rps()))
	add("batch_events_per_s", ba.rps()*batchEvents)
	add("batch_p99_added_ms", r.p99Added(ba))
	add("batch_cpu_s_per_1k", per1k(ba.res.rateCPU, ba.res.rateReqs))
	add("batch_cpu_s_per_1k_events", per1k(ba.res.rateCPU, ba.res.rateReqs*batchEvents))
	add("batch_echo_drop_fraction", ba.res.dropFraction())
	add("inbound_sat_cpu_s_per_1k", per1k(in.res.satCPU, in.res.satReqs))
	add("inbound_allocs_per_req", in.allocsPerReq())
	add("inbound_echo_drop_fraction", in.res.dropFraction())
	goRP := r.caseOf(groupInbound, viaGoRP)
	add("go_rp_rps_ratio_direct", ratio(goRP.rps(), inD.rps()))
	add("go_rp_rps_ratio_nginx", ratio(goRP.rps(), inN.rps()))
	add("inbound_rps_ratio_go_rp", ratio(in.rps(), goRP.rps()))
	add("go_rp_cpu_s_per_1k", per1k(goRP.res.rateCPU, goRP.res.rateReqs))
	add("go_rp_sat_cpu_s_per_1k", per1k(goRP.res.satCPU, goRP.res.satReqs))
	fastRP := r.caseOf(groupInbound, viaFastRP)
	add("fast_rp_rps_ratio_nginx", ratio(fastRP.rps(), inN.rps()))
	add("inbound_rps_ratio_fast_rp", ratio(in.rps(), fastRP.rps()))
	add("nginx_sat_cpu_s_per_1k", per1k(inN.res.satCPU, inN.res.satReqs))
	add("nginx_p99_added_ms", r.p99Added(inN))
	add("nginx_cpu_s_per_1k", per1k(inN.res.rateCPU, inN.res.rateReqs))
	add("mitm_p99_added_ms", r.p99Added(mitm))
	add("connect_p99_added_ms", r.p99Added(conn))
	add("gateway_p99_added_ms", r.p99Added(gw))
	add("mitm_cpu_s_per_1k", per1k(mitm.res.rateCPU, mitm.res.rateReqs))
	add("connect_cpu_s_per_1k", per1k(conn.res.rateCPU, conn.res.rateReqs))
	add("gateway_cpu_s_per_1k", per1k(gw.res.rateCPU, gw.res.rateReqs))
	add("mitm_allocs_per_req", mitm.allocsPerReq())
	add("gateway_allocs_per_req", gw.allocsPerReq())
	add("loopguard_rss_mb", nanIfZero(r.loopguardRSS))
	tpD, tpS, tpM := r.caseOf(groupTransparent, viaDirect), r.caseOf(groupTransparent, viaSpliced), r.caseOf(groupTransparent, viaCaptured)
	add("spliced_rps_ratio_direct", ratio(tpS.rps(), tpD.rps()))
	add("transparent_mitm_rps_ratio_direct", ratio(tpM.rps(), tpD.rps()))
	add("transparent_mitm_rps_ratio_proxy_mitm", ratio(tpM.rps(), mitm.rps()))
	add("spliced_p99_added_ms", r.p99Added(tpS))
	add("transparent_mitm_p99_added_ms", r.p99Added(tpM))
	add("spliced_cpu_s_per_1k", per1k(tpS.res.rateCPU, tpS.res.rateReqs))
	add("transparent_mitm_cpu_s_per_1k", per1k(tpM.res.rateCPU, tpM.res.rateReqs))
	add("transparent_mitm_allocs_per_req", tpM.allocsPerReq())
	add("decision_allocs_per_event", r.decision.AllocsPerEvent)
	add("decision_echo_fraction", r.decision.EchoFraction)
	add("extract_ns_per_event", r.decision.ExtractNsPerEvent)
	add("decision_batch_ns_per_event", r.decision.BatchNsPerEvent)
	if r.redisSkipped == "" {
		add("decision_redis_ns_per_event", r.redisDecision.NsPerEvent)
		add("decision_redis_batch_ns_per_event", r.redisDecision.BatchNsPerEvent)
	} else {
		add("decision_redis_ns_per_event", math.NaN())
		add("decision_redis_batch_ns_per_event", math.NaN())
	}
	add("ledger_heap_mb_per_million", r.ledger.HeapMBPerM)
	add("ledger_evictions", float64(r.ledger.Evictions))
	add("errors_total", float64(r.errors()))
	add("elapsed_s", r.elapsed.Seconds())
	r.realMetrics(add)
	r.tunnelBaseMetrics(add)
	r.mitmBaseMetrics(add)
	r.tailMetrics(add)
	// The names issue 9 requires, last.
	add("inbound_rps_ratio_direct", ratio(in.rps(), inD.rps()))
	add("inbound_rps_ratio_nginx", ratio(in.rps(), inN.rps()))
	add("nginx_rps_ratio_direct", ratio(inN.rps(), inD.rps()))
	add("inbound_p99_added_ms", r.p99Added(in))
	add("inbound_cpu_s_per_1k", per1k(in.res.rateCPU, in.res.rateReqs))
	add("mitm_rps_ratio_direct", ratio(mitm.rps(), outD.rps()))
	add("connect_rps_ratio_direct", ratio(conn.rps(), outD.rps()))
	add("gateway_rps_ratio_direct", ratio(gw.rps(), outD.rps()))
	add("decision_ns_per_event", r.decision.NsPerEvent)
	add("ledger_rss_mb_per_million", r.ledger.RSSMBPerM)
	return ms
}

// errors is the number of failed requests over every case.
func (r *report) errors() int64 {
	var n int64
	for _, c := range r.cases {
		n += c.res.satErrs + c.res.rateErrs
	}
	return n
}

// nanIfSkipped is v, or NaN when the case did not run.
func nanIfSkipped(c *benchCase, v float64) float64 {
	if c.skip != "" {
		return math.NaN()
	}
	return v
}

func nanIfZero(v float64) float64 {
	if v == 0 {
		return math.NaN()
	}
	return v
}

// formatValue renders a machine-readable value (NaN for not measured).
func formatValue(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// cell renders a table value with prec decimals ("-" for not measured).
func cell(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// write prints the human table and then the name=value lines.
func (r *report) write(w io.Writer) error {
	var b strings.Builder
	o := r.opts
	m := r.machine
	fmt.Fprintf(&b, "loopbench: %d cores (%s), %s, load average %s -> %s, %.0fs\n",
		m.cores, m.cpu, m.goVersion, m.loadBefore, m.loadAfter, r.elapsed.Seconds())
	fmt.Fprintf(&b, "rounds %d × (warm-up %s, saturation %s with %d keep-alive clients, fixed rate %s at %d req/s; batch %d/s)\n",
		o.Rounds, o.Warmup, o.Saturation, o.Conns, o.Latency, o.Rate, o.BatchRate)
	if len(o.SidecarEnv) > 0 && len(o.SidecarCmd) == 0 {
		fmt.Fprintf(&b, "loopguard environment: %s\n", strings.Join(o.SidecarEnv, " "))
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\treq/s\t×direct\t×nginx\tp50 ms\tp99 ms\t+p99 ms\tCPU s/1k @rate\tCPU s/1k sat\tallocs/req\tRSS MB\terrors\t")
	for _, c := range r.cases {
		if c.skip != "" {
			fmt.Fprintf(tw, "%s\tskipped\t\t\t\t\t\t\t\t\t\t\t\n", c.name)
			continue
		}
		vsNginx := math.NaN()
		if find(r.cases, c.group, viaNginx) != nil {
			vsNginx = ratio(c.rps(), r.caseOf(c.group, viaNginx).rps())
		}
		cpuRate, cpuSat := math.NaN(), math.NaN()
		if c.procs != nil {
			cpuRate, cpuSat = per1k(c.res.rateCPU, c.res.rateReqs), per1k(c.res.satCPU, c.res.satReqs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", c.name, cell(c.rps(), 0),
			cell(ratio(c.rps(), r.caseOf(c.group, viaDirect).rps()), 2), cell(vsNginx, 2),
			cell(c.res.latencyMS(0.5), 3), cell(c.res.latencyMS(0.99), 3), cell(r.p99Added(c), 3),
			cell(cpuRate, 3), cell(cpuSat, 3), cell(c.allocsPerReq(), 0), cell(nanIfZero(c.res.rssMB), 1),
			c.res.satErrs+c.res.rateErrs)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	d, l := r.decision, r.ledger
	fmt.Fprintf(&b, "\nin-process: decision %.0f ns/event, %.1f allocs/event (%.0f%% of the events echoes); batch extraction %.0f ns/event\n",
		d.NsPerEvent, d.AllocsPerEvent, d.EchoFraction*100, d.ExtractNsPerEvent)
	if r.redisSkipped == "" {
		rd := r.redisDecision
		fmt.Fprintf(&b, "in-process on the Redis ledger (loopback): decision %.0f ns/event one by one, %.0f ns/event in a 100-event delivery (bigcache: %.0f)\n",
			rd.NsPerEvent, rd.BatchNsPerEvent, d.BatchNsPerEvent)
	} else {
		fmt.Fprintf(&b, "Redis decision benchmark skipped: %s\n", r.redisSkipped)
	}
	fmt.Fprintf(&b, "ledger: %d entries → %.1f MB RSS (%.1f MB live heap) per million, %.0f ns per RecordWrite, %d evictions\n",
		l.Entries, l.RSSMBPerM, l.HeapMBPerM, l.FillNsPerWrite, l.Evictions)
	if err := r.writeTail(&b); err != nil {
		return err
	}
	r.writeTargets(&b)
	for _, n := range r.notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	b.WriteString("\n")
	for _, mt := range r.metrics() {
		fmt.Fprintf(&b, "%s=%s\n", mt.name, formatValue(mt.value))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// writeTargets checks the targets.
func (r *report) writeTargets(b *strings.Builder) {
	get := map[string]float64{}
	for _, mt := range r.metrics() {
		get[mt.name] = mt.value
	}
	atLeast := func(name string, want float64) (float64, bool) { v := get[name]; return v, v >= want }
	atMost := func(name string, want float64) (float64, bool) { v := get[name]; return v, v <= want }
	ratioF := fmt.Sprintf("≥ %.1f×", targetInboundVsNginx)
	p99F, cpuF := fmt.Sprintf("≤ %.1f", targetP99AddedMS), fmt.Sprintf("≤ %.2f", targetInboundCPUPer1k)
	mitmF := fmt.Sprintf("≥ %.1f×", targetMITMVsDirect)
	rows := []struct {
		what, want string
		check      func() (float64, bool)
	}{
		{"inbound req/s vs nginx", ratioF, func() (float64, bool) { return atLeast("inbound_rps_ratio_nginx", targetInboundVsNginx) }},
		{"realistic inbound req/s vs nginx", ratioF, func() (float64, bool) { return atLeast("inbound_real_rps_ratio_nginx", targetInboundVsNginx) }},
		{"inbound p99 added at the fixed rate (ms)", p99F, func() (float64, bool) { return atMost("inbound_p99_added_ms", targetP99AddedMS) }},
		{"realistic inbound p99 added (ms)", p99F, func() (float64, bool) { return atMost("inbound_real_p99_added_ms", targetP99AddedMS) }},
		{"inbound CPU s per 1,000 at the fixed rate", cpuF, func() (float64, bool) { return atMost("inbound_cpu_s_per_1k", targetInboundCPUPer1k) }},
		{"realistic inbound CPU s per 1,000", cpuF, func() (float64, bool) { return atMost("inbound_real_cpu_s_per_1k", targetInboundCPUPer1k) }},
		{"MITM req/s vs direct HTTPS", mitmF, func() (float64, bool) { return atLeast("mitm_rps_ratio_direct", targetMITMVsDirect) }},
		{"realistic MITM partial write vs direct", mitmF, func() (float64, bool) { return atLeast("mitm_real_partial_rps_ratio_direct", targetMITMVsDirect) }},
		{"realistic MITM full write vs direct", mitmF, func() (float64, bool) { return atLeast("mitm_real_full_rps_ratio_direct", targetMITMVsDirect) }},
		{"gateway req/s vs MITM", "≥ 1.0×", func() (float64, bool) {
			v := ratio(get["gateway_rps_ratio_direct"], get["mitm_rps_ratio_direct"])
			return v, v >= 1
		}},
		{"realistic gateway partial write vs MITM", "≥ 1.0×", func() (float64, bool) { return atLeast("gateway_real_partial_rps_ratio_mitm", 1) }},
		{"realistic gateway full write vs MITM", "≥ 1.0×", func() (float64, bool) { return atLeast("gateway_real_full_rps_ratio_mitm", 1) }},
		{"CONNECT passthrough req/s vs direct", fmt.Sprintf("≥ %.1f×", targetConnectVsDirect), func() (float64, bool) {
			return atLeast("connect_rps_ratio_direct", targetConnectVsDirect)
		}},
		{"spliced req/s vs direct (in the namespace)", fmt.Sprintf("≥ %.1f×", targetSplicedVsDirect), func() (float64, bool) {
			return atLeast("spliced_rps_ratio_direct", targetSplicedVsDirect)
		}},
		{"ledger RSS per million entries (MB)", fmt.Sprintf("≤ %d", targetLedgerMB), func() (float64, bool) { return atMost("ledger_rss_mb_per_million", targetLedgerMB) }},
		{"decision ns per event", fmt.Sprintf("≤ %d", targetDecisionNs), func() (float64, bool) { return atMost("decision_ns_per_event", targetDecisionNs) }},
		{"decision allocs per event", fmt.Sprintf("≤ %d", targetDecisionAllocs), func() (float64, bool) { return atMost("decision_allocs_per_event", targetDecisionAllocs) }},
	}
	b.WriteString("targets (issue 19):\n")
	for _, row := range rows {
		v, ok := row.check()
		verdict := "met"
		switch {
		case math.IsNaN(v):
			verdict = "not measured"
		case !ok:
			verdict = "MISSED"
		}
		fmt.Fprintf(b, "  %-44s %10s  (target %s)  %s\n", row.what, cell(v, 3), row.want, verdict)
	}
}
