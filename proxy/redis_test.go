package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/clocktest"
	"github.com/loopguard/loopguard/filters/redistest"
	"github.com/tidwall/gjson"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// flakyAPI answers 429 + Retry-After while throttle is set.
type flakyAPI struct {
	recorder
	mu       sync.Mutex
	throttle bool
}

func (f *flakyAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	th := f.throttle
	f.mu.Unlock()
	if th {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	f.recorder.ServeHTTP(w, r)
}

func (f *flakyAPI) set(on bool) { f.mu.Lock(); f.throttle = on; f.mu.Unlock() }

type replicaEnv struct {
	// clk is every replica's clock: the wall clock plus Advance, since
	// Redis expires shared breaker records on its own clock.
	clk  *clocktest.Clock
	api  *flakyAPI
	up   *httptest.Server
	app  *recorder
	yaml string
	vars map[string]string
}

func newReplicaEnv(t *testing.T, redisURL string) *replicaEnv {
	t.Helper()
	e := &replicaEnv{clk: clocktest.Running(time.Now()), api: &flakyAPI{}, app: &recorder{}}
	e.up = httptest.NewTLSServer(e.api)
	t.Cleanup(e.up.Close)
	appSrv := httptest.NewServer(e.app)
	t.Cleanup(appSrv.Close)
	raw, err := os.ReadFile("testdata/redis.yaml")
	must(t, err)
	e.yaml = string(raw)
	key := filepath.Join(t.TempDir(), "deployment.key")
	must(t, os.WriteFile(key, []byte(strings.Repeat("5a", 32)+"\n"), 0o600))
	e.vars = map[string]string{"app": appSrv.URL, "redis": redisURL, "prefix": redistest.Prefix(t),
		"upstream_ca": writePEM(t, e.up), "upstream_host": hostOf(e.up), "deployment_key": key}
	return e
}

func (e *replicaEnv) replica(t *testing.T) *Sidecar {
	return startSidecar(t, e.yaml, e.vars, WithClock(e.clk.Now))
}

func write(t *testing.T, s *Sidecar, url, body string) *http.Response {
	t.Helper()
	resp, _ := mustDo(t, proxiedClient(t, s), http.MethodPatch, url, "application/json", body, "Authorization", "Bearer team")
	return resp
}

func deliver(t *testing.T, s *Sidecar, body string) (int, string) {
	t.Helper()
	resp, got := mustDo(t, http.DefaultClient, http.MethodPost, "http://"+s.Addr("inbound")+"/webhooks/generic", "application/json", body)
	return resp.StatusCode, got
}

// TestRedisReplicasShareLedger: a write leaves through replica A; its echo
// (no marker: only the fingerprint can tell) arrives at replica B and is
// dropped; a genuine change at B reaches the app.
func TestRedisReplicasShareLedger(t *testing.T) {
	t.Parallel()
	e := newReplicaEnv(t, redistest.URL(t))
	a, b := e.replica(t), e.replica(t)
	if resp := write(t, a, e.up.URL+"/v1/contacts/r1", `{"name":"Ada","email":"ada@example.com"}`); resp.StatusCode != 200 {
		t.Fatalf("write via A: %d", resp.StatusCode)
	}
	status, _ := deliver(t, b, `{"id":"e1","object":"contacts","actor":"u_someone","record":{"id":"r1","name":"Ada","email":"ada@example.com"}}`)
	if status != 200 || len(e.app.all()) != 0 {
		t.Fatalf("echo via B: %d, app saw %d", status, len(e.app.all()))
	}
	if d := b.Ring.Last(1)[0]; d.Layer != "fingerprint" || d.Action.String() != "drop" {
		t.Fatalf("B's decision: %+v", d)
	}
	deliver(t, b, `{"id":"e2","object":"contacts","actor":"u_someone","record":{"id":"r1","name":"Grace","email":"ada@example.com"}}`)
	if len(e.app.all()) != 1 {
		t.Fatal("genuine change via B did not reach the app")
	}
	// Dedup is shared too: the redelivery arrives at A.
	deliver(t, a, `{"id":"e2","object":"contacts","actor":"u_someone","record":{"id":"r1","name":"Grace","email":"ada@example.com"}}`)
	if len(e.app.all()) != 1 || a.Ring.Last(1)[0].Layer != "dedup" {
		t.Fatalf("redelivery via A: app saw %d, %+v", len(e.app.all()), a.Ring.Last(1))
	}
}

// TestRedisBreakerAndSpoolShared: an upstream 429 seen by A opens the
// account's breaker on B within a second; an event held by A is replayed by
// B after A is stopped.
func TestRedisBreakerAndSpoolShared(t *testing.T) {
	t.Parallel()
	e := newReplicaEnv(t, redistest.URL(t))
	a, b := e.replica(t), e.replica(t)
	e.api.set(true)
	if resp := write(t, a, e.up.URL+"/v1/contacts/r1", `{"name":"x"}`); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("throttled write via A: %d", resp.StatusCode)
	}
	waitFor(t, "B's breaker opened by A", func() bool {
		for _, st := range b.quota.b.All() {
			if st.State.String() == "open" {
				return true
			}
		}
		return false
	})
	calls := len(e.api.all())
	if resp := write(t, b, e.up.URL+"/v1/contacts/r2", `{"name":"y"}`); resp.StatusCode != http.StatusTooManyRequests ||
		resp.Header.Get("X-Loopguard-Breaker") == "" || len(e.api.all()) != calls {
		t.Fatalf("write via B while A's breaker is open: %d %v", resp.StatusCode, resp.Header)
	}
	status, body := deliver(t, a, `{"id":"h1","object":"contacts","actor":"u_someone","record":{"id":"r9","name":"n"}}`)
	if status != 200 || !strings.Contains(body, "held") {
		t.Fatalf("held by A: %d %s", status, body)
	}
	must(t, a.Shutdown(t.Context()))
	e.api.set(false)
	e.clk.Advance(1100 * time.Millisecond) // Retry-After 1: B's breaker is half-open
	if resp := write(t, b, e.up.URL+"/v1/contacts/r2", `{"name":"probe"}`); resp.StatusCode != 200 {
		t.Fatalf("probe via B: %d", resp.StatusCode)
	}
	waitFor(t, "B replays what A held", func() bool { return len(e.app.all()) == 1 })
	if got := gjson.GetBytes(e.app.all()[0].Body, "id").String(); got != "h1" {
		t.Fatalf("replayed %s", got)
	}
}

