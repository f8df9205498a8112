package main

import (
	"fmt"
	"time"
)

// Defaults of a full run (about 13 minutes on 2 cores: 25 cases × 3 rounds).
const (
	defaultRounds          = 3
	defaultWarmup          = time.Second
	defaultSaturation      = 5 * time.Second
	defaultLatency         = 4 * time.Second
	defaultConns           = 32
	defaultRate            = 1000
	defaultBatchRate       = 50
	defaultLedgerEntries   = 1_000_000
	defaultBenchTime       = time.Second
	defaultWarmRecords     = 1000
	defaultOutboundRecords = 10_000
	defaultRealRecords     = 10_000
)

// Quick-mode settings (under 60 seconds including the build).
const (
	quickRounds     = 1
	quickWarmup     = 300 * time.Millisecond
	quickSaturation = time.Second
	quickLatency    = time.Second
	quickBenchTime  = 300 * time.Millisecond
)

// Options are the knobs of one harness run.
type Options struct {
	// Rounds of interleaved cases; per-case numbers are medians over rounds.
	Rounds int
	// Warmup is the unmeasured closed-loop run before each saturation phase.
	Warmup time.Duration
	// Saturation is how long each closed-loop (max req/s) phase lasts.
	Saturation time.Duration
	// Latency is how long each open-loop (fixed-rate) phase lasts.
	Latency time.Duration
	// Conns is the number of concurrent keep-alive clients at saturation.
	Conns int
	// Rate is the open-loop rate (req/s) of single-request cases.
	Rate int
	// BatchRate is the open-loop rate (deliveries/s) of the 100-event batch.
	BatchRate int
	// LedgerEntries is how many writes fill the in-process ledger for the
	// memory measurement (reported per million).
	LedgerEntries int
	// BenchTime is testing.Benchmark's run time for the decision benchmark.
	BenchTime time.Duration
	// WarmRecords is how many records are written through the forward proxy
	// before the inbound cases (each of the echo and genuine sets).
	WarmRecords int
	// OutboundRecords is how many distinct records the outbound PATCHes cycle
	// through (the realistic writes too, partial and full each).
	OutboundRecords int
	// RealRecords is how many issues the realistic inbound changes cycle
	// through.
	RealRecords int
	// LoopguardBin is a prebuilt loopguard binary; empty builds one with
	// `go build ./cmd/loopguard` from the module root.
	LoopguardBin string
	// SidecarCmd, when set, replaces the loopguard command line (before
	// "run --config FILE"); tests use it to run without a build.
	SidecarCmd []string
	// SidecarEnv is appended to the sidecar's environment.
	SidecarEnv []string
	// Nginx is the nginx binary; when absent the nginx cases are skipped.
	Nginx string
	// RedisURL is the Redis for the Redis decision benchmark; empty starts
	// a redis-server when installed ("off" skips it).
	RedisURL string
	// Only, when set, runs only the cases whose names contain one of these
	// substrings (the others are reported as skipped).
	Only []string
	// KeepDir keeps the temporary directory (configs, logs) for inspection.
	KeepDir bool
	// CPUProfile, when set, is a directory for CPU profiles of loopguard,
	// one per loopguard case, round and phase (<case>.r<N>.sat.pprof and
	// .rate.pprof). loopguard then runs as this binary's sidecar role (the
	// proxy package's sidecar, as `loopguard run`, plus a pprof listener).
	CPUProfile string
	// Tail reads the Go runtime's scheduler-latency and GC-pause histograms
	// of loopguard and of the harness around each fixed-rate phase (see
	// tail.go); loopguard then runs as this binary's sidecar role with a
	// debug listener.
	Tail bool
	// Variants are more loopguards, each with extra environment, that the
	// inbound cases also run through (see variant.go).
	Variants []Variant
}

// defaultOptions are the settings of a full run.
func defaultOptions() Options {
	return Options{
		Rounds: defaultRounds, Warmup: defaultWarmup, Saturation: defaultSaturation, Latency: defaultLatency,
		Conns: defaultConns, Rate: defaultRate, BatchRate: defaultBatchRate, LedgerEntries: defaultLedgerEntries,
		BenchTime: defaultBenchTime, WarmRecords: defaultWarmRecords, OutboundRecords: defaultOutboundRecords, RealRecords: defaultRealRecords,
		Nginx: defaultNginx,
	}
}

// quick shortens a run to under a minute.
func (o *Options) quick() {
	o.Rounds, o.Warmup, o.Saturation, o.Latency, o.BenchTime = quickRounds, quickWarmup, quickSaturation, quickLatency, quickBenchTime
}

// validate rejects settings that cannot produce a report.
func (o *Options) validate() error {
	switch {
	case o.Rounds < 1:
		return fmt.Errorf("options: rounds must be at least 1, got %d", o.Rounds)
	case o.Saturation <= 0 || o.Latency <= 0:
		return fmt.Errorf("options: phase durations must be positive")
	case o.Conns < 1:
		return fmt.Errorf("options: conns must be at least 1, got %d", o.Conns)
	case o.Rate < 1 || o.BatchRate < 1:
		return fmt.Errorf("options: rates must be at least 1 req/s")
	case o.LedgerEntries < 1:
		return fmt.Errorf("options: ledger entries must be at least 1")
	case o.WarmRecords < 1 || o.OutboundRecords < 1 || o.RealRecords < 1:
		return fmt.Errorf("options: record counts must be at least 1")
	}
	return nil
}
