package main

import (
	"crypto/tls"
	"crypto/x509"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"time"
)

// Client settings of the load generator.
const (
	clientTimeout     = 30 * time.Second
	clientIdleTimeout = 90 * time.Second
)

// Case groups and the ways a request travels.
const (
	groupInbound  = "inbound"
	groupBatch    = "batch"
	groupOutbound = "outbound"
	// The realistic workload (issue 19): distinct genuine changes of an
	// issue tracker's records, inbound and written (partial and full).
	groupInboundReal = "inbound_real"
	groupRealPartial = "outbound_real_partial"
	groupRealFull    = "outbound_real_full"
	// groupTransparent runs in a network namespace with iptables rules; its
	// direct case is the in-namespace baseline.
	groupTransparent = "transparent"

	viaDirect    = "direct"
	viaNginx     = "nginx"
	viaLoopguard = "loopguard"
	viaGoRP      = "go_rp"
	viaFastRP    = "fast_rp"
	viaConnect   = "connect"
	viaMITM      = "mitm"
	viaGateway   = "gateway"
	viaSpliced   = "spliced"
	viaCaptured  = "captured_mitm"
)

// benchCase is one measured configuration: a group's workload sent one way.
type benchCase struct {
	name, group, via string
	// rate is the open-loop rate of the latency phase.
	rate   int
	target loadTarget
	// procs are the processes whose CPU and RSS are charged to the case
	// (loopguard or nginx); nil for direct cases.
	procs func() []int
	// loopguard is in the path: allocations are read from its /metrics.
	loopguard bool
	// lg is the loopguard whose /metrics the case reads; nil: the main one.
	lg *sidecar
	// skip, when set, is why the case was not run (values are NaN).
	skip string
	res  caseResult
}

// caseResult accumulates a case over rounds.
type caseResult struct {
	roundRPS         []float64
	satReqs, satErrs int64
	satCPU           float64
	mallocs          float64
	latencies        []time.Duration
	rateReqs         int64
	rateErrs         int64
	missed           int64
	rateCPU          float64
	rssMB            float64
	drops, kept      float64
	// changes are forwards of genuine changes, doubts forwards a layer
	// could not decide, recorded the writes loopguard recorded.
	changes, doubts, recorded float64
	// inflightGrowth is how much the body bytes loopguard still reserved
	// once the case's requests were answered grew over its rounds (see
	// idleInflight): a leak when above zero.
	inflightGrowth float64
	firstErr       string
	// harnessSatCPU is this process's CPU (load generator and the fake
	// servers) in the saturation phases.
	harnessSatCPU float64
	// tail and harnessTail are loopguard's and this process's runtime
	// histograms over the fixed-rate phases (--tail; tail.go).
	tail, harnessTail runtimeTail
	// runQueue and harnessRunQueue are the seconds the case's processes
	// and this one waited on the kernel's run queues in the fixed-rate
	// phases (--tail; runqueue.go).
	runQueue, harnessRunQueue float64
}

// nan is the value of a metric that was not measured.
func nan() float64 { return math.NaN() }

// rps is the median saturation throughput over rounds.
func (r *caseResult) rps() float64 {
	if len(r.roundRPS) == 0 {
		return nan()
	}
	s := slices.Clone(r.roundRPS)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// latencyMS is a percentile of the fixed-rate latencies in milliseconds.
func (r *caseResult) latencyMS(q float64) float64 {
	if len(r.latencies) == 0 {
		return nan()
	}
	return float64(percentile(r.latencies, q)) / float64(time.Millisecond)
}

// per1k is CPU seconds per 1,000 requests.
func per1k(cpu float64, reqs int64) float64 {
	if reqs == 0 {
		return nan()
	}
	return cpu / float64(reqs) * 1000
}

// allocsPerReq is loopguard heap allocations per request at saturation.
func (c *benchCase) allocsPerReq() float64 {
	if !c.loopguard || c.res.satReqs == 0 {
		return nan()
	}
	return c.res.mallocs / float64(c.res.satReqs)
}

// dropFraction is the share of decided events loopguard dropped.
func (r *caseResult) dropFraction() float64 {
	if r.drops+r.kept == 0 {
		return nan()
	}
	return r.drops / (r.drops + r.kept)
}

// changeFraction is the share of decided events forwarded as genuine
// changes (reason new_value).
func (r *caseResult) changeFraction() float64 {
	if r.drops+r.kept == 0 {
		return nan()
	}
	return r.changes / (r.drops + r.kept)
}

// recordedFraction is the share of requests loopguard recorded as writes.
func (r *caseResult) recordedFraction() float64 {
	if n := r.satReqs + r.rateReqs; n > 0 {
		return r.recorded / float64(n)
	}
	return nan()
}

// newClient is a keep-alive HTTP/1.1 client for one case. proxy and roots
// are optional.
func newClient(conns int, proxy *url.URL, roots *x509.CertPool) *http.Client {
	tr := &http.Transport{
		MaxIdleConns:        2 * conns,
		MaxIdleConnsPerHost: 2 * conns,
		IdleConnTimeout:     clientIdleTimeout,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	if proxy != nil {
		tr.Proxy = http.ProxyURL(proxy)
	}
	if roots != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: clientTimeout}
}

// newPool is a certificate pool trusting only pemCerts.
func newPool(pemCerts []byte) *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(pemCerts)
	return p
}

