package main

import (
	"bufio"
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// requiredNames are the machine-readable names issues 9 and 19 ask for.
func requiredNames() []string {
	return []string{
		"inbound_rps_ratio_direct", "inbound_rps_ratio_nginx", "nginx_rps_ratio_direct", "inbound_p99_added_ms",
		"inbound_cpu_s_per_1k", "mitm_rps_ratio_direct", "connect_rps_ratio_direct", "gateway_rps_ratio_direct",
		"decision_ns_per_event", "ledger_rss_mb_per_million",
		"inbound_real_rps_ratio_nginx", "inbound_real_rps_ratio_direct", "inbound_real_p99_added_ms", "inbound_real_cpu_s_per_1k",
		"mitm_real_partial_rps_ratio_direct", "mitm_real_full_rps_ratio_direct",
		"gateway_real_partial_rps_ratio_direct", "gateway_real_full_rps_ratio_direct",
	}
}

// parseReport reads the name=value lines at the end of a report.
func parseReport(t *testing.T, report string) map[string]float64 {
	t.Helper()
	vals := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(report))
	tail := false
	for sc.Scan() {
		line := sc.Text()
		name, v, ok := strings.Cut(line, "=")
		if !ok || strings.ContainsAny(name, " \t") {
			if tail && line != "" {
				t.Fatalf("non name=value line after the machine-readable block: %q", line)
			}
			continue
		}
		tail = true
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		vals[name] = f
	}
	return vals
}

