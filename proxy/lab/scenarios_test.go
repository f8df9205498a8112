package lab

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// summary collects every scenario's result for the table printed at the
// end of the run (test-only state).
var summary struct {
	sync.Mutex
	rows []Result
}

func TestMain(m *testing.M) {
	code := m.Run()
	if len(summary.rows) > 0 {
		fmt.Println()
		WriteTable(os.Stdout, summary.rows)
	}
	os.Exit(code)
}

const (
	quiet   = 250 * time.Millisecond
	timeout = 4 * time.Second
	// threshold is the loop detector's (default) threshold.
	threshold = 5
)

var genericFields = []string{"name", "email"}

func startLab(t *testing.T, cfg Config) *Lab {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	l, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// finish settles the lab, records and returns its result.
func finish(t *testing.T, l *Lab, name string) Result {
	t.Helper()
	r := l.Result(name, l.Settle(quiet, timeout))
	summary.Lock()
	summary.rows = append(summary.rows, r)
	summary.Unlock()
	return r
}

type want struct {
	writes, deliveries, held int
	drops                    string // DropsString; alternatives separated by " | "
}

func (w want) check(t *testing.T, r Result) {
	t.Helper()
	if !r.Settled {
		t.Errorf("%s: the loop did not stop: %+v", r.Name, r)
	}
	dropsOK := false
	for _, alt := range strings.Split(w.drops, " | ") {
		dropsOK = dropsOK || r.DropsString() == alt
	}
	if r.UpstreamWrites != w.writes || r.Deliveries != w.deliveries || !dropsOK || r.Held != w.held {
		t.Errorf("%s: writes=%d deliveries=%d drops=%q held=%d; want writes=%d deliveries=%d drops=%q held=%d",
			r.Name, r.UpstreamWrites, r.Deliveries, r.DropsString(), r.Held, w.writes, w.deliveries, w.drops, w.held)
	}
}

// The echo scenarios 1-4, shared with the ablation (scenario 11).
type echoScenario struct {
	name   string
	format string
	fields []string
	crm    CRMOptions
	// layer is the layer that catches the echo with every layer on.
	layer string
	// drops is the expected drops when not just layer=1.
	drops string
}

func echoScenarios() []echoScenario {
	noSentinel := []string{"name", "email"}
	return []echoScenario{
		{"1 change-agent header", "generic", genericFields, CRMOptions{EchoChangeAgent: true}, "marker", ""},
		{"1 change-agent (salesforce)", "salesforce", []string{"Name", "Phone"}, CRMOptions{EchoChangeAgent: true, Schema: []string{"Name", "Phone"}}, "marker", ""},
		{"2 actor only (jira)", "jira", []string{"summary", "duedate"}, CRMOptions{EchoActor: true, Schema: []string{"summary", "duedate"}}, "actor", ""},
		{"2 actor only (generic)", "generic", genericFields, CRMOptions{EchoActor: true, Schema: noSentinel}, "actor", ""},
		{"3 sentinel only", "generic", genericFields, CRMOptions{}, "sentinel", ""},
		// HubSpot reports the sentinel property's own change as a separate event.
		{"3 sentinel only (hubspot)", "hubspot", []string{"firstname", "email"}, CRMOptions{}, "sentinel", "fingerprint=1 sentinel=1"},
		{"4 no markers, full record", "generic", genericFields, CRMOptions{Schema: noSentinel}, "fingerprint", ""},
		{"4 no markers (hubspot)", "hubspot", []string{"firstname", "email"}, CRMOptions{Schema: []string{"firstname", "email"}}, "fingerprint", ""},
	}
}

func (s echoScenario) run(t *testing.T, layers map[string]bool, name string) (*Lab, Result) {
	// hold: a record the loop detector quarantines has its events spooled
	// rather than refused again and again for the quarantine's length.
	l := startLab(t, Config{Format: s.format, Fields: s.fields, Loopguard: true, CRM: s.crm, Layers: layers, HoldPolicy: "hold"})
	id := l.Format.NewID(1)
	l.Sides[0].App.Edit(id, s.fields[0], "Ada")
	return l, finish(t, l, name)
}

// Scenarios 1-4: an app edit costs exactly one upstream write and reaches
// the app zero times, whichever single marker the CRM echoes.
func TestScenarioEchoes(t *testing.T) {
	t.Parallel()
	for _, s := range echoScenarios() {
		t.Run(s.name, func(t *testing.T) {
			_, r := s.run(t, nil, s.name)
			drops := s.drops
			if drops == "" {
				drops = s.layer + "=1"
			}
			want{writes: 1, deliveries: 0, drops: drops}.check(t, r)
		})
	}
}

// Scenario 3, second half: a human edit of another tracked field arrives
// with the (now stale) sentinel of our write and must reach the app.
func TestScenarioStaleSentinelDelivered(t *testing.T) {
	t.Parallel()
	l := startLab(t, Config{Format: "generic", Fields: genericFields, Loopguard: true})
	app := l.Sides[0].App
	app.Edit("c1", "name", "Ada")
	l.Settle(quiet, timeout)
	l.CRM.HumanEdit("c1", "email", "ada@human.example")
	r := finish(t, l, "3 stale sentinel, human edit")
	// The human's change reaches the app once; the app's naive write-back is
	// the 2nd upstream write, and its echo is dropped again: by the sentinel,
	// or — when the app's acceptance of the human change is recorded after
	// its write-back — by the fingerprint (matches the last genuine state).
	want{writes: 2, deliveries: 1, drops: "sentinel=2 | fingerprint=1 sentinel=1"}.check(t, r)
	if got := app.Local("c1")["email"]; got != "ada@human.example" {
		t.Fatalf("human's email did not reach the app: %q", got)
	}
}

// Scenario 5: a skinny notification (id + type only) is never dropped
// blindly; the app's read-and-write-back loop is bounded by the loop
// detector.
func TestScenarioSkinnyBounded(t *testing.T) {
	t.Parallel()
	l := startLab(t, Config{Format: "generic", Fields: genericFields, Loopguard: true, CRM: CRMOptions{Skinny: true}, HoldPolicy: "hold"})
	l.Sides[0].App.Edit("c1", "name", "Ada")
	r := finish(t, l, "5 skinny, bounded by loop detector")
	// Round trips 1..4 reach the app; the 5th event quarantines the record
	// and is held; the app's 5th write-back is answered 429 locally.
	want{writes: threshold, deliveries: threshold - 1, held: 1, drops: "-"}.check(t, r)
	if r.Forwarded != threshold-1 {
		t.Errorf("skinny events forwarded = %d", r.Forwarded)
	}
}

// Scenario 5, Smartsheet: skinny callbacks that carry our change agent
// are dropped by the marker; without it they are forwarded, the app reads
// the row and writes it back unchanged, and — Smartsheet calling back only
// for real changes — the loop ends there. (Smartsheet writes are tag-only:
// row arrays name no record in the path, so the loop detector cannot count
// them; a CRM that fires on no-op updates is bounded by the burn-rate
// breaker instead.)
func TestScenarioSmartsheetSkinny(t *testing.T) {
	t.Parallel()
	fields := []string{"Status", "Owner"}
	l := startLab(t, Config{Format: "smartsheet", Fields: fields, Loopguard: true, CRM: CRMOptions{EchoChangeAgent: true}})
	l.Sides[0].App.Edit(l.Format.NewID(1), "Status", "Done")
	want{writes: 1, deliveries: 0, drops: "marker=1"}.check(t, finish(t, l, "5 smartsheet skinny, change agent"))

	l = startLab(t, Config{Format: "smartsheet", Fields: fields, Loopguard: true, CRM: CRMOptions{QuietNoop: true}})
	l.Sides[0].App.Edit(l.Format.NewID(1), "Status", "Done")
	r := finish(t, l, "5 smartsheet skinny, no agent")
	want{writes: 2, deliveries: 1, drops: "-"}.check(t, r)
	if r.Forwarded != 1 {
		t.Errorf("the skinny callback must be forwarded, not dropped: %+v", r)
	}
}

// A busy record: a person edits the same record again and again, the naive
// app writes every change back, and its echoes are dropped. That is not a
// loop: nothing is quarantined and every edit reaches the app.
func TestScenarioBusyRecordNotQuarantined(t *testing.T) {
	t.Parallel()
	l := startLab(t, Config{Format: "generic", Fields: genericFields, Loopguard: true, HoldPolicy: "hold",
		CRM: CRMOptions{EchoChangeAgent: true}})
	for i := range 2 * threshold {
		l.CRM.HumanEdit("c1", "name", fmt.Sprintf("edit %d", i))
		l.Settle(50*time.Millisecond, timeout)
	}
	r := finish(t, l, "busy record, person editing")
	want{writes: 2 * threshold, deliveries: 2 * threshold, drops: fmt.Sprintf("marker=%d", 2*threshold)}.check(t, r)
	if got := l.Sides[0].App.Local("c1")["name"]; got != fmt.Sprintf("edit %d", 2*threshold-1) {
		t.Fatalf("app has %q", got)
	}
}

// Scenario 6: a redelivered genuine event reaches the app once.
func TestScenarioRedelivery(t *testing.T) {
	t.Parallel()
	l := startLab(t, Config{Format: "generic", Fields: genericFields, Loopguard: true,
		CRM: CRMOptions{EchoChangeAgent: true, Redeliver: 1}})
	// Through the CRM's human-edit endpoint, as a person in its UI.
	resp, err := l.crmSrv.Client().Post(l.crmSrv.URL+HumanEditPath+"?id=c1&field=name&value=Grace", "", nil)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("human edit endpoint: %v %v", err, resp)
	}
	r := finish(t, l, "6 redelivery of a genuine event")
	// 1 human delivery (+1 redelivery dropped), 1 write-back whose echo is
	// dropped by the marker (and its redelivery by dedup: a dropped
	// event's id is marked too).
	want{writes: 1, deliveries: 1, drops: "dedup=2 marker=1"}.check(t, r)
	if l.Sides[0].App.Local("c1")["name"] != "Grace" {
		t.Fatal("genuine change lost")
	}
}

