package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// redisPassword is the password in every Redis URL below: no output of a
// real loopguard process may show it.
const redisPassword = "Hunter2redisPW"

// child runs loopguard with args and env as a real process until it exits
// or ctx ends (then with SIGTERM), returning its exit code and everything
// it wrote.
func child(ctx context.Context, env []string, args ...string) (int, string, error) {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), childEnv+"=1"), env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), nil
	}
	if ctx.Err() != nil && cmd.ProcessState != nil {
		// Stopped by SIGTERM and exited cleanly.
		return cmd.ProcessState.ExitCode(), out.String(), nil
	}
	return 0, out.String(), err
}

// TestRedisURLErrorsNeverShowThePassword: validate and run reject malformed
// URLs with the same message, and neither the message nor run's log shows
// the password or the URL.
func TestRedisURLErrorsNeverShowThePassword(t *testing.T) {
	t.Parallel()
	urls := []string{
		"redis//:" + redisPassword + "@127.0.0.1:6379",
		redisPassword,
		"redis://:" + redisPassword + "@",
		"redis://:" + redisPassword + "@127.0.0.1:99999",
		"redis://:" + redisPassword + "@127.0.0.1/db0",
		"http://:" + redisPassword + "@127.0.0.1",
	}
	for i, u := range urls {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			dir := t.TempDir()
			env := []string{"LOOPGUARD_STORE=redis", "LOOPGUARD_REDIS_URL=" + u,
				"LOOPGUARD_CA_DIR=" + filepath.Join(dir, "ca"), "LOOPGUARD_SPOOL_DIR=" + filepath.Join(dir, "spool")}
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			vcode, vout, verr := child(ctx, env, "validate")
			rcode, rout, rerr := child(ctx, env, "run")
			if verr != nil || rerr != nil {
				t.Fatal(verr, rerr)
			}
			for _, out := range []string{vout, rout} {
				if strings.Contains(out, redisPassword) || strings.Contains(out, redisPassword[6:]) {
					t.Fatalf("output shows the password:\n%s", out)
				}
			}
			vmsg, _ := strings.CutPrefix(strings.TrimSpace(vout), "loopguard validate: ")
			rmsg, _ := strings.CutPrefix(strings.TrimSpace(rout), "loopguard run: ")
			if vcode != 1 || rcode != 1 || vmsg != rmsg || !strings.Contains(vmsg, "redis.url: parse redis URL: ") {
				t.Fatalf("validate %d %q\nrun %d %q\nwant both to fail alike", vcode, vout, rcode, rout)
			}
		})
	}
}

// TestRunWithRedisDownNeverShowsThePassword: a well-formed URL to a Redis
// that is not there; loopguard starts (layers that need the store
// abstain), logs the store and its failures, and never the password.
func TestRunWithRedisDownNeverShowsThePassword(t *testing.T) {
	dir := t.TempDir()
	admin := freeAddr(t)
	env := []string{"LOOPGUARD_STORE=redis", "LOOPGUARD_REDIS_URL=redis://lg:" + redisPassword + "@" + freeAddr(t) + "/0",
		"LOOPGUARD_LISTEN_ADMIN=" + admin, "LOOPGUARD_LISTEN_OUTBOUND=" + freeAddr(t), "LOOPGUARD_LISTEN_INBOUND=" + freeAddr(t),
		"LOOPGUARD_CA_DIR=" + filepath.Join(dir, "ca"), "LOOPGUARD_SPOOL_DIR=" + filepath.Join(dir, "spool")}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	type result struct {
		code int
		out  string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, out, err := child(ctx, env, "run")
		done <- result{code, out, err}
	}()
	// Wait until it has noticed Redis is down (readyz says degraded), then
	// stop it with SIGTERM.
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := httpGet("http://" + admin + "/readyz")
		if code == 200 && strings.Contains(body, "degraded") {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("loopguard never reported the store down: %d %q\n%s", code, body, (<-done).out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	r := <-done
	if r.err != nil || r.code != 0 {
		t.Fatalf("run: exit %d, %v\n%s", r.code, r.err, r.out)
	}
	if !strings.Contains(r.out, `"redis":"redis://lg:xxxxx@`) || !strings.Contains(r.out, "redis unreachable") {
		t.Fatalf("the log does not name the store and its failure:\n%s", r.out)
	}
	if strings.Contains(r.out, redisPassword) {
		t.Fatalf("the log shows the password:\n%s", r.out)
	}
}

func httpGet(u string) (int, string) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