// caseEnv is what the cases are built from.
type caseEnv struct {
	opts  Options
	w     *workload
	real  *realWorkload
	srv   *servers
	lg    *sidecar
	nginx *nginxProc // nil: nginx cases are skipped
	// nginxSkip says why nginx is absent.
	nginxSkip string
	// gorp is the plain Go reverse proxy baseline (nil: skipped, see
	// gorpSkip).
	gorp     *goRPProc
	gorpSkip string
	// fastrp is the plain fasthttp reverse proxy baseline (nil: skipped).
	fastrp     *goRPProc
	fastrpSkip string
	// tp is the transparent-mode namespace (nil: skipped, see tpSkip).
	tp     *transparentEnv
	tpSkip string
	// tunnels are the minimal CONNECT proxies (tunnelbase.go).
	tunnels *tunnelBases
	// mitms are the minimal MITM proxies (mitmbase.go).
	mitms *mitmBases
	// variants are loopguards with extra environment (variant.go).
	variants []*variantLG
}

// buildCases lists every case, grouped so a group's baseline runs next to
// the proxies it is compared with.
func buildCases(e caseEnv) []*benchCase {
	o := e.opts
	lgProcs := func() []int { return []int{e.lg.pid()} }
	outProxy := &url.URL{Scheme: "http", Host: e.lg.addrs.outbound}
	lgRoots := newPool(e.lg.caPEM)
	plain := func() *http.Client { return newClient(o.Conns, nil, nil) }
	mk := func(name, group, via string, rate int, c *http.Client, next requestFunc) *benchCase {
		return &benchCase{name: name, group: group, via: via, rate: rate,
			target: loadTarget{client: c, next: next, seq: new(atomic.Uint64)}}
	}
	var nginxBase string
	var nginxProcs func() []int
	if e.nginx != nil {
		nginxBase = "http://" + e.nginx.addr
		nginxProcs = e.nginx.pids
	}
	app, inb := "http://"+e.srv.appAddr, "http://"+e.lg.addrs.inbound
	var cs []*benchCase
	for _, g := range []struct {
		group string
		rate  int
		reqs  func(base string) requestFunc
	}{
		{groupInbound, o.Rate, e.w.webhookRequests},
		{groupBatch, o.BatchRate, e.w.batchRequests},
		{groupInboundReal, o.Rate, e.real.webhookRequests},
	} {
		direct := mk(g.group+"_direct", g.group, viaDirect, g.rate, plain(), g.reqs(app))
		ngx := mk(g.group+"_nginx", g.group, viaNginx, g.rate, plain(), nil)
		if e.nginx != nil {
			ngx.target.next, ngx.procs = g.reqs(nginxBase), nginxProcs
		} else {
			ngx.skip = e.nginxSkip
		}
		gorp := mk(g.group+"_go_rp", g.group, viaGoRP, g.rate, plain(), nil)
		if e.gorp != nil {
			gorp.target.next, gorp.procs = g.reqs("http://"+e.gorp.addr), e.gorp.pids
		} else {
			gorp.skip = e.gorpSkip
		}
		lg := mk(g.group+"_loopguard", g.group, viaLoopguard, g.rate, plain(), g.reqs(inb))
		lg.procs, lg.loopguard = lgProcs, true
		cs = append(cs, direct, ngx, gorp)
		if g.group != groupBatch {
			fast := mk(g.group+"_fast_rp", g.group, viaFastRP, g.rate, plain(), nil)
			if e.fastrp != nil {
				fast.target.next, fast.procs = g.reqs("http://"+e.fastrp.addr), e.fastrp.pids
			} else {
				fast.skip = e.fastrpSkip
			}
			cs = append(cs, fast)
		}
		cs = append(cs, lg)
		if g.group != groupBatch {
			for _, v := range e.variants {
				vc := mk(g.group+"_loopguard_"+v.Name, g.group, viaLoopguard+"_"+v.Name, g.rate, plain(), g.reqs("http://"+v.lg.addrs.inbound))
				vc.procs, vc.loopguard, vc.lg = func() []int { return []int{v.lg.pid()} }, true, v.lg
				cs = append(cs, vc)
			}
		}
	}
	api, tunnel := "https://"+e.srv.apiAddr, "https://"+e.srv.tunnelAddr
	direct := mk("outbound_direct", groupOutbound, viaDirect, o.Rate, newClient(o.Conns, nil, e.srv.certPool), e.w.writeRequests(api))
	connect := mk("outbound_connect", groupOutbound, viaConnect, o.Rate, newClient(o.Conns, outProxy, e.srv.certPool), e.w.writeRequests(tunnel))
	mitm := mk("outbound_mitm", groupOutbound, viaMITM, o.Rate, newClient(o.Conns, outProxy, lgRoots), e.w.writeRequests(api))
	gw := mk("outbound_gateway", groupOutbound, viaGateway, o.Rate, plain(), e.w.writeRequests("http://"+e.lg.addrs.gateway+gatewayPath))
	for _, c := range []*benchCase{connect, mitm, gw} {
		c.procs, c.loopguard = lgProcs, true
	}
	cs = append(cs, direct, connect)
	cs = append(cs, tunnelBaseCases(e)...)
	cs = append(cs, mitm)
	cs = append(cs, mitmBaseCases(e, groupOutbound, mitmBaseModes, e.w.writeRequests(api))...)
	cs = append(cs, gw)
	tracker := "https://" + e.srv.trackerAddr
	for _, g := range []struct {
		group string
		full  bool
	}{{groupRealPartial, false}, {groupRealFull, true}} {
		reqs := func(base string) requestFunc { return e.real.writeRequests(base, g.full, o.OutboundRecords) }
		direct := mk(g.group+"_direct", g.group, viaDirect, o.Rate, newClient(o.Conns, nil, e.srv.certPool), reqs(tracker))
		mitm := mk(g.group+"_mitm", g.group, viaMITM, o.Rate, newClient(o.Conns, outProxy, lgRoots), reqs(tracker))
		gw := mk(g.group+"_gateway", g.group, viaGateway, o.Rate, plain(), reqs("http://"+e.lg.addrs.gateway+realGatewayPath))
		for _, c := range []*benchCase{mitm, gw} {
			c.procs, c.loopguard = lgProcs, true
		}
		cs = append(cs, direct, mitm)
		if !g.full {
			cs = append(cs, mitmBaseCases(e, g.group, mitmBaseRealModes, reqs(tracker))...)
		}
		cs = append(cs, gw)
	}
	return append(cs, transparentCases(e)...)
}

