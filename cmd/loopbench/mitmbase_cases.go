package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"time"
)

// startMITMBase starts the minimal MITM baseline (mitmbase.go) in mode,
// signing with the CA in caDir and trusting upstreamCA, and waits until it
// answers. A non-empty profDir gets a CPU profile of the baseline's life
// (mitm_min_<mode>.pprof).
func startMITMBase(ctx context.Context, mode, caDir, upstreamCA, profDir string) (*tunnelBaseProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("mitm baseline: find own binary: %w", err)
	}
	ports, err := freeAddrs(1)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), mitmBaseEnv+"="+ports[0]+","+mode, mitmBaseCAEnv+"="+caDir, mitmBaseUpstreamEnv+"="+upstreamCA)
	if profDir != "" {
		cmd.Env = append(cmd.Env, mitmBaseProfileEnv+"="+filepath.Join(profDir, viaMITMMin(mode)+".pprof"))
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("mitm baseline: start: %w", err)
	}
	p := &tunnelBaseProc{cmd: cmd, addr: ports[0], done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		select {
		case err := <-p.done:
			p.done <- err
			return nil, fmt.Errorf("mitm baseline (%s) exited before ready: %v", mode, err)
		default:
		}
		if resp, err := c.Get("http://" + p.addr + "/ready"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		time.Sleep(readyPoll)
	}
	p.stop()
	return nil, fmt.Errorf("mitm baseline (%s) not ready after %s", mode, readyTimeout)
}

// mitmBases are the running MITM baselines by mode (a missing one was
// skipped; skip says why).
type mitmBases struct {
	procs map[string]*tunnelBaseProc
	skip  map[string]string
}

// startMITMBases starts one baseline per mode with loopguard's CA (caDir)
// and the upstream CA file loopguard trusts (profDir: see startMITMBase).
func startMITMBases(ctx context.Context, caDir, upstreamCA, profDir string) *mitmBases {
	b := &mitmBases{procs: map[string]*tunnelBaseProc{}, skip: map[string]string{}}
	for _, m := range mitmBaseModes {
		p, err := startMITMBase(ctx, m, caDir, upstreamCA, profDir)
		if err != nil {
			b.skip[m] = firstLine(err.Error())
			continue
		}
		b.procs[m] = p
	}
	return b
}

func (b *mitmBases) stop() {
	for _, p := range b.procs {
		p.stop()
	}
}

// viaMITMMin is the way of the minimal MITM baseline in mode.
func viaMITMMin(mode string) string { return "mitm_min_" + mode }

// mitmBaseCases are group's writes (reqs, to the same intercepted host as
// loopguard's MITM case) through the baseline of each of modes, trusting
// loopguard's CA as that case does.
func mitmBaseCases(e caseEnv, group string, modes []string, reqs requestFunc) []*benchCase {
	var cs []*benchCase
	for _, m := range modes {
		c := &benchCase{name: group + "_" + viaMITMMin(m), group: group, via: viaMITMMin(m), rate: e.opts.Rate}
		c.target.seq = new(atomic.Uint64)
		var p *tunnelBaseProc
		if e.mitms != nil {
			p = e.mitms.procs[m]
		}
		if p == nil {
			c.skip = "mitm baseline not started"
			if e.mitms != nil {
				c.skip = "mitm baseline: " + e.mitms.skip[m]
			}
			cs = append(cs, c)
			continue
		}
		c.target.client = newClient(e.opts.Conns, &url.URL{Scheme: "http", Host: p.addr}, newPool(e.lg.caPEM))
		c.target.next = reqs
		c.procs = p.pids
		cs = append(cs, c)
	}
	return cs
}

// mitmBaseMetrics are the baselines' ratios to direct HTTPS, their CPU,
// and loopguard's MITM over the best (fastest) baseline, for the small
// writes and the realistic partial writes.
func (r *report) mitmBaseMetrics(add func(string, float64)) {
	for _, g := range []struct {
		group, suffix string
		modes         []string
	}{{groupOutbound, "", mitmBaseModes}, {groupRealPartial, "_real_partial", mitmBaseRealModes}} {
		d, lg := r.caseOf(g.group, viaDirect), r.caseOf(g.group, viaMITM)
		best := nan()
		for _, m := range g.modes {
			c := r.caseOf(g.group, viaMITMMin(m))
			name := viaMITMMin(m) + g.suffix
			add(name+"_rps_ratio_direct", ratio(c.rps(), d.rps()))
			add(name+"_cpu_s_per_1k", per1k(c.res.rateCPU, c.res.rateReqs))
			add(name+"_sat_cpu_s_per_1k", per1k(c.res.satCPU, c.res.satReqs))
			if v := c.rps(); !math.IsNaN(v) && (math.IsNaN(best) || v > best) {
				best = v
			}
		}
		add("mitm_min_best"+g.suffix+"_rps_ratio_direct", ratio(best, d.rps()))
		add("mitm"+g.suffix+"_rps_ratio_min", ratio(lg.rps(), best))
	}
}