// TestRedisDownTrafficContinues: with Redis stopped, deliveries keep
// flowing (genuine events forwarded, nothing dropped blindly), /readyz says
// degraded; once Redis is back, filtering resumes.
func TestRedisDownTrafficContinues(t *testing.T) {
	srv := redistest.Start(t)
	e := newReplicaEnv(t, srv.URL())
	s := e.replica(t)
	admin := "http://" + s.Addr("admin") + "/readyz"
	srv.Stop(t)
	waitFor(t, "readyz degraded", func() bool {
		resp, body := mustDo(t, http.DefaultClient, http.MethodGet, admin, "", "")
		return resp.StatusCode == 200 && strings.HasPrefix(body, "degraded")
	})
	if resp := write(t, s, e.up.URL+"/v1/contacts/r1", `{"name":"Ada"}`); resp.StatusCode != 200 {
		t.Fatalf("write with Redis down: %d", resp.StatusCode)
	}
	if got := e.api.last(t).Header.Get("X-Change-Agent"); got != "loopguard" {
		t.Fatalf("write not tagged with Redis down: %q", got)
	}
	start := time.Now()
	status, _ := deliver(t, s, `{"id":"g1","object":"contacts","actor":"u_someone","record":{"id":"r1","name":"Ada"}}`)
	if status != 200 || len(e.app.all()) != 1 {
		t.Fatalf("with Redis down the event must be forwarded: %d, app saw %d", status, len(e.app.all()))
	}
	if d := s.Ring.Last(1)[0]; d.Action.String() != "forward" {
		t.Fatalf("decision with Redis down: %+v", d)
	}
	// Meant to be far quicker than one store call timing out: a delivery
	// that took that long waited on Redis instead of abstaining at once.
	if took, timeout := time.Since(start), s.cfg.Redis.Timeout.D(); took > timeout {
		t.Errorf("delivery with Redis down took %v, more than the store timeout (%v)", took, timeout)
	}
	srv.Restart(t)
	waitFor(t, "readyz ready", func() bool {
		resp, body := mustDo(t, http.DefaultClient, http.MethodGet, admin, "", "")
		return resp.StatusCode == 200 && body == "ready\n"
	})
	write(t, s, e.up.URL+"/v1/contacts/r2", `{"name":"Bo"}`)
	deliver(t, s, `{"id":"g2","object":"contacts","actor":"u_someone","record":{"id":"r2","name":"Bo"}}`)
	if len(e.app.all()) != 1 || s.Ring.Last(1)[0].Layer != "fingerprint" {
		t.Fatalf("filtering did not resume: app saw %d, %+v", len(e.app.all()), s.Ring.Last(1))
	}
}

// TestRedisLoopAcrossReplicas: a loop whose writes leave through replica A
// and whose events arrive at replica B (a load balancer in between) is
// counted once on Redis; at the threshold the record is quarantined for
// both: B holds the event, A answers the next write 429 locally.
func TestRedisLoopAcrossReplicas(t *testing.T) {
	t.Parallel()
	e := newReplicaEnv(t, redistest.URL(t))
	a, b := e.replica(t), e.replica(t)
	for i := range 3 {
		body := fmt.Sprintf(`{"name":"v%d"}`, i)
		if resp := write(t, a, e.up.URL+"/v1/contacts/loop1", body); resp.StatusCode != 200 {
			t.Fatalf("write %d via A: %d %v", i, resp.StatusCode, resp.Header)
		}
		// A workflow changed another field after our write: the event
		// shows our write applied and a change beside it — every time (no
		// echo layer can see the loop; the loop detector counts it).
		status, got := deliver(t, b, fmt.Sprintf(`{"id":"w%d","object":"contacts","actor":"u_workflow","record":{"id":"loop1","name":"v%d","email":"changed%d@example.com"}}`, i, i, i))
		if status != 200 {
			t.Fatalf("event %d via B: %d %s", i, status, got)
		}
	}
	if n := len(e.app.all()); n != 2 {
		t.Fatalf("app received %d events; want 2 (the third is held)", n)
	}
	resp := write(t, a, e.up.URL+"/v1/contacts/loop1", `{"name":"again"}`)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("X-Loopguard-Breaker") != "quarantined" {
		t.Fatalf("write via A after B quarantined the record: %d %v", resp.StatusCode, resp.Header)
	}
	_, list := mustDo(t, http.DefaultClient, http.MethodGet, "http://"+a.Addr("admin")+"/quarantine", "", "")
	if !strings.Contains(list, "loop1") {
		t.Fatalf("A's /quarantine: %s", list)
	}
}
