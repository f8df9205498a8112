package main

// realMetrics are the summary lines of the realistic workload (issue 19):
// the inbound tracker deliveries against nginx, the Go reverse proxy and
// direct, and the partial and full tracker writes through MITM and the
// gateway against direct HTTPS. The per-case lines come with every case.
func (r *report) realMetrics(add func(name string, v float64)) {
	in, inD := r.caseOf(groupInboundReal, viaLoopguard), r.caseOf(groupInboundReal, viaDirect)
	inN, inG := r.caseOf(groupInboundReal, viaNginx), r.caseOf(groupInboundReal, viaGoRP)
	add("inbound_real_rps_ratio_direct", ratio(in.rps(), inD.rps()))
	add("inbound_real_rps_ratio_go_rp", ratio(in.rps(), inG.rps()))
	add("inbound_real_nginx_rps_ratio_direct", ratio(inN.rps(), inD.rps()))
	add("inbound_real_go_rp_rps_ratio_nginx", ratio(inG.rps(), inN.rps()))
	inF := r.caseOf(groupInboundReal, viaFastRP)
	add("inbound_real_fast_rp_rps_ratio_nginx", ratio(inF.rps(), inN.rps()))
	add("inbound_real_rps_ratio_fast_rp", ratio(in.rps(), inF.rps()))
	add("inbound_real_sat_cpu_s_per_1k", per1k(in.res.satCPU, in.res.satReqs))
	add("inbound_real_allocs_per_req", in.allocsPerReq())
	// Every delivery is a genuine change: none dropped, all forwarded as
	// news (new_value), none forwarded out of doubt.
	add("inbound_real_drop_fraction", in.res.dropFraction())
	add("inbound_real_change_fraction", in.res.changeFraction())
	add("inbound_real_doubt_fraction", ratio(in.res.doubts, in.res.drops+in.res.kept))
	for _, g := range []struct{ group, name string }{{groupRealPartial, "real_partial"}, {groupRealFull, "real_full"}} {
		mitm, gw := r.caseOf(g.group, viaMITM), r.caseOf(g.group, viaGateway)
		for _, c := range []struct {
			via string
			c   *benchCase
		}{{viaMITM, mitm}, {viaGateway, gw}} {
			p := c.via + "_" + g.name
			add(p+"_p99_added_ms", r.p99Added(c.c))
			add(p+"_cpu_s_per_1k", per1k(c.c.res.rateCPU, c.c.res.rateReqs))
			add(p+"_allocs_per_req", c.c.allocsPerReq())
			// Every write is answered 2xx with the record: all recorded.
			add(p+"_recorded_fraction", c.c.res.recordedFraction())
		}
		add("gateway_"+g.name+"_rps_ratio_mitm", ratio(gw.rps(), mitm.rps()))
	}
	// The names issue 19 asks for, last of the block.
	add("inbound_real_rps_ratio_nginx", ratio(in.rps(), inN.rps()))
	add("inbound_real_p99_added_ms", r.p99Added(in))
	add("inbound_real_cpu_s_per_1k", per1k(in.res.rateCPU, in.res.rateReqs))
	for _, g := range []struct{ group, name string }{{groupRealPartial, "real_partial"}, {groupRealFull, "real_full"}} {
		d := r.caseOf(g.group, viaDirect)
		add("mitm_"+g.name+"_rps_ratio_direct", ratio(r.caseOf(g.group, viaMITM).rps(), d.rps()))
		add("gateway_"+g.name+"_rps_ratio_direct", ratio(r.caseOf(g.group, viaGateway).rps(), d.rps()))
	}
}
