package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// goRPEnv makes the binary serve as a plain Go reverse proxy
// ("LISTEN=TARGET_URL"): the baseline a team would hand-write, to tell the
// cost of net/http forwarding from the cost of loopguard's filtering.
const goRPEnv = "LOOPBENCH_GO_REVERSE_PROXY"

// goRPIdleConns is the tuned upstream keep-alive pool of the baseline (the
// default of 2 per host churns connections under concurrency).
const goRPIdleConns = 256

// serveGoRP runs httputil.ReverseProxy with a tuned transport until SIGTERM.
func serveGoRP(spec string) error {
	listen, target, ok := strings.Cut(spec, "=")
	if !ok {
		return fmt.Errorf("%s=%q: want LISTEN=TARGET_URL", goRPEnv, spec)
	}
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("go reverse proxy: target: %w", err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        goRPIdleConns,
		MaxIdleConnsPerHost: goRPIdleConns,
		IdleConnTimeout:     clientIdleTimeout,
		DisableCompression:  true,
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("go reverse proxy: listen: %w", err)
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: serverReadHeaderTimeout, IdleTimeout: serverIdleTimeout}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("go reverse proxy: serve: %w", err)
	}
	return nil
}

// goRPProc is a running baseline reverse proxy (a child of this binary).
type goRPProc struct {
	cmd  *exec.Cmd
	addr string
	done chan error
}

// startGoRP starts the baseline in front of app and waits until it proxies.
func startGoRP(ctx context.Context, app string) (*goRPProc, error) {
	return startBaselineProxy(ctx, goRPEnv, "go reverse proxy", app)
}

// startBaselineProxy starts this binary in the baseline role env selects,
// in front of app, and waits until it proxies.
func startBaselineProxy(ctx context.Context, env, what, app string) (*goRPProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("%s: find own binary: %w", what, err)
	}
	ports, err := freeAddrs(1)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), env+"="+ports[0]+"=http://"+app)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start: %w", what, err)
	}
	g := &goRPProc{cmd: cmd, addr: ports[0], done: make(chan error, 1)}
	go func() { g.done <- cmd.Wait() }()
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		select {
		case err := <-g.done:
			g.done <- err
			return nil, fmt.Errorf("%s exited before ready: %v", what, err)
		default:
		}
		if resp, err := c.Get("http://" + g.addr + "/ready"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return g, nil
			}
		}
		time.Sleep(readyPoll)
	}
	g.stop()
	return nil, fmt.Errorf("%s not ready after %s", what, readyTimeout)
}

// pids is the baseline's process.
func (g *goRPProc) pids() []int { return []int{g.cmd.Process.Pid} }

// stop sends SIGTERM and waits.
func (g *goRPProc) stop() {
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(stopTimeout):
		_ = g.cmd.Process.Kill()
		<-g.done
	}
}