// TestHarnessTinyRun runs the whole harness for a few seconds (loopguard as
// a subprocess, nginx when installed) and checks the report.
func TestHarnessTinyRun(t *testing.T) {
	o := tinyOptions()
	_, statErr := os.Stat(o.Nginx)
	haveNginx := statErr == nil
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var progress strings.Builder
	rep, err := run(ctx, o, &progress)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	var out strings.Builder
	if err := rep.write(&out); err != nil {
		t.Fatal(err)
	}
	report := out.String()
	vals := parseReport(t, report)
	nginxDependent := map[string]bool{"inbound_rps_ratio_nginx": true, "nginx_rps_ratio_direct": true, "inbound_real_rps_ratio_nginx": true}
	for _, name := range requiredNames() {
		v, ok := vals[name]
		switch {
		case !ok:
			t.Errorf("report has no %s line", name)
		case math.IsNaN(v) && nginxDependent[name] && !haveNginx:
		case math.IsNaN(v) || math.IsInf(v, 0):
			t.Errorf("%s = %v, want a number", name, v)
		}
	}
	positive := []string{
		"inbound_rps_ratio_direct", "mitm_rps_ratio_direct", "connect_rps_ratio_direct", "gateway_rps_ratio_direct",
		"decision_ns_per_event", "ledger_rss_mb_per_million",
		"inbound_real_rps_ratio_direct", "inbound_real_rps_ratio_go_rp",
		"mitm_real_partial_rps_ratio_direct", "mitm_real_full_rps_ratio_direct",
		"gateway_real_partial_rps_ratio_direct", "gateway_real_full_rps_ratio_direct",
		"gateway_real_partial_rps_ratio_mitm", "gateway_real_full_rps_ratio_mitm",
		// The minimal MITM baselines (mitmbase.go) and loopguard over the best.
		"mitm_min_nethttp_rps_ratio_direct", "mitm_min_lean_rps_ratio_direct", "mitm_min_fasthttp_rps_ratio_direct",
		"mitm_min_nethttp_real_partial_rps_ratio_direct", "mitm_min_fasthttp_real_partial_rps_ratio_direct",
		"mitm_rps_ratio_min", "mitm_real_partial_rps_ratio_min",
	}
	if haveNginx {
		positive = append(positive, "inbound_rps_ratio_nginx", "nginx_rps_ratio_direct", "inbound_real_rps_ratio_nginx")
	}
	for _, name := range positive {
		if v := vals[name]; !(v > 0) || v > 1e6 {
			t.Errorf("%s = %v, want a positive, sane value", name, v)
		}
	}
	// CPU is read in 10 ms ticks: a tiny run may see none.
	for _, name := range []string{"inbound_cpu_s_per_1k", "inbound_real_cpu_s_per_1k", "mitm_real_partial_cpu_s_per_1k", "gateway_real_full_cpu_s_per_1k"} {
		if v := vals[name]; !(v >= 0) || v > 100 {
			t.Errorf("%s = %v, want a sane value", name, v)
		}
	}
	// The realistic inbound deliveries are all genuine changes: every one
	// forwarded as news, none dropped, none forwarded out of doubt.
	for name, want := range map[string]float64{"inbound_real_drop_fraction": 0, "inbound_real_change_fraction": 1, "inbound_real_doubt_fraction": 0} {
		if v := vals[name]; v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	// Every realistic write is answered 2xx with the record: recorded.
	for _, name := range []string{"mitm_real_partial_recorded_fraction", "mitm_real_full_recorded_fraction",
		"gateway_real_partial_recorded_fraction", "gateway_real_full_recorded_fraction"} {
		if v := vals[name]; !(v >= 0.95 && v <= 1) {
			t.Errorf("%s = %v, want ~1", name, v)
		}
	}
	if v := vals["inbound_real_allocs_per_req"]; !(v > 0) || v > 1e5 {
		t.Errorf("inbound_real_allocs_per_req = %v, want a sane value", v)
	}
	if v := vals["errors_total"]; v != 0 {
		t.Errorf("errors_total = %v, want 0\n%s", v, report)
	}
	// Every tenth event is an echo and must be dropped, in both shapes.
	for _, name := range []string{"inbound_echo_drop_fraction", "batch_echo_drop_fraction", "decision_echo_fraction"} {
		if v := vals[name]; math.Abs(v-0.1) > 0.03 {
			t.Errorf("%s = %v, want ~0.1", name, v)
		}
	}
	if v := vals["inbound_nginx_rps"]; haveNginx == math.IsNaN(v) {
		t.Errorf("inbound_nginx_rps = %v with nginx installed = %v", v, haveNginx)
	}
	if t.Failed() {
		t.Logf("report:\n%s\nprogress:\n%s", report, progress.String())
	}
}

// TestNginxMissingIsSkipped checks the report of a run without nginx: the
// nginx cases are skipped and their ratios are NaN, not failures.
func TestNginxMissingIsSkipped(t *testing.T) {
	rep := &report{cases: []*benchCase{
		{name: "inbound_direct", group: groupInbound, via: viaDirect, res: caseResult{roundRPS: []float64{100}, latencies: []time.Duration{time.Millisecond}}},
		{name: "inbound_nginx", group: groupInbound, via: viaNginx, skip: "nginx not installed"},
		{name: "inbound_loopguard", group: groupInbound, via: viaLoopguard, loopguard: true, procs: func() []int { return nil },
			res: caseResult{roundRPS: []float64{50}, latencies: []time.Duration{2 * time.Millisecond}}},
	}}
	var out strings.Builder
	if err := rep.write(&out); err != nil {
		t.Fatal(err)
	}
	vals := parseReport(t, out.String())
	for _, name := range []string{"inbound_rps_ratio_nginx", "nginx_rps_ratio_direct", "inbound_nginx_rps"} {
		if v, ok := vals[name]; !ok || !math.IsNaN(v) {
			t.Errorf("%s = %v (present %v), want NaN", name, v, ok)
		}
	}
	if v := vals["inbound_rps_ratio_direct"]; v != 0.5 {
		t.Errorf("inbound_rps_ratio_direct = %v, want 0.5", v)
	}
	if v := vals["inbound_p99_added_ms"]; v != 1 {
		t.Errorf("inbound_p99_added_ms = %v, want 1", v)
	}
}

func TestParseFlagsQuick(t *testing.T) {
	var stderr strings.Builder
	o, out, err := parseFlags([]string{"--quick", "--out", "r.txt", "--duration", "2s"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if out != "r.txt" || o.Rounds != quickRounds || o.Latency != quickLatency || o.Saturation != 2*time.Second {
		t.Errorf("quick options = %+v out %q", o, out)
	}
	if _, _, err := parseFlags([]string{"--rounds", "0"}, &stderr); err == nil {
		t.Error("rounds 0 accepted")
	}
}

// TestCPUProfileOption runs one loopguard case with --cpuprofile and checks
// that a profile of each phase was written.
func TestCPUProfileOption(t *testing.T) {
	o := tinyOptions()
	o.CPUProfile = t.TempDir()
	o.Only = []string{"inbound_real_loopguard"}
	o.RedisURL = "off"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var progress strings.Builder
	if _, err := run(ctx, o, &progress); err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	for _, phase := range []string{"sat", "rate"} {
		b, err := os.ReadFile(filepath.Join(o.CPUProfile, "inbound_real_loopguard.r1."+phase+".pprof"))
		if err != nil {
			t.Fatal(err)
		}
		// A profile is gzip-compressed protobuf.
		if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("%s profile: %d bytes, not gzip", phase, len(b))
		}
	}
}

func TestMain(m *testing.M) {
	// The harness starts this test binary as loopguard (the sidecar role,
	// "run --config FILE"), the ledger probe and the Go reverse proxy, so
	// the tests exercise the whole subprocess path without a `go build`.
	if handled, code := childRole(os.Stdout, os.Stderr); handled {
		os.Exit(code)
	}
	os.Exit(m.Run())
}
