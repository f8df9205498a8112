package filters

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/spool"
	"github.com/tidwall/gjson"
)

// judgeEnv is the hubspotlike provider (batched deliveries, hold policy
// hold, integration user 4242) with a judge whose guard runs a real loop
// detector (one round trip quarantines) and real breakers on the fake
// clock.
type judgeEnv struct {
	*harness
	breakers *breaker.Breakers
	loops    *breaker.Loops
	backlog  *fakeBacklog
	judge    *Judge
	route    *WebhookRoute
}

func newJudgeEnv(t *testing.T, observe bool) *judgeEnv {
	t.Helper()
	h := newHarness(t, "hubspotlike", harnessOpts{})
	b, err := breaker.New(breaker.Config{}, h.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	loops, err := breaker.NewLoops(breaker.LoopConfig{Threshold: 1, Window: time.Minute, Quarantine: 30 * time.Minute}, h.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGuard(GuardOptions{Breakers: b, Loops: loops, TripAccount: -1})
	if err != nil {
		t.Fatal(err)
	}
	bl := &fakeBacklog{}
	r, ok := h.p.MatchWebhook("POST", "/webhooks/hubspot")
	if !ok {
		t.Fatal("no hubspot route")
	}
	return &judgeEnv{harness: h, breakers: b, loops: loops, backlog: bl, route: r,
		judge: NewJudge(h.eng, JudgeOptions{Guard: g, Backlog: bl, Observe: observe})}
}

// fakeBacklog holds the queues named in held.
type fakeBacklog struct{ held []string }

func (b *fakeBacklog) Idle() bool { return len(b.held) == 0 }
func (b *fakeBacklog) Behind(qs ...string) (string, bool) {
	for _, q := range qs {
		if slices.Contains(b.held, q) {
			return q, true
		}
	}
	return "", false
}

// hubEvent is one per-property change of record objectId by actor.
type hubEvent struct {
	id, record int
	actor      string
}

func hubBatch(evs ...hubEvent) []byte {
	parts := make([]string, len(evs))
	for i, e := range evs {
		parts[i] = fmt.Sprintf(`{"eventId":%d,"subscriptionId":7,"portalId":62515,"objectId":%d,"subscriptionType":"contact.propertyChange",`+
			`"propertyName":"firstname","propertyValue":"v%d","sourceId":%q}`, e.id, e.record, e.id, e.actor)
	}
	return []byte("[" + strings.Join(parts, ",") + "]")
}

func (e *judgeEnv) judgeBatch(v spool.Verification, body []byte) *Judgement {
	e.t.Helper()
	return e.judge.Judge(context.Background(), Delivery{Provider: e.p, Route: e.route, Body: body, Verification: v,
		Why: "signature mismatch", ID: "d1"})
}

// quarantine makes the record loop once (threshold 1).
func (e *judgeEnv) quarantine(record int) {
	k := breaker.RecordKey{Provider: e.p.Name, Object: "contacts", Record: fmt.Sprint(record)}
	e.loops.Wrote(k)
	if q, _ := e.loops.Inbound(k); !q {
		e.t.Fatalf("record %d not quarantined", record)
	}
}

// objectIDs lists the records of a body's events, in order.
func objectIDs(body []byte) []int64 {
	var out []int64
	for _, r := range gjson.ParseBytes(body).Array() {
		out = append(out, r.Get("objectId").Int())
	}
	return out
}

// decisionJSON is a decision as GET /decisions shows it.
func decisionJSON(t *testing.T, d Decision) gjson.Result {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return gjson.ParseBytes(b)
}

func TestJudgeWebhookDropsRewritesAndResigns(t *testing.T) {
	batch := hubBatch(hubEvent{1, 501, "4242"}, hubEvent{2, 502, "userId:9"}, hubEvent{3, 503, "4242"}, hubEvent{4, 504, "userId:9"})
	for _, c := range []struct {
		v      spool.Verification
		kept   []int64 // records of the body for the app
		resign bool
	}{
		{spool.Verified, []int64{502, 504}, true},
		{spool.Unsigned, []int64{502, 504}, false},
		// Unverified: nothing is dropped, so nothing is rewritten or
		// re-signed.
		{spool.Unverified, []int64{501, 502, 503, 504}, false},
	} {
		t.Run(c.v.String(), func(t *testing.T) {
			e := newJudgeEnv(t, false)
			j := e.judgeBatch(c.v, batch)
			if j.Err != nil || len(j.Events) != 4 || len(j.Holds) != 0 {
				t.Fatalf("judgement: err %v, %d events, holds %+v", j.Err, len(j.Events), j.Holds)
			}
			body, err := j.Body()
			if err != nil || !slices.Equal(objectIDs(body), c.kept) {
				t.Fatalf("body for the app: %s (%v), want records %v", body, err, c.kept)
			}
			if j.Kept() != len(c.kept) || j.Rewritten() != (len(c.kept) < 4) || j.Resign() != c.resign {
				t.Fatalf("kept %d rewritten %v resign %v", j.Kept(), j.Rewritten(), j.Resign())
			}
			for i, d := range j.Decisions {
				if d.Delivery != "d1" || j.Keep[i] != (d.Action == Forward) {
					t.Fatalf("decision %d: %+v keep %v", i, d, j.Keep[i])
				}
				if c.v == spool.Unverified && (d.Layer != "signature" || d.Reason != ReasonUnverified) {
					t.Fatalf("unverified decision %d: %s by %s (%s)", i, d.Action, d.Layer, d.Reason)
				}
			}
		})
	}
}

// TestJudgeForwardAllShowsForwards is the first bug of issue 15: after a
// failed rewrite the whole delivery went on, but /decisions still said
// "action":"drop" for the events that were forwarded. The fallback now
// changes the decisions themselves, which marshal from their values.
func TestJudgeForwardAllShowsForwards(t *testing.T) {
	e := newJudgeEnv(t, false)
	batch := hubBatch(hubEvent{1, 501, "4242"}, hubEvent{2, 502, "userId:9"})
	j := e.judgeBatch(spool.Verified, batch)
	if j.Decisions[0].Action != Drop || decisionJSON(t, j.Decisions[0]).Get("action").String() != "drop" {
		t.Fatalf("echo: %+v", j.Decisions[0])
	}
	if _, err := j.Body(); err != nil || !j.Rewritten() {
		t.Fatalf("rewrite: %v", err)
	}
	j.ForwardAll() // as when the re-sign (or the encoding of a poll) fails
	body, err := j.Body()
	if err != nil || !bytes.Equal(body, batch) || j.Rewritten() || j.Resign() || j.Kept() != 2 {
		t.Fatalf("after ForwardAll: body %s (%v), rewritten %v, kept %d", body, err, j.Rewritten(), j.Kept())
	}
	got := decisionJSON(t, j.Decisions[0])
	if got.Get("action").String() != "forward" || !got.Get("observed").Bool() || !strings.Contains(got.Get("detail").String(), "could not be rewritten") {
		t.Fatalf("the forwarded echo shows %s", got.Raw)
	}
	if !j.Decisions[0].WouldDrop() || decisionJSON(t, j.Decisions[1]).Get("action").String() != "forward" {
		t.Fatalf("decisions after ForwardAll: %+v", j.Decisions)
	}
}

// TestJudgeHoldsEachQueueWithItsOwnReason is the second bug of issue 15:
// a delivery with events held in several queues stamped every queue with
// the last hold's reason and Retry-After.
func TestJudgeHoldsEachQueueWithItsOwnReason(t *testing.T) {
	e := newJudgeEnv(t, false)
	e.quarantine(501)
	now := e.clock.Now()
	e.breakers.Trip(breaker.Key{Provider: e.p.Name, Account: "62515"}, breaker.Manual, "test", now.Add(5*time.Minute))
	j := e.judgeBatch(spool.Verified, hubBatch(hubEvent{1, 501, "userId:9"}, hubEvent{2, 502, "userId:9"}, hubEvent{3, 503, "4242"}))
	if len(j.Holds) != 2 {
		t.Fatalf("holds %+v, want a record queue and a breaker queue", j.Holds)
	}
	rec, brk := j.Holds[0], j.Holds[1]
	if !strings.HasPrefix(rec.Queue, QueueRecord+":") || rec.Reason != ReasonQuarantined || !rec.Until.Equal(now.Add(30*time.Minute)) || !slices.Equal(rec.Events, []int{0}) {
		t.Fatalf("record queue: %+v", rec)
	}
	if !strings.HasPrefix(brk.Queue, QueueBreaker+":") || brk.Reason != ReasonBreakerOpen || !brk.Until.Equal(now.Add(5*time.Minute)) || !slices.Equal(brk.Events, []int{1}) {
		t.Fatalf("breaker queue: %+v", brk)
	}
	// A refused delivery comes back when every queue may go on.
	if !j.HeldUntil().Equal(now.Add(30 * time.Minute)) {
		t.Fatalf("held until %v", j.HeldUntil())
	}
	for i, want := range []struct {
		action Action
		layer  string
		reason Reason
	}{{Hold, "loop", ReasonQuarantined}, {Hold, "breaker", ReasonBreakerOpen}, {Drop, "actor", ReasonIntegrationUser}} {
		if d := j.Decisions[i]; d.Action != want.action || d.Layer != want.layer || d.Reason != want.reason {
			t.Fatalf("decision %d: %s by %s (%s), want %s by %s (%s)", i, d.Action, d.Layer, d.Reason, want.action, want.layer, want.reason)
		}
	}
	// Each queue holds only its own event; nothing goes to the app now.
	if got := objectIDs(j.Part(rec)); !slices.Equal(got, []int64{501}) {
		t.Fatalf("record queue part: %v", got)
	}
	if got := objectIDs(j.Part(brk)); !slices.Equal(got, []int64{502}) {
		t.Fatalf("breaker queue part: %v", got)
	}
	if j.Kept() != 0 {
		t.Fatalf("kept %d", j.Kept())
	}
}

// TestJudgeUnverifiedOnePath is the third bug of issue 15: the rule for
// unverified deliveries (never dropped, never split or re-signed, never
// recorded as accepted) lives in the one judgement path that the live
// delivery, its holds and its replay all take.
func TestJudgeUnverifiedOnePath(t *testing.T) {
	e := newJudgeEnv(t, false)
	e.quarantine(502)
	batch := hubBatch(hubEvent{1, 501, "4242"}, hubEvent{2, 502, "userId:9"}, hubEvent{3, 503, "userId:9"})
	j := e.judgeBatch(spool.Unverified, batch)
	// The echo is not dropped, and as one event must be held the whole
	// delivery is held, untouched, in that event's queue.
	if len(j.Holds) != 1 || !slices.Equal(j.Holds[0].Events, []int{0, 1, 2}) || j.Holds[0].Reason != ReasonQuarantined {
		t.Fatalf("holds %+v, want one queue with every event", j.Holds)
	}
	if !bytes.Equal(j.Part(j.Holds[0]), batch) {
		t.Fatalf("held part %s, want the delivery untouched", j.Part(j.Holds[0]))
	}
	for i, d := range j.Decisions {
		if d.Action != Hold || !strings.Contains(d.Detail, "held") {
			t.Fatalf("decision %d: %s by %s (%s: %s)", i, d.Action, d.Layer, d.Reason, d.Detail)
		}
	}
	if _, err := j.Body(); err == nil || j.Resign() || j.Trusted() {
		t.Fatalf("an unverified delivery was rewritten (%v) or would be re-signed (%v)", err, j.Resign())
	}
	ctx := context.Background()
	seen := func(j *Judgement) bool {
		ok, err := e.store.EventSeen(ctx, j.Events[0].dedupKey())
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	// Neither the live delivery nor its replay records anything…
	for _, v := range []spool.Verification{spool.Unverified, spool.VerifyUnknown} {
		for _, jj := range []*Judgement{j, e.judge.Replayed(Delivery{Provider: e.p, Route: e.route, Body: batch, Verification: v})} {
			if err := e.judge.Accept(ctx, jj); err != nil || seen(jj) {
				t.Fatalf("%s delivery recorded as accepted (%v)", v, err)
			}
		}
	}
	// …while a verified replay does.
	r := e.judge.Replayed(Delivery{Provider: e.p, Route: e.route, Body: batch, Verification: spool.Verified})
	if err := e.judge.Accept(ctx, r); err != nil || !seen(r) {
		t.Fatalf("verified replay not recorded (%v)", err)
	}
}

func TestJudgeBehindHeldAndObserve(t *testing.T) {
	batch := hubBatch(hubEvent{1, 501, "userId:9"}, hubEvent{2, 502, "userId:9"})
	t.Run("behind held", func(t *testing.T) {
		e := newJudgeEnv(t, false)
		e.backlog.held = []string{RecordQueue(breaker.RecordKey{Provider: e.p.Name, Object: "contacts", Record: "502"})}
		j := e.judgeBatch(spool.Verified, batch)
		if len(j.Holds) != 1 || j.Holds[0].Reason != ReasonBehindHeld || !slices.Equal(j.Holds[0].Events, []int{1}) || j.Holds[0].Queue != e.backlog.held[0] {
			t.Fatalf("holds %+v", j.Holds)
		}
		if d := j.Decisions[1]; d.Layer != "hold" || d.Reason != ReasonBehindHeld || j.Kept() != 1 {
			t.Fatalf("decision %+v, kept %d", d, j.Kept())
		}
	})
	t.Run("observe holds nothing", func(t *testing.T) {
		e := newJudgeEnv(t, true)
		e.quarantine(501)
		if j := e.judgeBatch(spool.Verified, batch); len(j.Holds) != 0 || j.Kept() != 2 {
			t.Fatalf("observe mode held %+v", j.Holds)
		}
	})
}

func TestJudgeMalformed(t *testing.T) {
	e := newJudgeEnv(t, false)
	body := []byte(`[{"eventId":1,`)
	j := e.judgeBatch(spool.Verified, body)
	if j.Err == nil || j.Whole.Reason != ReasonMalformed || j.Whole.Action != Forward || j.Whole.Delivery != "d1" || len(j.Events) != 0 {
		t.Fatalf("malformed: %+v", j)
	}
	if b, err := j.Body(); err != nil || !bytes.Equal(b, body) {
		t.Fatalf("malformed body %s (%v), want it untouched", b, err)
	}
	if err := e.judge.Accept(context.Background(), j); err != nil {
		t.Fatal(err)
	}
}
