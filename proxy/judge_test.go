package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/rs/zerolog"
	"github.com/tidwall/gjson"
)

// The bugs of issue 15, end to end: what the provider is answered, what
// the app and the spool get, and what GET /decisions says.

// formYAML is a provider whose batched deliveries are form-encoded: they
// are never rewritten, so a delivery with an echo goes on whole.
const formYAML = `agent: loopguard
app_url: "{{app}}"
providers:
  - use: generic
    name: formcrm
    hosts: []
    tracked_fields: [name]
    integration_users: [u_integration]
    webhooks:
      - path: /webhooks/form
        body: "form_field:payload"
        batch: events
        event_id: [id]
        record_id: record.id
        object_type: object
        actor: actor
        record: record
`

// TestRewriteFailureDecisionsSayForward: after a failed rewrite the
// whole delivery goes to the app, and GET /decisions must say so — the
// echo as a forwarded would-be drop, not "action":"drop".
func TestRewriteFailureDecisionsSayForward(t *testing.T) {
	app := &recorder{}
	appSrv := httptest.NewServer(app)
	t.Cleanup(appSrv.Close)
	s := startSidecar(t, formYAML, map[string]string{"app": appSrv.URL})
	payload := `{"events":[{"id":"e1","object":"contacts","actor":"u_integration","record":{"id":"r1","name":"ours"}},` +
		`{"id":"e2","object":"contacts","actor":"u_person","record":{"id":"r2","name":"theirs"}}]}`
	form := "payload=" + url.QueryEscape(payload)
	resp, _ := mustDo(t, http.DefaultClient, http.MethodPost, "http://"+s.Addr("inbound")+"/webhooks/form", "application/x-www-form-urlencoded", form)
	if resp.StatusCode != 200 || string(app.last(t).Body) != form {
		t.Fatalf("status %d; the app must get the delivery whole, got %q", resp.StatusCode, app.last(t).Body)
	}
	_, body := mustDo(t, http.DefaultClient, http.MethodGet, "http://"+s.Addr("admin")+"/decisions?limit=0", "", "")
	got := map[string]gjson.Result{}
	for _, d := range gjson.Get(body, "decisions").Array() {
		got[d.Get("event_id").String()] = d
	}
	if e1 := got["e1"]; e1.Get("action").String() != "forward" || !e1.Get("observed").Bool() || e1.Get("layer").String() != "actor" {
		t.Fatalf("the forwarded echo shows %s", e1.Raw)
	}
	if e2 := got["e2"]; e2.Get("action").String() != "forward" || e2.Get("observed").Bool() {
		t.Fatalf("the genuine event shows %s", e2.Raw)
	}
}

// batchGuardYAML gives guard.yaml's crm provider a batched route next to
// its single-event one.
const batchGuardYAML = `    webhooks:
      - path: /webhooks/generic
        event_id: [id]
        record_id: record.id
        object_type: object
        actor: actor
        record: record
      - path: /webhooks/batch
        batch: events
        event_id: [id]
        record_id: record.id
        object_type: object
        actor: actor
        record: record
`

// quarantineAndOpen quarantines record r1 (the automation loop of
// TestLoopDetectorStopsCircularMapping), then opens the account's breaker
// with an upstream 429 on a write to r2.
func quarantineAndOpen(t *testing.T, e *guardEnv) {
	t.Helper()
	local := "a"
	for i := 0; ; i++ {
		if i == 20 {
			t.Fatal("r1 never quarantined")
		}
		resp := e.write(t, "r1", local)
		if resp.StatusCode == http.StatusTooManyRequests {
			break
		}
		before := len(e.app.all())
		e.deliver(t, e.crm.webhook(fmt.Sprintf("ev%d", i), "r1"))
		if got := e.app.all(); len(got) > before {
			local = gjson.GetBytes(got[len(got)-1].Body, "record.email").String()
		}
	}
	e.crm.setThrottle(true)
	if resp := e.write(t, "r2", "x"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("throttled write: %d", resp.StatusCode)
	}
}

const twoQueueBatch = `{"events":[{"id":"b1","object":"contacts","actor":"u_human","record":{"id":"r1","name":"one"}},` +
	`{"id":"b2","object":"contacts","actor":"u_human","record":{"id":"r2","name":"two"}}]}`

