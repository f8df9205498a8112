package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary run loopguard's main instead of the tests,
// so a test can kill -9 a real loopguard process.
const childEnv = "LOOPGUARD_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startChild runs `loopguard run --config cfg` as a child process and waits
// until its admin /readyz answers 200.
func startChild(t *testing.T, cfg, admin string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "run", "--config", cfg)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("loopguard child not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHeldDeliveriesSurviveKill: a provider that never redelivers (hold)
// posts while the app is down; loopguard answers 200 and spools. loopguard
// is then killed with SIGKILL, the app comes up, a new loopguard starts on
// the same spool and replays every delivery in order.
func TestHeldDeliveriesSurviveKill(t *testing.T) {
	dir := t.TempDir()
	appAddr, inAddr, adminAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	cfg := filepath.Join(dir, "loopguard.yaml")
	yaml := fmt.Sprintf(`app_url: http://%s
listen: {outbound: "", inbound: %q, admin: %q}
log: {level: error}
ca: {dir: %q}
spool: {dir: %q, replay_interval: 100ms}
providers:
  - use: generic
    hold_policy: hold
`, appAddr, inAddr, adminAddr, filepath.Join(dir, "ca"), filepath.Join(dir, "spool"))
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	child := startChild(t, cfg, adminAddr)
	for i := 0; i < 3; i++ {
		body := fmt.Sprintf(`{"id":"k%d","object":"contacts","actor":"u_human","record":{"id":"r%d","name":"n"}}`, i, i)
		resp, err := http.Post("http://"+inAddr+"/webhooks/generic", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(got), "held") {
			t.Fatalf("delivery %d with the app down: %d %s", i, resp.StatusCode, got)
		}
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = child.Process.Wait()

	var mu sync.Mutex
	var ids []string
	ln, err := net.Listen("tcp", appAddr)
	if err != nil {
		t.Fatal(err)
	}
	app := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		ids = append(ids, strings.SplitN(strings.TrimPrefix(string(b), `{"id":"`), `"`, 2)[0])
		mu.Unlock()
	})}
	go func() { _ = app.Serve(ln) }()
	t.Cleanup(func() { _ = app.Close() })

	startChild(t, cfg, adminAddr)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		got := strings.Join(ids, ",")
		mu.Unlock()
		if got == "k0,k1,k2" {
			return
		}
		if time.Now().After(deadline) || len(got) > len("k0,k1,k2") {
			t.Fatalf("replayed after kill and restart: %q, want k0,k1,k2", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
