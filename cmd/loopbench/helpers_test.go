package main

import (
	"os"
	"time"
)

// tinyOptions run every case for a fraction of a second.
func tinyOptions() Options {
	o := defaultOptions()
	o.Rounds, o.Warmup, o.Saturation, o.Latency = 1, 30*time.Millisecond, 150*time.Millisecond, 150*time.Millisecond
	o.Conns, o.Rate, o.BatchRate = 4, 200, 20
	o.LedgerEntries, o.BenchTime, o.WarmRecords, o.OutboundRecords = 20_000, 20*time.Millisecond, 50, 100
	// Few issues: a tiny run changes each several times (known records).
	o.RealRecords = 100
	o.SidecarCmd = []string{os.Args[0]}
	o.SidecarEnv = []string{sidecarRoleEnv + "=1"}
	return o
}
