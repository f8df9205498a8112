// Package adversarial is loopguard's adversarial suite: each case attacks a
// real loopguard process (the binary built once per run from
// ./cmd/loopguard, started with a generated configuration on free
// 127.0.0.1 ports) with real clients, in front of a real fake app and a
// real fake API, and asserts both what the provider (the client) was
// answered and what the app finally received, plus the process's own
// bounds (RSS from /proc, goroutines and connections from /metrics).
//
// Run it alone with
//
//	go test ./cmd/loopguard/adversarial/ -v
//
// (set LOOPGUARD_BIN to test a prebuilt binary). The helpers — startLoopguard,
// Loopguard's Metric, Restart and Signal, rss, startApp, startAPI,
// deliver — are meant for more cases: add a file per finding.
package adversarial
