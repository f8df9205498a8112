package proxy

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/clocktest"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tidwall/gjson"
)

// automationCRM is a fake CRM with a workflow: every write to a record's
// name makes its automation set email to name+"!", and the resulting change
// is delivered as a webhook by the workflow's user (not the integration).
// Throttle answers writes with 429 + Retry-After while set.
type automationCRM struct {
	mu       sync.Mutex
	records  map[string]map[string]any
	writes   int
	throttle bool
}

func (c *automationCRM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	var patch map[string]any
	_ = json.NewDecoder(r.Body).Decode(&patch)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.throttle {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	c.writes++
	rec := c.records[id]
	if rec == nil {
		rec = map[string]any{"id": id}
		c.records[id] = rec
	}
	for k, v := range patch {
		rec[k] = v
	}
	if name, ok := rec["name"].(string); ok {
		rec["email"] = name + "!"
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
}

func (c *automationCRM) webhook(eventID, id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, _ := json.Marshal(c.records[id])
	return fmt.Sprintf(`{"id":%q,"object":"contacts","actor":"u_workflow","record":%s}`, eventID, rec)
}

func (c *automationCRM) count() int { c.mu.Lock(); defer c.mu.Unlock(); return c.writes }

func (c *automationCRM) setThrottle(on bool) { c.mu.Lock(); c.throttle = on; c.mu.Unlock() }

type guardEnv struct {
	clk   *clocktest.Clock // the sidecar's clock, kept across restarts
	app   *recorder
	crm   *automationCRM
	up    *httptest.Server
	s     *Sidecar
	c     *http.Client
	vars  map[string]string
	yaml  string
	spool string
}

func newGuardEnv(t *testing.T, policy string, maxItems int, appURL string) *guardEnv {
	t.Helper()
	return newGuardEnvYAML(t, policy, maxItems, appURL, "")
}

func (e *guardEnv) start(t *testing.T) {
	e.s = startSidecar(t, e.yaml, e.vars, WithClock(e.clk.Now))
	e.c = proxiedClient(t, e.s)
}

// advance moves the sidecar's clock by d and wakes its replayer, which
// waits on a wall-clock timer.
func (e *guardEnv) advance(d time.Duration) {
	e.clk.Advance(d)
	e.s.holder.replayer.Kick()
}

// replayPass runs one replay pass now, as the replayer's own would (queues
// that are not ready are skipped), and returns how many held deliveries it
// delivered.
func (e *guardEnv) replayPass(t *testing.T) int {
	t.Helper()
	sent, err := e.s.holder.replayer.DrainOnce(t.Context())
	if err != nil {
		t.Logf("replay pass: %v", err)
	}
	return sent
}

func (e *guardEnv) write(t *testing.T, id, name string) *http.Response {
	t.Helper()
	resp, _ := mustDo(t, e.c, http.MethodPatch, e.up.URL+"/v1/contacts/"+id, "application/json", fmt.Sprintf(`{"name":%q}`, name))
	return resp
}

func (e *guardEnv) deliver(t *testing.T, body string) (int, string) {
	t.Helper()
	resp, got := mustDo(t, http.DefaultClient, http.MethodPost, "http://"+e.s.Addr("inbound")+"/webhooks/generic", "application/json", body)
	return resp.StatusCode, got
}

func (e *guardEnv) admin(t *testing.T, method, path string) (int, string) {
	t.Helper()
	resp, body := mustDo(t, http.DefaultClient, method, "http://"+e.s.Addr("admin")+path, "", "")
	return resp.StatusCode, body
}

// TestLoopDetectorStopsCircularMapping runs a naive app whose webhook
// handler maps the CRM's email into its own name, which its worker pushes
// back as name: every write really changes a value, so no echo layer can
// see the loop. The loop detector must quarantine the record within the
// threshold (3 here), answer further writes 429 locally, hold its events,
// and replay them once an operator releases it.
func TestLoopDetectorStopsCircularMapping(t *testing.T) {
	t.Parallel()
	e := newGuardEnv(t, "hold", 0, "")
	local := "a"
	rounds := 0
	for i := 0; i < 50; i++ {
		resp := e.write(t, "r1", local)
		if resp.StatusCode == http.StatusTooManyRequests {
			if resp.Header.Get("X-Loopguard-Breaker") != "quarantined" || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("local 429 without reason: %v", resp.Header)
			}
			break
		}
		if resp.StatusCode != 200 {
			t.Fatalf("write %d: %d", i, resp.StatusCode)
		}
		before := len(e.app.all())
		status, _ := e.deliver(t, e.crm.webhook(fmt.Sprintf("ev%d", i), "r1"))
		if status != 200 {
			t.Fatalf("delivery %d: %d", i, status)
		}
		got := e.app.all()
		if len(got) == before {
			continue // held: the app hears nothing, so its worker has nothing to push
		}
		rounds++
		local = gjson.GetBytes(got[len(got)-1].Body, "record.email").String()
	}
	// Round trips 1 and 2 reach the app; the 3rd event is held.
	if rounds != 2 || e.crm.count() != 3 {
		t.Fatalf("app received %d changes, CRM saw %d writes; want 2 and 3 (threshold 3)", rounds, e.crm.count())
	}
	if n := testutil.ToFloat64(e.s.Metrics.Quarantines.WithLabelValues("crm")); n != 1 {
		t.Errorf("quarantines = %v", n)
	}
	if n := testutil.ToFloat64(e.s.Metrics.Held.WithLabelValues("crm", "quarantined")); n != 1 {
		t.Errorf("held = %v", n)
	}
	_, list := e.admin(t, http.MethodGet, "/quarantine")
	release := gjson.Get(list, "quarantined.0.release").String()
	if !strings.Contains(gjson.Get(list, "quarantined.0.key").String(), "/contacts/r1") || release == "" {
		t.Fatalf("/quarantine: %s", list)
	}
	if _, sp := e.admin(t, http.MethodGet, "/spool"); gjson.Get(sp, "items").Int() != 1 {
		t.Fatalf("/spool: %s", sp)
	}
	// The held event waits while quarantined: a replay pass skips it.
	n := len(e.app.all())
	if sent := e.replayPass(t); sent != 0 || len(e.app.all()) != n {
		t.Fatalf("a replay pass delivered %d held events of a quarantined record", sent)
	}
	if code, body := e.admin(t, http.MethodPost, "/quarantine/nope/release"); code != http.StatusBadRequest {
		t.Fatalf("bad key: %d %s", code, body)
	}
	if code, body := e.admin(t, http.MethodPost, release); code != 200 {
		t.Fatalf("release: %d %s", code, body)
	}
	waitFor(t, "held event replayed after release", func() bool { return len(e.app.all()) == n+1 })
	last := e.app.all()[n]
	if last.Header.Get("X-Loopguard-Replay") != "quarantined" || gjson.GetBytes(last.Body, "id").String() == "" {
		t.Fatalf("replayed delivery: %v %s", last.Header, last.Body)
	}
	waitFor(t, "spool drained", func() bool { return e.s.spool.Len() == 0 })
	if resp := e.write(t, "r1", "after"); resp.StatusCode != 200 {
		t.Fatalf("write after release: %d", resp.StatusCode)
	}
}

// TestBreakerHoldSurvivesRestartAndReplaysInOrder opens the account's
// breaker with an upstream 429, holds three genuine events, stops loopguard,
// starts a new one on the same spool, and expects the events at the app in
// arrival order once the breaker is closed.
func TestBreakerHoldSurvivesRestartAndReplaysInOrder(t *testing.T) {
	t.Parallel()
	e := newGuardEnv(t, "hold", 0, "")
	e.crm.setThrottle(true)
	if resp := e.write(t, "r1", "x"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("throttled write: %d", resp.StatusCode)
	}
	for i := 0; i < 3; i++ {
		body := fmt.Sprintf(`{"id":"h%d","object":"contacts","actor":"u_human","record":{"id":"r%d","name":"n%d"}}`, i, i, i)
		if status, got := e.deliver(t, body); status != 200 || !strings.Contains(got, "held") {
			t.Fatalf("delivery %d while open: %d %s", i, status, got)
		}
	}
	if len(e.app.all()) != 0 {
		t.Fatalf("app got %d deliveries while the breaker was open", len(e.app.all()))
	}
	if d := e.s.Ring.Last(1)[0]; d.Action.String() != "hold" || d.Layer != "breaker" || d.Reason.String() != "breaker_open" {
		t.Fatalf("decision: %+v", d)
	}
	// Stop and restart on the same spool: nothing is lost.
	must(t, e.s.Shutdown(t.Context()))
	e.crm.setThrottle(false)
	e.start(t)
	waitFor(t, "three held events replayed", func() bool { return len(e.app.all()) == 3 })
	for i, r := range e.app.all() {
		if id := gjson.GetBytes(r.Body, "id").String(); id != fmt.Sprintf("h%d", i) {
			t.Fatalf("replay order: position %d has %s", i, id)
		}
	}
	waitFor(t, "spool drained", func() bool { return e.s.spool.Len() == 0 })
	// A redelivery of a replayed event is now a duplicate.
	if status, _ := e.deliver(t, `{"id":"h0","object":"contacts","actor":"u_human","record":{"id":"r0","name":"n0"}}`); status != 200 {
		t.Fatalf("redelivery: %d", status)
	}
	if len(e.app.all()) != 3 {
		t.Fatalf("redelivery of a replayed event reached the app")
	}
}

// TestBreakerHoldReplaysWhenBreakerCloses checks the replay without a
// restart: held while open, replayed once half-open — before any write:
// the app's write-back is the probe, and an app that never writes must not
// keep its held events waiting forever.
func TestBreakerHoldReplaysWhenBreakerCloses(t *testing.T) {
	t.Parallel()
	e := newGuardEnv(t, "hold", 0, "")
	e.crm.setThrottle(true)
	e.write(t, "r1", "x")
	if status, _ := e.deliver(t, `{"id":"c1","object":"contacts","actor":"u_human","record":{"id":"r9","name":"n"}}`); status != 200 {
		t.Fatal(status)
	}
	if sent := e.replayPass(t); sent != 0 || len(e.app.all()) != 0 {
		t.Fatal("replayed while the breaker was open")
	}
	e.crm.setThrottle(false)
	e.advance(1100 * time.Millisecond) // Retry-After 1: half-open now
	waitFor(t, "replay once half-open, no write needed", func() bool { e.replayPass(t); return len(e.app.all()) == 1 })
	if resp := e.write(t, "r1", "probe"); resp.StatusCode != 200 {
		t.Fatalf("probe: %d", resp.StatusCode)
	}
}

func TestHoldPolicyRejectAnswers503(t *testing.T) {
	t.Parallel()
	e := newGuardEnv(t, "reject", 0, "")
	e.crm.setThrottle(true)
	e.write(t, "r1", "x")
	resp, body := mustDo(t, http.DefaultClient, http.MethodPost, "http://"+e.s.Addr("inbound")+"/webhooks/generic", "application/json",
		`{"id":"j1","object":"contacts","actor":"u_human","record":{"id":"r2","name":"n"}}`)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "breaker_open") {
		t.Fatalf("reject: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	if len(e.app.all()) != 0 || e.s.spool.Len() != 0 {
		t.Fatal("rejected delivery reached the app or the spool")
	}
}

func TestSpoolFullAnswers503(t *testing.T) {
	t.Parallel()
	e := newGuardEnv(t, "hold", 1, "")
	e.crm.setThrottle(true)
	e.write(t, "r1", "x")
	if status, _ := e.deliver(t, `{"id":"f1","object":"contacts","actor":"u_human","record":{"id":"r3","name":"n"}}`); status != 200 {
		t.Fatalf("first hold: %d", status)
	}
	resp, _ := mustDo(t, http.DefaultClient, http.MethodPost, "http://"+e.s.Addr("inbound")+"/webhooks/generic", "application/json",
		`{"id":"f2","object":"contacts","actor":"u_human","record":{"id":"r4","name":"n"}}`)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("spool full: %d", resp.StatusCode)
	}
	if e.s.spool.Len() != 1 {
		t.Fatalf("spool len %d", e.s.spool.Len())
	}
}

