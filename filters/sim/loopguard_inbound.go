package sim

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/spool"
)

// The inbound side of the adapter: what proxy/inbound.go, inbound_hold.go,
// hold.go and pull.go do around the judgement step. A delivery is judged
// by filters.Judge; the parts it names are held in the adapter's spool (a
// list, in hold order) and replayed when the guard says their queue is
// ready; the app's 2xx is told to Judge.Accept (live) or Judge.Replayed
// and Accept (replayed). The simulated provider has no signing secret:
// every delivery is Unsigned (trusted), as for such a provider in the
// proxy.

// heldItem is one spool item: the part of a delivery held in a queue, and
// the simulator's events it carries.
type heldItem struct {
	queue  string
	body   []byte
	events []*event
	at     time.Time // when it was held
}

// jsonHeader is the header of every delivery.
var jsonHeader = http.Header{"Content-Type": {"application/json"}}

// deliver is Inbound.ServeHTTP: judge, report, hold what must wait.
func (j *lgJudge) deliver(d *delivery) []verdict {
	j.deliveries++
	j.w.facts.inflight = d.events
	jm := j.judge.Judge(j.ctx, filters.Delivery{Provider: j.p, Route: j.hook, Body: d.body, Header: jsonHeader,
		Verification: spool.Unsigned, ID: "d" + strconv.Itoa(j.deliveries)})
	j.w.facts.inflight = nil
	if jm.Err != nil || len(jm.Events) != len(d.events) {
		panic(fmt.Sprintf("sim: extract %s: %v (%d events for %d)", d.body, jm.Err, len(jm.Events), len(d.events)))
	}
	if jm.SettleErr != nil {
		j.w.facts.storeError(jm.SettleErr)
	}
	out := make([]verdict, len(jm.Events))
	for i, dd := range jm.Decisions {
		if dd.Reason == filters.ReasonStoreError {
			j.w.facts.storeError(fmt.Errorf("decide %s: %s", d.events[i].label(), dd.Detail))
		}
		out[i] = verdict{action: Action(dd.Action), why: dd.Layer + "/" + dd.Reason.String()}
	}
	// holdEvents (hold_policy hold): each queue's part is appended.
	for _, h := range jm.Holds {
		it := heldItem{queue: h.Queue, body: jm.Part(h), at: j.w.now}
		for _, i := range h.Events {
			it.events = append(it.events, d.events[i])
		}
		j.held = append(j.held, it)
	}
	d.judged = jm
	return out
}

// accept is Inbound.modifyResponse after the app's 2xx: Judge.Accept, or,
// for a replay, Judge.Replayed and Accept per held item (acceptReplayed).
func (j *lgJudge) accept(d *delivery) {
	var js []*filters.Judgement
	switch v := d.judged.(type) {
	case *filters.Judgement:
		js = []*filters.Judgement{v}
	case []heldItem:
		for _, it := range v {
			js = append(js, j.judge.Replayed(filters.Delivery{Provider: j.p, Route: j.hook, Body: it.body,
				Header: jsonHeader, Verification: spool.Unsigned}))
		}
	}
	for _, jm := range js {
		if jm.Err != nil {
			panic(fmt.Sprintf("sim: extract a replayed part: %v", jm.Err))
		}
		if err := j.judge.Accept(j.ctx, jm); err != nil {
			j.w.facts.storeError(err)
		}
	}
}

// Idle reports that nothing is held (filters.Backlog).
func (j *lgJudge) Idle() bool { return len(j.held) == 0 }

// Behind returns the first of queues that still holds items
// (filters.Backlog).
func (j *lgJudge) Behind(queues ...string) (string, bool) {
	for _, q := range queues {
		for _, h := range j.held {
			if h.queue == q {
				return q, true
			}
		}
	}
	return "", false
}

var _ filters.Backlog = (*lgJudge)(nil)

