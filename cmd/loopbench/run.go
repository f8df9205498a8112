package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// runDirMode lets nginx workers traverse the run directory (the CA key in it
// stays 0600).
const runDirMode = 0o755

// report is everything one run measured.
type report struct {
	opts     Options
	machine  machine
	cases    []*benchCase
	ledger   ledgerResult
	decision decisionResult
	// redisDecision is the decision benchmark on the Redis ledger;
	// redisSkipped says why it did not run.
	redisDecision decisionResult
	redisSkipped  string
	// scrapeMallocs is what one /metrics scrape allocates in loopguard
	// (subtracted from the per-request allocations).
	scrapeMallocs float64
	elapsed       time.Duration
	loopguardRSS  float64
	notes         []string
}

// machine describes where the run happened.
type machine struct {
	cpu, goVersion, loadBefore, loadAfter string
	cores                                 int
}

// progress prints harness progress lines.
type progress struct{ w io.Writer }

func (p progress) printf(format string, args ...any) {
	fmt.Fprintf(p.w, "loopbench: "+format+"\n", args...)
}

// run measures every case and returns the report.
func run(ctx context.Context, o Options, out io.Writer) (*report, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	p := progress{out}
	start := time.Now()
	rep := &report{opts: o, machine: machine{
		cpu: cpuModel(), cores: runtime.NumCPU(), goVersion: runtime.Version(), loadBefore: loadAverage(),
	}}
	dir, err := os.MkdirTemp("", "loopbench-")
	if err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	if err := os.Chmod(dir, runDirMode); err != nil {
		return nil, fmt.Errorf("chmod run directory: %w", err)
	}
	if o.KeepDir {
		p.printf("keeping configs and logs in %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	p.printf("ledger memory: %d entries (ledger.NewMemory in a fresh child process)", o.LedgerEntries)
	if rep.ledger, err = probeLedger(ctx, o.LedgerEntries); err != nil {
		return nil, err
	}
	srv, err := startServers(sentinelField, p.printf)
	if err != nil {
		return nil, err
	}
	defer srv.close()
	argv := o.SidecarCmd
	var tpBin string // a loopguard binary the transparent cases can run as another UID
	if len(argv) == 0 {
		bin := o.LoopguardBin
		if bin == "" {
			p.printf("building ./cmd/loopguard")
			if bin, err = buildLoopguard(ctx, dir); err != nil {
				return nil, err
			}
		}
		argv, tpBin = []string{bin}, bin
	}
	baseArgv, env := argv, o.SidecarEnv
	var prof *cpuProfiler
	var debug string
	if o.CPUProfile != "" || o.Tail {
		if argv, env, debug, err = debugSidecar(o, argv, env); err != nil {
			return nil, err
		}
		rep.notes = append(rep.notes, "loopguard ran as the harness's sidecar role (the proxy package's sidecar, as `loopguard run`) with a debug listener")
	}
	if o.CPUProfile != "" {
		if err := os.MkdirAll(o.CPUProfile, runDirMode); err != nil {
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		prof = &cpuProfiler{dir: o.CPUProfile, addr: debug}
		rep.notes = append(rep.notes, "--cpuprofile: profiles of loopguard in "+o.CPUProfile+"; its figures include the profiler's cost")
	}
	lg, loaded, err := startSidecar(ctx, argv, env, dir, srv)
	if err != nil {
		return nil, err
	}
	defer lg.stop()
	lg.prof, lg.debug = prof, debug
	if rep.scrapeMallocs, err = scrapeCost(lg); err != nil {
		return nil, err
	}
	p.printf("warming the ledger: %d echo + %d genuine records written through the MITM proxy", o.WarmRecords, o.WarmRecords)
	if err := warmLedger(ctx, o, srv, lg); err != nil {
		return nil, err
	}
	variants, stopVariants, err := startVariants(ctx, o, baseArgv, dir, srv, p)
	defer stopVariants()
	if err != nil {
		return nil, err
	}
	cenv := caseEnv{opts: o, w: newWorkload(o, srv.api.sentinelOf), real: newRealWorkload(o), srv: srv, lg: lg, variants: variants}
	if _, err := os.Stat(o.Nginx); err != nil {
		cenv.nginxSkip = "nginx not installed at " + o.Nginx
	} else if cenv.nginx, err = startNginx(ctx, o.Nginx, filepath.Join(dir, "nginx"), srv.appAddr); err != nil {
		cenv.nginxSkip = firstLine(err.Error())
	} else {
		defer cenv.nginx.stop()
	}
	if cenv.gorp, err = startGoRP(ctx, srv.appAddr); err != nil {
		cenv.gorpSkip = firstLine(err.Error())
		rep.notes = append(rep.notes, "Go reverse proxy baseline skipped: "+cenv.gorpSkip)
	} else {
		defer cenv.gorp.stop()
	}
	cenv.tunnels = startTunnelBases(ctx)
	defer cenv.tunnels.stop()
	// The MITM baselines sign with loopguard's CA (the one its clients trust).
	cenv.mitms = startMITMBases(ctx, filepath.Join(dir, "ca"), filepath.Join(dir, "upstream.pem"), o.CPUProfile)
	defer cenv.mitms.stop()
	if cenv.fastrp, err = startFastRP(ctx, srv.appAddr); err != nil {
		cenv.fastrpSkip = firstLine(err.Error())
		rep.notes = append(rep.notes, "fasthttp reverse proxy baseline skipped: "+cenv.fastrpSkip)
	} else {
		defer cenv.fastrp.stop()
	}
	p.printf("transparent mode: a network namespace with iptables rules")
	if cenv.tp, cenv.tpSkip = startTransparent(ctx, tpBin, dir, srv.api); cenv.tp != nil {
		defer cenv.tp.close()
	} else {
		rep.notes = append(rep.notes, cenv.tpSkip)
	}
	if cenv.nginxSkip != "" {
		rep.notes = append(rep.notes, "nginx cases skipped: "+cenv.nginxSkip)
	}
	rep.cases = buildCases(cenv)
	selectCases(rep.cases, o.Only)
	// reserved is each loopguard's idle loopguard_inflight_body_bytes after
	// the last case.
	reserved := map[*sidecar]float64{}
	for r := range o.Rounds {
		for _, c := range rep.cases {
			if c.skip != "" {
				continue
			}
			if err := measure(ctx, c, lg, o, rep.scrapeMallocs, r); err != nil {
				return nil, err
			}
			idle := "-"
			if c.loopguard {
				caseLG := lg
				if c.lg != nil {
					caseLG = c.lg
				}
				left, err := idleInflight(caseLG)
				if err != nil {
					return nil, fmt.Errorf("after %s: %w", c.name, err)
				}
				c.res.inflightGrowth += max(left-reserved[caseLG], 0)
				reserved[caseLG] = left
				idle = fmt.Sprintf("%.0f", left)
			}
			p.printf("round %d/%d: %-30s %8.0f req/s  loopguard RSS %.1f MB, body bytes reserved after the case %s", r+1, o.Rounds, c.name,
				c.res.roundRPS[len(c.res.roundRPS)-1], rssMB([]int{lg.pid()}), idle)
			if err := lg.exited(); err != nil {
				return nil, err
			}
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("run interrupted: %w", err)
			}
		}
	}
	rep.loopguardRSS = rssMB([]int{lg.pid()})
	if n := lg.logProblems(); n > 0 {
		rep.notes = append(rep.notes, fmt.Sprintf("loopguard logged %d warn/error lines (rerun with --keep to read loopguard.log)", n))
	}
	p.printf("decision benchmark (in-process, after the load phases)")
	if rep.decision, err = benchDecision(loaded, o); err != nil {
		return nil, err
	}
	if o.RedisURL != "off" {
		p.printf("decision benchmark on the Redis ledger (loopback)")
		var skip string
		if rep.redisDecision, skip, err = benchDecisionRedis(loaded, o, o.RedisURL); err != nil {
			return nil, err
		}
		rep.redisSkipped = skip
	} else {
		rep.redisSkipped = "--redis off"
	}
	for _, c := range rep.cases {
		if c.res.firstErr != "" {
			rep.notes = append(rep.notes, fmt.Sprintf("%s: %d errors, first: %s", c.name, c.res.satErrs+c.res.rateErrs, c.res.firstErr))
		}
		if c.res.inflightGrowth > 0 {
			rep.notes = append(rep.notes, fmt.Sprintf("%s: the body bytes loopguard still reserved %s after the case's last answer (loopguard_inflight_body_bytes) grew by %.0f over its rounds: a reservation never given back counts against limits.max_inflight_body_bytes until requests with a body get 503",
				c.name, inflightSettle, c.res.inflightGrowth))
		}
		if c.res.missed > 0 {
			rep.notes = append(rep.notes, fmt.Sprintf("%s: the generator missed %d of its fixed-rate sends (machine saturated)", c.name, c.res.missed))
		}
	}
	if rep.ledger.Evictions > 0 {
		rep.notes = append(rep.notes, fmt.Sprintf("ledger: %d entries evicted while filling (max_size_mb too small)", rep.ledger.Evictions))
	}
	rep.machine.loadAfter = loadAverage()
	rep.elapsed = time.Since(start)
	return rep, nil
}

// scrapeCost measures the allocations of one /metrics scrape.
func scrapeCost(lg *sidecar) (float64, error) {
	a, err := lg.scrape()
	if err != nil {
		return 0, err
	}
	b, err := lg.scrape()
	if err != nil {
		return 0, err
	}
	return max(b.mallocs-a.mallocs, 0), nil
}

// measure runs round of a case: an unmeasured warm-up, the saturation
// phase (max req/s, CPU, allocations) and the fixed-rate phase (latency,
// CPU at a moderate rate).
func measure(ctx context.Context, c *benchCase, lg *sidecar, o Options, scrapeMallocs float64, round int) error {
	defer c.target.client.CloseIdleConnections()
	var prof *cpuProfiler // only the main loopguard has a pprof listener
	if c.lg != nil {
		lg = c.lg
	} else if c.loopguard {
		prof = lg.prof
	}
	profName := func(phase string) string { return fmt.Sprintf("%s.r%d.%s.pprof", c.name, round+1, phase) }
	procs := func() []int {
		if c.procs == nil {
			return nil
		}
		return c.procs()
	}
	snap := func() (scrape, error) {
		if !c.loopguard {
			return scrape{}, nil
		}
		return lg.scrape()
	}
	if o.Warmup > 0 {
		closedLoop(ctx, c.target, o.Conns, o.Warmup)
	}
	pids := procs()
	s0, err := snap()
	if err != nil {
		return fmt.Errorf("measure %s: %w", c.name, err)
	}
	cpu0, self0 := cpuSeconds(pids), cpuSeconds(harnessPID())
	waitProf := prof.start(ctx, profName("sat"), o.Saturation)
	cr := closedLoop(ctx, c.target, o.Conns, o.Saturation)
	cpu1, self1 := cpuSeconds(pids), cpuSeconds(harnessPID())
	if err := waitProf(); err != nil {
		return fmt.Errorf("measure %s: %w", c.name, err)
	}
	s1, err := snap()
	if err != nil {
		return fmt.Errorf("measure %s: %w", c.name, err)
	}
	lgDebug := "" // loopguard's runtime histograms are read through its debug listener
	if o.Tail && c.loopguard {
		lgDebug = lg.debug
	}
	tw, err := startTailWindow(ctx, lgDebug, pids)
	if err != nil {
		return fmt.Errorf("measure %s: %w", c.name, err)
	}
	waitProf = prof.start(ctx, profName("rate"), o.Latency)
	or := openLoop(ctx, c.target, c.rate, o.Latency)
	cpu2 := cpuSeconds(pids)
	if err := tw.end(ctx, &c.res); err != nil {
		return fmt.Errorf("measure %s: %w", c.name, err)
	}
	if err := waitProf(); err != nil {
		return fmt.Errorf("measure %s: %w", c.name, err)
	}
	s2, err := snap()
	if err != nil {
		return fmt.Errorf("measure %s: %w", c.name, err)
	}
	r := &c.res
	r.roundRPS = append(r.roundRPS, cr.RPS())
	r.satReqs += cr.Requests
	r.satErrs += cr.Errors
	r.satCPU += cpu1 - cpu0
	r.harnessSatCPU += self1 - self0
	r.mallocs += max(s1.mallocs-s0.mallocs-scrapeMallocs, 0)
	r.latencies = append(r.latencies, or.Latencies...)
	r.rateReqs += or.Requests
	r.rateErrs += or.Errors
	r.missed += or.Missed
	r.rateCPU += cpu2 - cpu1
	r.drops += s2.drops - s0.drops
	r.kept += s2.kept - s0.kept
	r.changes += s2.changes - s0.changes
	r.doubts += s2.doubts - s0.doubts
	r.recorded += s2.recordedWrite - s0.recordedWrite
	r.rssMB = max(r.rssMB, rssMB(procs()))
	if r.firstErr == "" {
		r.firstErr = cr.FirstError
	}
	if r.firstErr == "" {
		r.firstErr = or.FirstError
	}
	slices.Sort(r.latencies)
	return nil
}

// selectCases marks the cases not named by only as skipped.
func selectCases(cs []*benchCase, only []string) {
	if len(only) == 0 {
		return
	}
	for _, c := range cs {
		if !slices.ContainsFunc(only, func(s string) bool { return s != "" && strings.Contains(c.name, s) }) && c.skip == "" {
			c.skip = "not selected by --cases"
		}
	}
}

// firstLine is the first line of s.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