// Scenario 7: a human edit while the app's own write to the same record is
// in flight: the human's value reaches the app.
func TestScenarioHumanEditDuringWrite(t *testing.T) {
	t.Parallel()
	l := startLab(t, Config{Format: "generic", Fields: genericFields, Loopguard: true,
		CRM: CRMOptions{Schema: genericFields, Delay: 200 * time.Millisecond}})
	app := l.Sides[0].App
	app.Edit("c1", "name", "App")
	deadline := time.Now().Add(2 * time.Second)
	for l.CRM.Stats().Writes == 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	l.CRM.HumanEdit("c1", "name", "Human") // the app's echo is still in flight
	r := finish(t, l, "7 human edit during our write")
	want{writes: 2, deliveries: 1, drops: "fingerprint=2"}.check(t, r)
	if got := app.Local("c1")["name"]; got != "Human" || l.CRM.Record("c1")["name"] != "Human" {
		t.Fatalf("app has %q, CRM has %q; want Human in both", got, l.CRM.Record("c1")["name"])
	}
}

// Scenario 8: two apps, each behind its own loopguard, syncing through one
// CRM: no loop, and each genuine change reaches the other app once.
func TestScenarioMultiHop(t *testing.T) {
	t.Parallel()
	l := startLab(t, Config{Format: "generic", Fields: genericFields, Loopguard: true, Apps: 2,
		CRM: CRMOptions{EchoChangeAgent: true, EchoActor: true}})
	l.Sides[0].App.Edit("c1", "name", "From A")
	r := finish(t, l, "8 multi-hop, two apps")
	// A's write; B's naive write-back. A's echo (actor at A), B gets A's
	// change, B's echo (actor at B), A sees B's write-back of its own value
	// (fingerprint at A: B's user and agent are not A's).
	want{writes: 2, deliveries: 1, drops: "actor=2 sentinel=1 | actor=2 fingerprint=1"}.check(t, r)
	if l.Sides[1].App.Stats().Deliveries != 1 || l.Sides[1].App.Local("c1")["name"] != "From A" {
		t.Fatalf("B: %+v %v", l.Sides[1].App.Stats(), l.Sides[1].App.Local("c1"))
	}
	l.Sides[1].App.Edit("c1", "email", "b@example.com")
	l.Settle(quiet, timeout)
	if l.Sides[0].App.Local("c1")["email"] != "b@example.com" || l.Sides[0].App.Stats().Deliveries != 1 {
		t.Fatalf("A did not get B's change exactly once: %+v", l.Sides[0].App.Stats())
	}
}

