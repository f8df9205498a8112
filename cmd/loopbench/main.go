// Command loopbench is loopguard's load harness (issue 9). It builds
// loopguard, runs it as a subprocess with a generated production-like
// configuration in front of an in-process fake app (HTTP) and fake API
// (HTTPS, self-signed), and measures, interleaved over rounds so machine
// drift cancels out:
//
//   - inbound: 1 KB webhooks and a 100-event HubSpot-style batch (10%
//     echoes of writes made through the forward proxy beforehand) sent to
//     the app directly, through nginx as a plain reverse proxy, through a
//     plain Go httputil.ReverseProxy with a tuned transport (the proxy a
//     team would hand-write: it tells net/http's cost from loopguard's),
//     and through loopguard's inbound proxy;
//   - outbound: a 1 KB JSON PATCH sent directly over HTTPS, through the
//     forward proxy as a CONNECT tunnel (host not configured), through the
//     forward proxy with MITM, tagging and recording, and through gateway
//     mode;
//   - the realistic workload (issue 19, workload_real.go): ~1 KB Linear-
//     style issue webhooks, every one a distinct genuine change (no event
//     id, no echo: forwarded and recorded), direct, via nginx, the Go
//     reverse proxy and loopguard; and ~1 KB PATCHes of 2 and of all 5
//     tracked fields, answered with the record, direct, via MITM and via
//     the gateway.
//
// Per case: max req/s of N keep-alive clients (closed loop), p50/p99 at a
// fixed rate (open loop), CPU seconds per 1,000 requests of the proxy
// process (loopguard, nginx master+workers, or the Go baseline) from
// /proc/<pid>/stat, both at the fixed rate and at saturation, loopguard
// allocations per request from its /metrics (go_memstats_mallocs_total),
// and RSS. In-process: the filter decision per event (testing.Benchmark on
// a warm ledger) and the resident size of 1 M ledger entries (measured in a
// fresh child process). inbound_cpu_s_per_1k is the fixed-rate value, as in
// the target.
//
// Profiling: the admin listener has no pprof. --cpuprofile DIR runs the
// loopguard child as this binary's sidecar role (the proxy package's
// sidecar, as `loopguard run`, plus a pprof listener) and saves a CPU
// profile of each loopguard case's phases; BenchmarkProxy (in
// profile_test.go) runs loopguard in-process for go test -cpuprofile.
//
// Usage:
//
//	go run ./cmd/loopbench [--quick] [--out FILE] [flags]
//
// The report is a table followed by one name=value line per metric (NaN
// when not measured, e.g. the nginx cases when nginx is not installed).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit codes.
const (
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	if handled, code := childRole(os.Stdout, os.Stderr); handled {
		os.Exit(code)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := mainErr(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// mainErr parses flags, runs the harness and writes the report.
func mainErr(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, out, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "loopbench:", err)
		return exitUsage
	}
	rep, err := run(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "loopbench:", err)
		return exitFailure
	}
	if err := rep.write(stdout); err != nil {
		fmt.Fprintln(stderr, "loopbench:", err)
		return exitFailure
	}
	if out != "" {
		f, err := os.Create(out)
		if err == nil {
			err = rep.write(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "loopbench: write %s: %v\n", out, err)
			return exitFailure
		}
	}
	return 0
}

// parseFlags builds the options; out is the --out file.
func parseFlags(args []string, stderr io.Writer) (o Options, out string, err error) {
	o = defaultOptions()
	fs := flag.NewFlagSet("loopbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./cmd/loopbench [--quick] [--out FILE] [flags]")
		fs.PrintDefaults()
	}
	quick := fs.Bool("quick", false, "short run (under 60 s): 1 round, 1 s phases")
	fs.StringVar(&out, "out", "", "also write the report to this file")
	fs.IntVar(&o.Rounds, "rounds", o.Rounds, "interleaved rounds (medians over rounds)")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "unmeasured warm-up before each saturation phase")
	fs.DurationVar(&o.Saturation, "duration", o.Saturation, "saturation (closed-loop) phase per case and round")
	fs.DurationVar(&o.Latency, "latency-duration", o.Latency, "fixed-rate (open-loop) phase per case and round")
	fs.IntVar(&o.Conns, "conns", o.Conns, "concurrent keep-alive clients at saturation")
	fs.IntVar(&o.Rate, "rate", o.Rate, "fixed rate of the latency phase (req/s)")
	fs.IntVar(&o.BatchRate, "batch-rate", o.BatchRate, "fixed rate of the 100-event batch (deliveries/s)")
	fs.IntVar(&o.LedgerEntries, "ledger-entries", o.LedgerEntries, "entries for the ledger memory measurement")
	fs.StringVar(&o.LoopguardBin, "loopguard", "", "prebuilt loopguard binary (default: go build ./cmd/loopguard)")
	fs.StringVar(&o.Nginx, "nginx", o.Nginx, "nginx binary (nginx cases are skipped when absent)")
	fs.StringVar(&o.RedisURL, "redis", o.RedisURL, "Redis URL for the Redis decision benchmark (empty: start a redis-server when installed; off: skip)")
	fs.BoolVar(&o.KeepDir, "keep", false, "keep the run directory (configs, logs)")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write CPU profiles of loopguard per case, round and phase into this directory (loopguard then runs in this binary with a pprof listener)")
	fs.Func("sidecar-env", "KEY=VALUE added to loopguard's environment (repeatable), e.g. GOMAXPROCS=1", func(v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("want KEY=VALUE, got %q", v)
		}
		o.SidecarEnv = append(o.SidecarEnv, v)
		return nil
	})
	fs.BoolVar(&o.Tail, "tail", false, "read the runtime's scheduler-latency and GC-pause histograms of loopguard and the harness in each fixed-rate phase (loopguard then runs in this binary with a debug listener)")
	fs.Func("variant", "NAME:KEY=VALUE[,KEY=VALUE]: also run the inbound cases through a loopguard with this environment (repeatable), e.g. gogc400:GOGC=400", func(v string) error {
		vr, err := parseVariant(v)
		if err != nil {
			return err
		}
		o.Variants = append(o.Variants, vr)
		return nil
	})
	only := fs.String("cases", "", "comma-separated substrings: run only matching cases (e.g. inbound,mitm)")
	if err := fs.Parse(args); err != nil {
		return o, "", err
	}
	if *only != "" {
		o.Only = strings.Split(*only, ",")
	}
	if fs.NArg() > 0 {
		return o, "", fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		q := o
		q.quick()
		// Explicit flags win over --quick.
		if !set["rounds"] {
			o.Rounds = q.Rounds
		}
		if !set["warmup"] {
			o.Warmup = q.Warmup
		}
		if !set["duration"] {
			o.Saturation = q.Saturation
		}
		if !set["latency-duration"] {
			o.Latency = q.Latency
		}
		o.BenchTime = q.BenchTime
	}
	return o, out, o.validate()
}