// TestAppDownDeliveryHeldAndReplayed: a provider that never redelivers
// (hold) must not lose a webhook while the app restarts.
func TestAppDownDeliveryHeldAndReplayed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	must(t, ln.Close())
	e := newGuardEnv(t, "hold", 0, "http://"+addr)
	status, body := e.deliver(t, `{"id":"d1","object":"contacts","actor":"u_human","record":{"id":"r5","name":"n"}}`)
	if status != 200 || !strings.Contains(body, "held") {
		t.Fatalf("app down: %d %s", status, body)
	}
	// The app answers 500 next: held too.
	app := &recorder{}
	app.setRespond(func(w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(500) })
	ln, err = net.Listen("tcp", addr)
	must(t, err)
	srv := &http.Server{Handler: app}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	status, body = e.deliver(t, `{"id":"d2","object":"contacts","actor":"u_human","record":{"id":"r6","name":"n"}}`)
	if status != 200 || !strings.Contains(body, "held") {
		t.Fatalf("app 500: %d %s", status, body)
	}
	app.setRespond(nil) // the app is healthy again
	waitFor(t, "both replayed", func() bool {
		ids := []string{}
		for _, r := range app.all() {
			if r.Header.Get("X-Loopguard-Replay") != "" {
				ids = append(ids, gjson.GetBytes(r.Body, "id").String())
			}
		}
		return strings.Join(ids, ",") == "d1,d2"
	})
	if n := testutil.ToFloat64(e.s.Metrics.Held.WithLabelValues("crm", "app_unavailable")); n != 2 {
		t.Errorf("held = %v", n)
	}
	waitFor(t, "spool drained", func() bool { return e.s.spool.Len() == 0 })
	if n := testutil.ToFloat64(e.s.Metrics.Replayed.WithLabelValues("crm")); n != 2 {
		t.Errorf("replayed = %v", n)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHeldEventsAreNotOvertaken: once the breaker closes, a new event for
// the account must not reach the app before the older held ones (the app
// would apply an older state last); it waits behind them and both arrive in
// order.
func TestHeldEventsAreNotOvertaken(t *testing.T) {
	t.Parallel()
	e := newGuardEnv(t, "hold", 0, "")
	e.crm.setThrottle(true)
	e.write(t, "r1", "x")
	if status, _ := e.deliver(t, `{"id":"o1","object":"contacts","actor":"u_human","record":{"id":"r7","name":"first"}}`); status != 200 {
		t.Fatal(status)
	}
	// The app refuses replays for now: o1 stays held after the breaker closes.
	e.app.setRespond(func(w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(http.StatusServiceUnavailable) })
	e.crm.setThrottle(false)
	e.advance(1100 * time.Millisecond) // Retry-After 1: half-open now
	if resp := e.write(t, "r1", "probe"); resp.StatusCode != 200 {
		t.Fatalf("probe: %d", resp.StatusCode)
	}
	waitFor(t, "a replay attempt", func() bool { return len(e.app.all()) >= 1 })
	status, body := e.deliver(t, `{"id":"o2","object":"contacts","actor":"u_human","record":{"id":"r7","name":"second"}}`)
	if status != 200 || !strings.Contains(body, "held") {
		t.Fatalf("newer event while older ones are held: %d %s", status, body)
	}
	if d := e.s.Ring.Last(1)[0]; d.Action.String() != "hold" || d.Reason.String() != "behind_held" || d.Layer != "hold" {
		t.Fatalf("decision: %+v", d)
	}
	e.app.setRespond(nil)
	e.advance(e.s.cfg.Spool.ReplayMaxBackoff.D()) // past the refused queue's backoff
	waitFor(t, "both delivered in order", func() bool {
		var ids []string
		for _, r := range e.app.all() {
			if r.Header.Get("X-Loopguard-Replay") != "" && len(r.Body) > 0 {
				if id := gjson.GetBytes(r.Body, "id").String(); len(ids) == 0 || ids[len(ids)-1] != id {
					ids = append(ids, id)
				}
			}
		}
		got := strings.Join(ids, ",")
		return got == "o1,o2"
	})
}