// Scenario 9: two fields mapped in a circle through a CRM workflow: every
// write really changes a value, no echo layer can see it; the loop detector
// quarantines the record and bounds the writes.
func TestScenarioCircularMapping(t *testing.T) {
	t.Parallel()
	l := startLab(t, Config{Format: "generic", Fields: genericFields, Loopguard: true, HoldPolicy: "hold",
		InMap: map[string]string{"email": "name"}, OutMap: map[string]string{"name": "name"},
		CRM: CRMOptions{Schema: genericFields, Automation: func(rec map[string]string) []string {
			rec["email"] = rec["name"] + "!"
			return []string{"email"}
		}}})
	// A person sets the email; the app maps it to its name and writes that
	// back; the workflow sets email = name + "!", and so on. Loopguard knows
	// the email the app holds, so the workflow's change in each write's echo
	// is news to the app (not part of our write) — and the loop detector
	// counts it, as the echo shows our write applied.
	l.CRM.HumanEdit("c1", "email", "x")
	r := finish(t, l, "9 circular field mapping")
	want{writes: threshold, deliveries: threshold, held: 1, drops: "-"}.check(t, r)
	if got := l.CRM.Record("c1")["name"]; got != "x"+strings.Repeat("!", threshold-1) {
		t.Errorf("CRM name %q", got)
	}
}

