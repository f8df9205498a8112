package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/proxy"
	"github.com/rs/zerolog"
)

const statusToken = "tok-status-test"

// statusEnv is a real sidecar (gateway mode in front of a fake CRM, inbound
// in front of a fake app) with its admin API behind a token.
type statusEnv struct {
	s     *proxy.Sidecar
	admin string
	gw    string
	in    string
}

// statusConfig: a loop is quarantined at the 2nd round trip, deliveries
// are held (not refused), and the spool is bounded to 1000 items.
const statusConfig = `agent: loopguard
app_url: %q
listen: {outbound: "127.0.0.1:0", inbound: "127.0.0.1:0", admin: "127.0.0.1:0", gateway: "127.0.0.1:0"}
admin: {token: %q}
ca: {dir: %q}
spool: {dir: %q, max_items: 1000}
loops: {threshold: 2, window: 60s, quarantine: 10m}
providers:
  - use: generic
    name: crm
    hosts: []
    base_url: %q
    tracked_fields: [name, email]
    integration_users: [u_integration]
    hold_policy: hold
`

// newStatusEnv starts the sidecar. The fake CRM answers writes with a quota
// of 100 of which 25 remain, except writes to record "r2", which it
// throttles for 10 minutes.
func newStatusEnv(t *testing.T) *statusEnv {
	t.Helper()
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if strings.HasSuffix(r.URL.Path, "/r2") {
			w.Header().Set("Retry-After", "600")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Header().Set("X-RateLimit-Limit", "100")
		w.Header().Set("X-RateLimit-Remaining", "25")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(crm.Close)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(app.Close)
	dir := t.TempDir()
	yaml := fmt.Sprintf(statusConfig, app.URL, statusToken, filepath.Join(dir, "ca"), filepath.Join(dir, "spool"), crm.URL)
	l, err := configs.LoadBytes("status.yaml", []byte(yaml), nil)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	s, err := proxy.New(l, zerolog.New(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return &statusEnv{s: s, admin: "http://" + s.Addr("admin"), gw: "http://" + s.Addr("gateway"), in: "http://" + s.Addr("inbound")}
}

func (e *statusEnv) do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer crm-key-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *statusEnv) write(t *testing.T, id, name string, want int) {
	t.Helper()
	if code, body := e.do(t, http.MethodPatch, e.gw+"/crm/v1/contacts/"+id, fmt.Sprintf(`{"name":%q}`, name)); code != want {
		t.Fatalf("write %s: %d %s, want %d", id, code, body, want)
	}
}

func (e *statusEnv) deliver(t *testing.T, id, actor, record, name, email string) string {
	t.Helper()
	body := fmt.Sprintf(`{"id":%q,"object":"contacts","actor":%q,"record":{"id":%q,"name":%q,"email":%q}}`, id, actor, record, name, email)
	code, got := e.do(t, http.MethodPost, e.in+"/webhooks/generic", body)
	if code != http.StatusOK {
		t.Fatalf("delivery %s: %d %s", id, code, got)
	}
	return got
}

// drive makes a loop on record r1 (quarantined at its 2nd round trip, its
// event held), opens the account's breaker with a 429 on r2, and holds a
// genuine event of r3 behind the open breaker.
func (e *statusEnv) drive(t *testing.T) {
	t.Helper()
	e.write(t, "r1", "a", http.StatusOK)
	e.deliver(t, "e1", "u_workflow", "r1", "a", "a!")
	e.write(t, "r1", "a!", http.StatusOK)
	if got := e.deliver(t, "e2", "u_workflow", "r1", "a!", "a!!"); !strings.Contains(got, "held") {
		t.Fatalf("2nd round trip not held: %s", got)
	}
	e.write(t, "r2", "x", http.StatusTooManyRequests)
	if got := e.deliver(t, "e3", "u_human", "r3", "n", "n@x.io"); !strings.Contains(got, "held") {
		t.Fatalf("event behind an open breaker not held: %s", got)
	}
}

// TestStatusShowsTheOverview drives a loop, an open breaker and two held
// events through a real sidecar and expects each in the terminal view.
func TestStatusShowsTheOverview(t *testing.T) {
	t.Parallel()
	e := newStatusEnv(t)
	e.drive(t)
	code, out, errOut := run(t, "status", "--admin", e.admin, "--token", statusToken)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		`(?m)^Store\s+ready$`,
		`(?m)^Deliveries\s+held 2 · forwarded 1$`,
		`(?m)^Breakers \(1, 1 not closed\)$`,
		`(?m)^\s+crm\s+h:\S+\s+open\s+upstream_429\s+75%\s+25/100\s+-\s+in (10m0s|9m5\ds)\s+`,
		`(?m)^Quarantined records \(1\)$`,
		`(?m)^\s+crm//contacts/r1\s+2\s+\d+s ago\s+in (10m0s|9m5\ds)\s+2 write->event round trips.*POST /quarantine/crm%2F%2Fcontacts%2Fr1/release$`,
		`(?m)^Spool  2 items, 600 B \(0\.0% of 256\.0 MiB, 0\.2% of 1000 items\)$`,
		`(?m)^\s+record:crm//contacts/r1\s+1\s+300 B\s+\d+s ago$`,
		`(?m)^\s+breaker:crm/h:\S+//\*\s+1\s+300 B\s+\d+s ago$`,
		`(?m)^Dead letters  0$`,
		`(?m)^Top reasons \(last 3 decisions: hold 2 · forward 1\)$`,
		`(?m)^\s+1\s+hold\s+loop\s+quarantined$`,
		`(?m)^\s+1\s+hold\s+breaker\s+breaker_open$`,
		`(?m)^\s+1\s+forward\s+fingerprint\s+new_value$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output lacks %s", want)
		}
	}
	if t.Failed() {
		t.Log("\n" + out)
	}
}

// TestStatusJSON: --json carries the same overview for scripts.
func TestStatusJSON(t *testing.T) {
	e := newStatusEnv(t)
	e.drive(t)
	t.Setenv("LOOPGUARD_ADMIN_TOKEN", statusToken) // the token from the environment
	code, out, errOut := run(t, "status", "--admin", strings.TrimPrefix(e.admin, "http://"), "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var ov overview
	if err := json.Unmarshal([]byte(out), &ov); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	switch {
	case ov.Store.Status != "ready":
		t.Errorf("store %+v", ov.Store)
	case len(ov.Breakers) != 1 || ov.Breakers[0].State != "open" || ov.Breakers[0].UsedFraction != 0.75 || ov.Breakers[0].Limit != 100:
		t.Errorf("breakers %+v", ov.Breakers)
	case len(ov.Quarantined) != 1 || ov.Quarantined[0].Record.Record != "r1" || ov.Quarantined[0].Count != 2:
		t.Errorf("quarantined %+v", ov.Quarantined)
	case ov.Spool.Items != 2 || ov.Spool.CapacityItems != 1000 || ov.Spool.CapacityBytes != 256<<20 || len(ov.Spool.Queues) != 2:
		t.Errorf("spool %+v", ov.Spool)
	case ov.DeadLetters == nil || ov.DeadLetters.Total != 0:
		t.Errorf("dead letters %+v, want 0", ov.DeadLetters)
	case ov.Decisions.Considered != 3 || ov.Decisions.ByAction["hold"] != 2 || len(ov.Decisions.Top) != 3:
		t.Errorf("decisions %+v", ov.Decisions)
	case ov.Deliveries["held"] != 2 || ov.Deliveries["forwarded"] != 1:
		t.Errorf("deliveries %+v", ov.Deliveries)
	}
}

// TestStatusRefusedToken: a wrong or missing token is one clear error and
// exit 1, with nothing on stdout.
func TestStatusRefusedToken(t *testing.T) {
	e := newStatusEnv(t)
	t.Setenv("LOOPGUARD_ADMIN_TOKEN", "")
	for _, args := range [][]string{
		{"status", "--admin", e.admin, "--token", "wrong"},
		{"status", "--admin", e.admin},
		{"status", "--admin", e.admin, "--token", "wrong", "--watch"},
	} {
		code, out, errOut := run(t, args...)
		want := "401 Unauthorized: the admin API refused the token"
		if len(args) > 3 && args[3] == "--token" {
			want = "403 Forbidden: the admin API refused the token"
		}
		if code != 1 || out != "" || !strings.Contains(errOut, want) || !strings.Contains(errOut, "LOOPGUARD_ADMIN_TOKEN") {
			t.Errorf("%v: exit %d\nstdout: %q\nstderr: %s", args, code, out, errOut)
		}
		if strings.Contains(errOut, "wrong") {
			t.Errorf("%v: the token is echoed: %s", args, errOut)
		}
	}
}

func TestStatusUsageAndUnreachable(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"status", "--help"}, 0, "-watch"},
		{[]string{"status", "--interval", "0s"}, 2, "must be positive"},
		{[]string{"status", "--admin", "ftp://x"}, 2, "--admin"},
		{[]string{"status", "--admin", "http://" + freeAddr(t)}, 1, "connection refused"},
	}
	for _, c := range cases {
		code, out, errOut := run(t, c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.want) {
			t.Errorf("%v: exit %d, want %d with %q\n%s%s", c.args, code, c.code, c.want, out, errOut)
		}
	}
}

// TestStatusWatchRefreshesUntilSIGINT runs loopguard status --watch as a
// child process: frames are redrawn (a new delivery shows up in a later
// one) and SIGINT ends it with exit 0.
func TestStatusWatchRefreshesUntilSIGINT(t *testing.T) {
	t.Parallel()
	e := newStatusEnv(t)
	cmd := exec.Command(os.Args[0], "status", "--admin", e.admin, "--token", statusToken, "--watch", "--interval", "50ms")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	waitUntil(t, "a first frame", func() bool { return strings.Contains(out.String(), "Deliveries  none") })
	e.deliver(t, "w1", "u_human", "r9", "n", "n@x.io")
	waitUntil(t, "a frame with the new delivery", func() bool {
		frames := strings.Split(out.String(), clearScreen)
		return strings.Contains(frames[len(frames)-1], "Deliveries  forwarded 1") || strings.Contains(frames[len(frames)-2], "Deliveries  forwarded 1")
	})
	if n := strings.Count(out.String(), clearScreen); n < 2 {
		t.Fatalf("%d frames, want several", n)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err // for the cleanup
		if err != nil {
			t.Fatalf("after SIGINT: %v\n%s", err, out.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("status --watch did not exit on SIGINT")
	}
}

// TestStatusWatchSurvivesAnUnreachableSidecar: while the admin API does
// not answer (a restarting pod), --watch says so and keeps trying.
func TestStatusWatchSurvivesAnUnreachableSidecar(t *testing.T) {
	cmd := exec.Command(os.Args[0], "status", "--admin", "http://"+freeAddr(t), "--watch", "--interval", "50ms")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	waitUntil(t, "two error frames", func() bool { return strings.Count(out.String(), "(retrying every 50ms)") >= 2 })
	if !strings.Contains(out.String(), "connection refused") {
		t.Fatalf("frame does not say why:\n%s", out.String())
	}
	must(t, cmd.Process.Signal(syscall.SIGINT))
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Fatalf("after SIGINT: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("status --watch did not exit on SIGINT")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitUntil polls cond for up to 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCountDead(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body string
		total      int
		by         map[string]int
	}{
		{"list", `[{"provider":"crm"},{"provider":"crm"},{"Provider":"hub"}]`, 3, map[string]int{"crm": 2, "hub": 1}},
		{"object", `{"count":1,"dead":[{"provider":"crm","queue":"record:x"}]}`, 1, map[string]int{"crm": 1}},
		{"empty", `{"dead":[]}`, 0, map[string]int{}},
		{"not json", `oops`, 0, map[string]int{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := countDead([]byte(c.body))
			if d.Total != c.total || fmt.Sprint(d.ByProvider) != fmt.Sprint(c.by) {
				t.Fatalf("got %+v, want %d %v", d, c.total, c.by)
			}
		})
	}
}

func TestParseSample(t *testing.T) {
	t.Parallel()
	cases := []struct {
		line   string
		name   string
		labels string
		v      float64
		ok     bool
	}{
		{`loopguard_spool_capacity_bytes 2.68435456e+08`, "loopguard_spool_capacity_bytes", "map[]", 268435456, true},
		{`loopguard_inbound_deliveries_total{outcome="held",provider="crm"} 2`, "loopguard_inbound_deliveries_total", "map[outcome:held provider:crm]", 2, true},
		{`x{a="q\"uo,te",b="c"} 1 1700000000`, "x", `map[a:q"uo,te b:c]`, 1, true},
		{`# TYPE x counter`, "", "", 0, false},
		{`x{a="unterminated} 1`, "", "", 0, false},
		{`x{a="b"} notanumber`, "", "", 0, false},
		{``, "", "", 0, false},
	}
	for _, c := range cases {
		name, labels, v, ok := parseSample(c.line)
		if ok != c.ok || (ok && (name != c.name || fmt.Sprint(labels) != c.labels || v != c.v)) {
			t.Errorf("%q: got %q %v %v %v", c.line, name, labels, v, ok)
		}
	}
}
