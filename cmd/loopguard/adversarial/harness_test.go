package adversarial

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/redistest"
)

// binEnv names a prebuilt loopguard binary to test instead of building one.
const binEnv = "LOOPGUARD_BIN"

// bin is the loopguard binary under test; binErr says why there is none.
var bin, binErr = "", error(nil)

func TestMain(m *testing.M) {
	code := func() int {
		if p := os.Getenv(binEnv); p != "" {
			bin = p
			return redistest.Main(m)
		}
		dir, err := os.MkdirTemp("", "loopguard-adversarial-")
		if err != nil {
			binErr = err
			return redistest.Main(m)
		}
		defer os.RemoveAll(dir)
		bin, binErr = build(dir)
		return redistest.Main(m)
	}()
	os.Exit(code)
}

// build compiles ./cmd/loopguard once for the run (without -race even when
// the suite runs with it: RSS bounds are about the real binary).
func build(dir string) (string, error) {
	// go test puts its own GOROOT/bin first on the PATH of the tests it
	// runs (Go 1.19+), so this is the go that runs the suite.
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("no go tool to build loopguard (%v); set %s", err, binEnv)
	}
	out := filepath.Join(dir, "loopguard")
	// The flags of .ci/run's (and the Dockerfile's) build, so CI's build
	// cache serves this one.
	cmd := exec.Command(goBin, "build", "-trimpath", "-o", out, "github.com/loopguard/loopguard/cmd/loopguard")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/loopguard: %v\n%s", err, b)
	}
	return out, nil
}

// handedOut are the ports freeAddr returned in this test process: the
// kernel may hand a just-closed port out again, and two listeners of one
// loopguard given the same port fail to start.
var handedOut sync.Map

// freeAddr returns a free 127.0.0.1 port (closed again: the caller binds
// it) that no earlier call returned.
func freeAddr(t testing.TB) string {
	t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if _, dup := handedOut.LoadOrStore(addr, true); !dup {
			return addr
		}
	}
	t.Fatal("no unused free port in 100 tries")
	return ""
}

// Loopguard is one loopguard process (and, after Restart, its successor on
// the same configuration, ports and directories).
type Loopguard struct {
	Inbound, Outbound, Admin, Gateway string
	// Dir holds the configuration, the CA (Dir/ca), the spool (Dir/spool
	// unless the configuration names another) and the log.
	Dir, ConfigPath, LogPath string
	// CAFile is the CA certificate apps must trust for MITM.
	CAFile string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the exit of the last process, once done is closed
	env  []string
}

// Options configure startLoopguard.
type Options struct {
	// Config is the YAML configuration without listen and ca (the harness
	// writes those: free 127.0.0.1 ports, Dir/ca). "{{dir}}" is replaced
	// by Dir. Without a "spool:" section, spool.dir is Dir/spool.
	Config string
	// Gateway adds a gateway listener.
	Gateway bool
	// Env is added to the process environment.
	Env []string
	// AdminAllInterfaces binds the admin listener to 0.0.0.0 (on the port
	// of Admin, which stays the 127.0.0.1 address clients use).
	AdminAllInterfaces bool
}

// readyTimeout bounds a start until /readyz answers.
const readyTimeout = 15 * time.Second

// startLoopguard writes the configuration and starts loopguard run; it
// returns once /readyz answers 200 and stops the process at test end.
func startLoopguard(t testing.TB, o Options) *Loopguard {
	t.Helper()
	if binErr != nil {
		t.Skipf("no loopguard binary: %v", binErr)
	}
	dir := t.TempDir()
	lg := &Loopguard{
		Inbound: freeAddr(t), Outbound: freeAddr(t), Admin: freeAddr(t), Dir: dir,
		ConfigPath: filepath.Join(dir, "loopguard.yaml"), LogPath: filepath.Join(dir, "loopguard.log"),
		CAFile: filepath.Join(dir, "ca", "ca.pem"), env: o.Env,
	}
	gw := ""
	if o.Gateway {
		lg.Gateway = freeAddr(t)
		gw = fmt.Sprintf(", gateway: %q", lg.Gateway)
	}
	adminBind := lg.Admin
	if o.AdminAllInterfaces {
		_, port, _ := net.SplitHostPort(lg.Admin)
		adminBind = "0.0.0.0:" + port
	}
	cfg := fmt.Sprintf("listen: {outbound: %q, inbound: %q, admin: %q%s}\nca: {dir: %q}\n",
		lg.Outbound, lg.Inbound, adminBind, gw, filepath.Join(dir, "ca"))
	body := strings.ReplaceAll(o.Config, "{{dir}}", dir)
	if !strings.HasPrefix(body, "spool:") && !strings.Contains(body, "\nspool:") {
		cfg += fmt.Sprintf("spool: {dir: %q}\n", filepath.Join(dir, "spool"))
	}
	if err := os.WriteFile(lg.ConfigPath, []byte(cfg+body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lg.stop() })
	lg.start(t)
	return lg
}

