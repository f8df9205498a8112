package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
)

// ledgerProbeEnv makes the binary (loopbench or its test) measure the
// ledger's memory in a fresh process and print the result as JSON: the
// harness's own heap (load generator, fake servers) would otherwise blur the
// RSS delta, and 1 M entries left behind would slow the load phases.
const ledgerProbeEnv = "LOOPBENCH_LEDGER_PROBE"

// childRole runs a child role selected by the environment (loopguard
// itself, the ledger probe or the plain Go reverse proxy baseline); handled
// is false for a normal start.
func childRole(stdout, stderr io.Writer) (handled bool, code int) {
	if handled, code := sidecarRole(os.Args[1:], stderr); handled {
		return true, code
	}
	if spec, ok := os.LookupEnv(goRPEnv); ok {
		if err := serveGoRP(spec); err != nil {
			fmt.Fprintln(stderr, "loopbench:", err)
			return true, exitFailure
		}
		return true, 0
	}
	if spec, ok := os.LookupEnv(fastRPEnv); ok {
		if err := serveFastRP(spec); err != nil {
			fmt.Fprintln(stderr, "loopbench:", err)
			return true, exitFailure
		}
		return true, 0
	}
	if spec, ok := os.LookupEnv(mitmBaseEnv); ok {
		if err := serveMITMBase(spec); err != nil {
			fmt.Fprintln(stderr, "loopbench:", err)
			return true, exitFailure
		}
		return true, 0
	}
	if spec, ok := os.LookupEnv(tunnelBaseEnv); ok {
		if err := serveTunnelBase(spec); err != nil {
			fmt.Fprintln(stderr, "loopbench:", err)
			return true, exitFailure
		}
		return true, 0
	}
	v, ok := os.LookupEnv(ledgerProbeEnv)
	if !ok {
		return false, 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		fmt.Fprintf(stderr, "loopbench: %s=%q: want a positive entry count\n", ledgerProbeEnv, v)
		return true, exitUsage
	}
	res, err := ledgerMemory(n)
	if err == nil {
		err = json.NewEncoder(stdout).Encode(res)
	}
	if err != nil {
		fmt.Fprintln(stderr, "loopbench: ledger probe:", err)
		return true, exitFailure
	}
	return true, 0
}

// probeLedger runs ledgerMemory(n) in a child process of this binary.
func probeLedger(ctx context.Context, n int) (ledgerResult, error) {
	var res ledgerResult
	exe, err := os.Executable()
	if err != nil {
		return res, fmt.Errorf("ledger probe: find own binary: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), ledgerProbeEnv+"="+strconv.Itoa(n))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("ledger probe: %w: %s", err, errOut.String())
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return res, fmt.Errorf("ledger probe: decode %q: %w", out.String(), err)
	}
	return res, nil
}