// Hosts of the transparent cases (see transparent.go): both resolve to the
// namespace's upstream.
const (
	tpDirectPort = "8443"              // the upstream's port no rule captures
	tpAPIHost    = "api.bench.test"    // a provider host: intercepted
	tpSpliceHost = "splice.bench.test" // any other host: spliced
	// tpTrackerHost is the tracker provider's host in the namespace's
	// config (no transparent case writes to it).
	tpTrackerHost = "tracker.bench.test"
)

// transparentCases: the same writes from an app with no proxy settings,
// in the namespace: straight to the API's uncaptured port, to a host no
// provider lists (spliced), and to the provider host (the MITM path).
func transparentCases(e caseEnv) []*benchCase {
	o := e.opts
	mk := func(name, via, base string) *benchCase {
		c := &benchCase{name: name, group: groupTransparent, via: via, rate: o.Rate, target: loadTarget{seq: new(atomic.Uint64)}}
		if e.tp == nil {
			c.skip = e.tpSkip
			return c
		}
		c.target.client, c.target.next = e.tp.client(o.Conns), e.w.writeRequests(base)
		if via != viaDirect {
			c.procs, c.loopguard, c.lg = func() []int { return []int{e.tp.lg.pid()} }, true, e.tp.lg
		}
		return c
	}
	return []*benchCase{
		mk("transparent_direct", viaDirect, "https://"+tpAPIHost+":"+tpDirectPort),
		mk("transparent_spliced", viaSpliced, "https://"+tpSpliceHost),
		mk("transparent_mitm", viaCaptured, "https://"+tpAPIHost),
	}
}

// find returns the case of a group reached a given way.
func find(cs []*benchCase, group, via string) *benchCase {
	for _, c := range cs {
		if c.group == group && c.via == via {
			return c
		}
	}
	return nil
}
