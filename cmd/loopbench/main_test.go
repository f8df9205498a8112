package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/proxy"
	"github.com/rs/zerolog"
)

// testSidecarEnv makes the test binary serve as loopguard ("run --config
// FILE"), so the harness test exercises the whole subprocess path without
// a `go build`.
const testSidecarEnv = "LOOPBENCH_TEST_SIDECAR"

func TestMain(m *testing.M) {
	if handled, code := childRole(os.Stdout, os.Stderr); handled {
		os.Exit(code)
	}
	if os.Getenv(testSidecarEnv) == "1" {
		if err := serveTestSidecar(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "test sidecar:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveTestSidecar is `loopguard run --config FILE` built from the proxy
// package: the same sidecar as cmd/loopguard, minus the CLI.
func serveTestSidecar(args []string) error {
	if len(args) != 3 || args[0] != "run" || args[1] != "--config" {
		return fmt.Errorf("want run --config FILE, got %q", args)
	}
	l, err := configs.Load(args[2], os.LookupEnv)
	if err != nil {
		return err
	}
	lvl, err := zerolog.ParseLevel(l.Config.Log.Level)
	if err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	s, err := proxy.New(l, zerolog.New(os.Stderr).Level(lvl))
	if err != nil {
		return err
	}
	if err := s.Start(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), l.Config.ShutdownGrace.D())
	defer cancel()
	return s.Shutdown(sctx)
}

// tinyOptions run every case for a fraction of a second.
func tinyOptions() Options {
	o := defaultOptions()
	o.Rounds, o.Warmup, o.Saturation, o.Latency = 1, 30*time.Millisecond, 150*time.Millisecond, 150*time.Millisecond
	o.Conns, o.Rate, o.BatchRate = 4, 200, 20
	o.LedgerEntries, o.BenchTime, o.WarmRecords, o.OutboundRecords = 20_000, 20*time.Millisecond, 50, 100
	o.SidecarCmd = []string{os.Args[0]}
	o.SidecarEnv = []string{testSidecarEnv + "=1"}
	return o
}