// TestHeldQueuesKeepTheirOwnReason: a delivery whose events wait in two
// queues (a quarantined record, an account whose breaker is open) holds
// each part with its own reason.
func TestHeldQueuesKeepTheirOwnReason(t *testing.T) {
	e := newGuardEnvYAML(t, "hold", 0, "", batchGuardYAML)
	quarantineAndOpen(t, e)
	resp, body := mustDo(t, http.DefaultClient, http.MethodPost, "http://"+e.s.Addr("inbound")+"/webhooks/batch", "application/json", twoQueueBatch)
	if resp.StatusCode != 200 || !strings.Contains(body, "held") {
		t.Fatalf("batch: %d %s", resp.StatusCode, body)
	}
	recordQ := filters.RecordQueue(breaker.RecordKey{Provider: "crm", Object: "contacts", Record: "r1"})
	qs, err := e.s.spool.Queues()
	must(t, err)
	reasons := map[string]string{} // queue kind → reason and event of its newest item
	for _, q := range qs {
		items, err := e.s.spool.Peek(q.Queue, 10)
		must(t, err)
		last := items[len(items)-1]
		kind, _, _ := filters.ParseQueue(q.Queue)
		if kind == filters.QueueRecord && q.Queue != recordQ {
			t.Fatalf("unexpected record queue %s", q.Queue)
		}
		reasons[kind] = last.Reason + " " + gjson.GetBytes(last.Body, "events.#.id").String()
	}
	if reasons[filters.QueueRecord] != `quarantined ["b1"]` || reasons[filters.QueueBreaker] != `breaker_open ["b2"]` {
		t.Fatalf("held: %v", reasons)
	}
}

// TestRejectedDeliveryComesBackWhenEveryQueueMay: under hold policy
// reject, the delivery's Retry-After is when the last of its queues may go
// on (the quarantine), not the last event's (the breaker, a second).
func TestRejectedDeliveryComesBackWhenEveryQueueMay(t *testing.T) {
	e := newGuardEnvYAML(t, "reject", 0, "", batchGuardYAML)
	quarantineAndOpen(t, e)
	resp, body := mustDo(t, http.DefaultClient, http.MethodPost, "http://"+e.s.Addr("inbound")+"/webhooks/batch", "application/json", twoQueueBatch)
	retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusServiceUnavailable || retry < 60 || !strings.Contains(body, "quarantined") || !strings.Contains(body, "breaker_open") {
		t.Fatalf("reject: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if e.s.spool.Len() != 0 {
		t.Fatal("a rejected delivery was held")
	}
}

// TestCanonicalDeliveryLine: every delivery on a webhook route, whatever
// its outcome, logs one line that says what was judged and what came of
// it, under the field names of logline.go.
func TestCanonicalDeliveryLine(t *testing.T) {
	app := &recorder{}
	appSrv := httptest.NewServer(app)
	t.Cleanup(appSrv.Close)
	raw, err := readFile("testdata/inbound.yaml")
	must(t, err)
	file := filepath.Join(t.TempDir(), "inbound.yaml")
	must(t, os.WriteFile(file, []byte(raw+"spool:\n  dir: \""+filepath.Join(t.TempDir(), "spool")+"\"\n"), 0o600))
	logs := &holdLog{}
	s := startSidecarLogged(t, file, map[string]string{"app": appSrv.URL, "upstream_ca": "", "upstream_host": "api.crm.test", "observe": "false"},
		zerolog.New(logs))
	post := func(body string) {
		t.Helper()
		if resp, got := mustDo(t, http.DefaultClient, http.MethodPost, "http://"+s.Addr("inbound")+"/webhooks/generic", "application/json", body); resp.StatusCode != 200 {
			t.Fatalf("delivery: %d %s", resp.StatusCode, got)
		}
	}
	post(`{"id":"c1","object":"contacts","actor":"u_integration","record":{"id":"r1","name":"X"}}`)
	post(`{"id":"c2","object":"contacts","actor":"u_person","record":{"id":"r2","name":"Y"}}`)
	post(`{"id":`)
	mustDo(t, http.DefaultClient, http.MethodPost, "http://"+s.Addr("inbound")+"/not/a/webhook", "application/json", "{}")
	var lines []gjson.Result
	waitFor(t, "three canonical lines", func() bool {
		lines = lines[:0]
		for _, l := range logs.lines(`"message":"` + msgDelivery + `"`) {
			lines = append(lines, gjson.Parse(l))
		}
		return len(lines) >= 3
	})
	if len(lines) != 3 {
		t.Fatalf("%d canonical lines, want one per webhook delivery: %v", len(lines), lines)
	}
	for i, want := range []struct {
		outcome                    string
		events, forwarded, dropped int64
	}{{"all_echoes", 1, 0, 1}, {"forwarded", 1, 1, 0}, {"malformed", 0, 0, 0}} {
		l := lines[i]
		if l.Get(fieldProvider).String() != "crm" || l.Get(fieldOutcome).String() != want.outcome || l.Get(fieldRoute).String() != "/webhooks/generic" ||
			l.Get(fieldEvents).Int() != want.events || l.Get(fieldForwarded).Int() != want.forwarded || l.Get(fieldDropped).Int() != want.dropped ||
			!l.Get(fieldDurationMS).Exists() || l.Get(fieldDelivery).String() == "" || l.Get(fieldVerification).String() != "unsigned" {
			t.Errorf("line %d: %s, want outcome %s with %d/%d/%d events/forwarded/dropped", i, l.Raw, want.outcome, want.events, want.forwarded, want.dropped)
		}
	}
}