// ready is the guard's readiness of a queue (Guard.Ready, the replayer's
// ready function) and, when it is not ready, when it may be (zero: not
// known by time — a half-open breaker waits for its probe).
func (j *lgJudge) ready(queue string) (bool, time.Time) {
	if j.guard.Ready(queue) {
		return true, time.Time{}
	}
	kind, k, err := filters.ParseQueue(queue)
	if err != nil {
		return true, time.Time{}
	}
	switch kind {
	case filters.QueueRecord:
		_, qi := j.guard.Loops().Quarantined(k)
		return false, qi.Until
	case filters.QueueBreaker:
		st, _ := j.breakers.Status(breaker.Key{Provider: k.Provider, Account: k.Account})
		if st.State == breaker.Open {
			return false, st.OpenUntil
		}
	}
	return false, time.Time{}
}

// release replays, in hold order, the held items whose queue is ready, as
// the replayer does (without its tick); accept then records them.
func (j *lgJudge) release() *delivery {
	var d delivery
	var items []heldItem
	kept := j.held[:0]
	held := j.held
	for x, h := range held {
		if ok, _ := j.ready(h.queue); !ok {
			kept = append(kept, h)
			continue
		}
		// As the replayer does: a newer whole state of the record replaced
		// it (decided since, or held after it in its queue); it is not
		// replayed. The simulator judges the drop once the release is
		// delivered.
		var later []filters.Delivery
		for _, l := range held[x+1:] {
			if l.queue == h.queue && len(later) < 16 {
				later = append(later, filters.Delivery{Provider: j.p, Route: j.hook, Body: l.body, Header: jsonHeader, Verification: spool.Unsigned})
			}
		}
		if j.judge.Superseded(j.ctx, h.queue, filters.Delivery{Provider: j.p, Route: j.hook, Body: h.body, Header: jsonHeader, Verification: spool.Unsigned}, h.at, later...) {
			for _, e := range h.events {
				j.w.logf("loopguard drops held %s for %s (loop/superseded)", e.label(), e.rec)
			}
			d.superseded = append(d.superseded, h.events...)
			continue
		}
		d.events = append(d.events, h.events...)
		items = append(items, h)
	}
	j.held = kept
	if len(items) == 0 && len(d.superseded) == 0 {
		return nil
	}
	d.judged = items
	return &d
}

// nextRelease is the earliest time a held queue becomes ready: now for a
// ready one; a queue that waits for no time (a half-open breaker) is
// looked at again after the next task (scheduleRelease runs after each).
func (j *lgJudge) nextRelease() time.Time {
	var next time.Time
	for _, h := range j.held {
		ok, until := j.ready(h.queue)
		switch {
		case ok:
			until = j.w.now
		case !until.After(j.w.now):
			continue
		}
		if next.IsZero() || until.Before(next) {
			next = until
		}
	}
	return next
}

// poll is the outbound read path: the call is admitted and observed like
// any (writer.begin, writer.end), its page judged (puller: Judge with
// SourcePull).
func (j *lgJudge) poll(body []byte) []verdict {
	route, ps, ok := j.p.MatchRead(http.MethodGet, "/v1/issues")
	if !ok {
		panic("sim: no read route")
	}
	account := j.p.AccountOf(apiHost, &url.URL{Path: "/v1/issues"}, http.Header{}, &ps)
	j.guard.SawAccount(j.p.Name, account)
	c, _, admitted := j.admit(account, false)
	if !admitted {
		panic("sim: a read refused (block_reads is off)")
	}
	j.observe(c, http.StatusOK)
	jm := j.judge.Judge(j.ctx, filters.Delivery{Provider: j.p, Route: route, Params: ps, Account: account,
		Body: body, Header: http.Header{}, Source: filters.SourcePull})
	if jm.Err != nil {
		panic(fmt.Sprintf("sim: extract read: %v", jm.Err))
	}
	out := make([]verdict, len(jm.Decisions))
	for i, dd := range jm.Decisions {
		out[i] = verdict{action: Action(dd.Action), why: dd.Layer + "/" + dd.Reason.String()}
	}
	return out
}
