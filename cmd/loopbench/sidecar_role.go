package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/proxy"
	"github.com/rs/zerolog"
)

// Child roles that run loopguard itself inside this binary (or its test
// binary): `loopguard run --config FILE` built from the proxy package, the
// same sidecar as cmd/loopguard minus the CLI. The tests use it to run
// without a `go build`; --cpuprofile uses it to add a pprof listener,
// which cmd/loopguard does not have.
const (
	// sidecarRoleEnv=1 makes the binary serve as loopguard.
	sidecarRoleEnv = "LOOPBENCH_SIDECAR"
	// sidecarPprofEnv=ADDR adds a net/http/pprof listener on ADDR.
	sidecarPprofEnv = "LOOPBENCH_SIDECAR_PPROF"
)

// sidecarRole runs the loopguard role when the environment selects it.
func sidecarRole(args []string, stderr io.Writer) (handled bool, code int) {
	if os.Getenv(sidecarRoleEnv) != "1" {
		return false, 0
	}
	if err := serveSidecar(args, os.Getenv(sidecarPprofEnv), stderr); err != nil {
		fmt.Fprintln(stderr, "loopbench sidecar:", err)
		return true, exitFailure
	}
	return true, 0
}

// serveSidecar is `loopguard run --config FILE` until SIGTERM, with a pprof
// listener on pprofAddr when set.
func serveSidecar(args []string, pprofAddr string, stderr io.Writer) error {
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
	s, err := proxy.New(l, zerolog.New(stderr).Level(lvl).With().Timestamp().Logger())
	if err != nil {
		return err
	}
	if err := s.Start(); err != nil {
		return err
	}
	var prof *http.Server
	if pprofAddr != "" {
		if prof, err = servePprof(pprofAddr, stderr); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), l.Config.ShutdownGrace.D())
	defer cancel()
	if prof != nil {
		_ = prof.Shutdown(sctx)
	}
	return s.Shutdown(sctx)
}

// servePprof serves the CPU profile endpoint and the runtime's tail
// histograms (--tail) on addr (loopback).
func servePprof(addr string, stderr io.Writer) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc(runtimeTailPath, serveRuntimeTail)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: serverReadHeaderTimeout}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(stderr, "loopbench sidecar: pprof:", err)
		}
	}()
	return srv, nil
}