// Scenario 10: the CRM's quota nears exhaustion: the breaker opens, writes
// are answered locally, webhooks are held and delivered after the reset —
// none lost, and the CRM never has to answer 429. With hold_policy reject
// the CRM is answered 503 + Retry-After and redelivers; with hold they wait
// in loopguard's durable spool.
func TestScenarioQuotaBurn(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{"reject", "hold"} {
		t.Run(policy, func(t *testing.T) { quotaBurn(t, policy) })
	}
}

func quotaBurn(t *testing.T, policy string) {
	l := startLab(t, Config{Format: "generic", Fields: genericFields, Loopguard: true, RetryFor: 10 * time.Second,
		CRM:        CRMOptions{EchoChangeAgent: true, Quota: 10, QuotaWindow: 2 * time.Second, NoRetry: policy == "hold"},
		Extra:      "breaker: {cool_down: 2s}\n",
		HoldPolicy: policy})
	app := l.Sides[0].App
	for i := range 15 {
		app.Edit(fmt.Sprintf("c%d", i), "name", fmt.Sprintf("v%d", i))
	}
	deadline := time.Now().Add(3 * time.Second)
	for app.Stats().Throttled == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for i := range 3 {
		l.CRM.HumanEdit(fmt.Sprintf("h%d", i), "name", "human")
	}
	settled := l.Settle(quiet, 15*time.Second)
	// Held webhooks wait in loopguard's spool, which Settle does not see,
	// until the breaker closes: wait for them, then for the app's
	// write-backs of their changes.
	humans := func() bool {
		for i := range 3 {
			if app.Local(fmt.Sprintf("h%d", i))["name"] != "human" {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(15 * time.Second); !humans() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	settled = l.Settle(quiet, timeout) && settled
	r := l.Result("10 quota burn, hold_policy "+policy, settled)
	summary.Lock()
	summary.rows = append(summary.rows, r)
	summary.Unlock()
	if !settled || r.UpstreamThrottled != 0 || app.Stats().Throttled == 0 {
		t.Fatalf("quota: %+v app %+v", r, app.Stats())
	}
	for i := range 15 {
		if got := l.CRM.Record(fmt.Sprintf("c%d", i))["name"]; got != fmt.Sprintf("v%d", i) {
			t.Errorf("app write c%d lost: %q", i, got)
		}
	}
	for i := range 3 {
		if app.Local(fmt.Sprintf("h%d", i))["name"] != "human" {
			t.Errorf("held webhook h%d never reached the app", i)
		}
	}
	if r.Held == 0 {
		t.Errorf("no webhook was held while the breaker was open: %+v", r)
	}
	// 15 app edits + the app's naive write-back of the 3 human changes.
	if r.UpstreamWrites != 18 {
		t.Errorf("upstream writes = %d, want 18", r.UpstreamWrites)
	}
}

// Scenario 11: ablation. With each single echo layer off, scenarios 1-4
// still end without a loop: another layer (or the loop detector) catches
// the echo, and the test says which.
func TestScenarioAblation(t *testing.T) {
	t.Parallel()
	for _, off := range []string{"actor", "marker", "sentinel", "fingerprint"} {
		for _, s := range echoScenarios() {
			if s.layer != off {
				continue // only the runs where the catching layer is the one removed
			}
			t.Run(off+" off/"+s.name, func(t *testing.T) {
				_, r := s.run(t, map[string]bool{off: false}, "11 "+off+" off: "+s.name)
				if !r.Settled || r.UpstreamWrites > threshold || r.Drops[off] != 0 {
					t.Fatalf("no defence in depth: %+v", r)
				}
				caught := r.DropsString()
				if r.Held > 0 {
					caught += " (loop detector held the record)"
				}
				t.Logf("%s off: %s caught by %s after %d writes", off, s.name, caught, r.UpstreamWrites)
			})
		}
	}
}

// Scenario 12: observe mode drops nothing and reports every would-be drop.
func TestScenarioObserve(t *testing.T) {
	t.Parallel()
	l := startLab(t, Config{Format: "generic", Fields: genericFields, Loopguard: true, Observe: true,
		CRM: CRMOptions{EchoChangeAgent: true}})
	l.Sides[0].App.Edit("c1", "name", "Ada")
	// The loop runs on: wait for a few rounds of would-be drops, each
	// delivered. A snapshot taken while one is between its decision and
	// the app counts it judged but not yet delivered (the CI flake of
	// 291ca9b: WouldDrop 3, Deliveries 2), so the wait is for a snapshot
	// where the deliveries have caught up; a dropped event never catches up.
	var r Result
	deadline := time.Now().Add(timeout)
	for r = l.Result("12 observe mode (runs on)", false); r.WouldDrop < 3 || r.Deliveries < r.WouldDrop; r = l.Result("12 observe mode (runs on)", false) {
		if time.Now().After(deadline) {
			t.Fatalf("observe: no loop of delivered would-be drops after %s: %+v", timeout, r)
		}
		time.Sleep(10 * time.Millisecond)
	}
	summary.Lock()
	summary.rows = append(summary.rows, r)
	summary.Unlock()
	if len(r.Drops) != 0 || r.Held != 0 || r.WouldDrop == 0 || r.Deliveries < r.WouldDrop {
		t.Fatalf("observe: %+v", r)
	}
	for _, d := range l.Sides[0].LG.Ring.Last(0) {
		if !d.Observed || d.Layer != "marker" || d.Action.String() != "forward" {
			t.Fatalf("decision not reported as a would-be drop: %+v", d)
		}
	}
}