func (lg *Loopguard) start(t testing.TB) {
	t.Helper()
	logf, err := os.OpenFile(lg.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", lg.ConfigPath)
	cmd.Env = append(os.Environ(), lg.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start loopguard: %v", err)
	}
	done := make(chan struct{})
	lg.mu.Lock()
	lg.cmd, lg.done = cmd, done
	lg.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		lg.mu.Lock()
		lg.err = err
		lg.mu.Unlock()
		close(done)
	}()
	deadline := time.Now().Add(readyTimeout)
	c := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-done:
			t.Fatalf("loopguard exited before ready: %v\n%s", lg.exitErr(), lg.Log())
		default:
		}
		resp, err := c.Get("http://" + lg.Admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("loopguard not ready after %s: %v\n%s", readyTimeout, err, lg.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// PID is the running process's id.
func (lg *Loopguard) PID() int {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	return lg.cmd.Process.Pid
}

func (lg *Loopguard) exitErr() error {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	return lg.err
}

// Signal sends sig to the running process.
func (lg *Loopguard) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	lg.mu.Lock()
	p := lg.cmd.Process
	lg.mu.Unlock()
	if err := p.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// Wait waits up to d for the process to exit and returns its exit error.
func (lg *Loopguard) Wait(t testing.TB, d time.Duration) error {
	t.Helper()
	lg.mu.Lock()
	done := lg.done
	lg.mu.Unlock()
	select {
	case <-done:
		return lg.exitErr()
	case <-time.After(d):
		t.Fatalf("loopguard still running %s later", d)
		return nil
	}
}

// Restart starts a new process on the same configuration (after the last
// one exited: Signal and Wait first).
func (lg *Loopguard) Restart(t testing.TB) {
	t.Helper()
	lg.Wait(t, 10*time.Second)
	lg.start(t)
}

func (lg *Loopguard) stop() {
	lg.mu.Lock()
	cmd, done := lg.cmd, lg.done
	lg.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Log returns the process's log (every run, appended).
func (lg *Loopguard) Log() string {
	b, _ := os.ReadFile(lg.LogPath)
	return string(b)
}

// LogLines counts the log lines holding every one of subs.
func (lg *Loopguard) LogLines(subs ...string) int {
	n := 0
	for _, line := range strings.Split(lg.Log(), "\n") {
		all := line != ""
		for _, s := range subs {
			all = all && strings.Contains(line, s)
		}
		if all {
			n++
		}
	}
	return n
}

// Metric sums the samples of a metric on /metrics whose labels include
// every given `name="value"` pair (NaN-free; 0 when none).
func (lg *Loopguard) Metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + lg.Admin + "/metrics")
	if err != nil {
		t.Fatalf("scrape /metrics: %v", err)
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != '{' && line[len(name)] != ' ') {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// rss returns a process's resident set and its peak (VmRSS, VmHWM) in
// bytes, from /proc/<pid>/status; it skips where /proc does not exist.
func rss(t testing.TB, pid int) (cur, peak int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("rss: no /proc/%d/status (%v): RSS is measured on Linux", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			cur = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return cur, peak
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// deliver posts a webhook to loopguard's inbound listener as a provider
// would, and returns the status and body it was answered.
func deliver(t testing.TB, lg *Loopguard, path, contentType string, body []byte, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+lg.Inbound+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := providerClient.Do(req)
	if err != nil {
		return 0, nil, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// providerClient is the providers' HTTP client: no proxy, its own pool.
var providerClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}}
