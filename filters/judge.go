package filters

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/loopguard/loopguard/filters/spool"
)

// Judge is the one judgement step: it takes a whole delivery (a webhook, a
// polled page, a held item on replay, a payload given to explain) and
// returns every event's decision, which to keep, and which to hold in
// which queue and why. The proxies move bytes around it (read, verify,
// spool I/O, forward, answer) and never re-implement a part of it.
//
// For a webhook it runs, in this order: extraction; for a verified (or
// unsigned) delivery, one store round trip per layer (Prefetch) and each
// event's chain (Engine.Decide), each event seeing what the echoes before
// it settled (After) — for an unverified one, a forward that is never
// dropped (Engine.Unverified); the loop detector and breaker guard with
// the hold policy (a forwarded event of a quarantined record, of an
// account whose breaker is open, or behind held events of either, waits in
// the spool; an unverified delivery waits whole or not at all); and, for a
// trusted delivery, the settling of the writes its echoes answer
// (Engine.Settle). A polled page is only extracted and decided: a poll
// settles nothing and holds nothing.
//
// A Judge is safe for concurrent use.
type Judge struct {
	engine  *Engine
	guard   *Guard
	backlog Backlog
	observe bool
	newer   newerStates // see Superseded
}

// JudgeOptions configure NewJudge.
type JudgeOptions struct {
	// Guard holds the forwarded events of quarantined records and of
	// accounts whose breaker is open, and counts round trips; nil: none
	// (nothing is held).
	Guard *Guard
	// Backlog is the spool's view of what is still held, so that newer
	// events wait behind older ones; nil: nothing is held.
	Backlog Backlog
	// Observe only reports would-be drops and holds nothing (a
	// provider's own observe flag counts too).
	Observe bool
}

// NewJudge builds the judgement step on an engine.
func NewJudge(e *Engine, o JudgeOptions) *Judge {
	return &Judge{engine: e, guard: o.Guard, backlog: o.Backlog, observe: o.Observe}
}

// Engine returns the judge's engine.
func (jg *Judge) Engine() *Engine { return jg.engine }

// Delivery is what the judgement step is given: one delivery, page, held
// item or payload, with what is known of it.
type Delivery struct {
	// Provider decides the events (a read's account picks its own
	// profile: Provider.ForAccount).
	Provider *Provider
	// Route is the matched webhook or read route.
	Route *WebhookRoute
	// Routes are a GraphQL read's routes, in the order the query selects
	// them (Route is then ignored): each one's list is judged in the body
	// the previous one's rewrite left.
	Routes []*WebhookRoute
	// Params are the matched read route's path parameters; Account the
	// account the read was made for (webhook events name their own).
	Params  Params
	Account string
	Body    []byte
	Header  http.Header
	// Verification is whether the delivery's signature verified
	// (Verified), failed (Unverified, Why says why) or was not checked
	// because the provider has no secret (Unsigned). The zero value
	// (unknown) counts as unverified. Ignored for a poll: its answer is
	// our own call's.
	Verification spool.Verification
	Why          string
	// Source is SourceWebhook (the default) or SourcePull.
	Source Source
	// ID names the delivery in its decisions (Decision.Delivery); "" for
	// none.
	ID string
}

// Judgement is the judgement step's answer about one delivery.
type Judgement struct {
	// Events are the delivery's events and Decisions each one's decision,
	// in the delivery's order.
	Events    []Event
	Decisions []Decision
	// Keep says which events go to the app now (a forward, or a would-be
	// drop in observe mode).
	Keep []bool
	// Holds are the spool queues the held events wait in, in order of
	// their first event; each names its own reason and end.
	Holds []HoldQueue
	// Err is why the delivery could not be split into events (malformed,
	// too deep): it goes to the app untouched, explained by Whole.
	Err   error
	Whole Decision
	// SettleErr is a failure to record what the delivery's echoes settle
	// (a doubt, for the caller to log and count; the decisions stand).
	SettleErr error

	d         Delivery
	ex        *Provider // extracts and rewrites
	body      []byte    // the body for the app, once known
	bodyErr   error
	bodyDone  bool
	rewritten bool
	// one holds the event, its decision and keep flag when a delivery has
	// one event (most webhook deliveries): Events, Decisions and Keep are
	// then slices of it, not allocations of their own (issue 19).
	one struct {
		ev   [1]Event
		dec  [1]Decision
		keep [1]bool
	}
}

// judged sets Events to evs and sizes Decisions and Keep for them.
func (j *Judgement) judged(evs []Event) {
	j.Events = evs
	if len(evs) == 1 {
		j.Decisions, j.Keep = j.one.dec[:], j.one.keep[:]
		return
	}
	j.Decisions, j.Keep = make([]Decision, len(evs)), make([]bool, len(evs))
}

// Judge judges one delivery.
func (jg *Judge) Judge(ctx context.Context, d Delivery) *Judgement {
	if d.Source == "" {
		d.Source = SourceWebhook
	}
	j := &Judgement{d: d, ex: d.Provider}
	if d.Source == SourcePull {
		j.ex = d.Provider.ForAccount(d.Account)
		if len(d.Routes) > 0 {
			jg.judgeGraphQL(ctx, j)
			return j
		}
	}
	evs, err := j.extract(d.Route, d.Body)
	if err != nil {
		j.whole(jg.engine, err)
		return j
	}
	j.judged(evs)
	if d.Source == SourcePull {
		jg.engine.Prefetch(ctx, evs) // one store round trip per layer for the page
		for i := range evs {
			j.Decisions[i] = jg.engine.Decide(ctx, d.Provider, &evs[i])
		}
	} else {
		jg.judgeWebhook(ctx, j)
	}
	for i := range j.Decisions {
		j.Decisions[i].Delivery = d.ID
		j.Keep[i] = j.Decisions[i].Action == Forward
	}
	return j
}

// judgeWebhook decides a delivery's events, applies the guard and the hold
// policy, and settles what its echoes answer.
func (jg *Judge) judgeWebhook(ctx context.Context, j *Judgement) {
	d, evs, ds := &j.d, j.Events, j.Decisions
	p := d.Provider
	trusted := d.Verification.Trusted()
	if trusted {
		jg.engine.Prefetch(ctx, evs) // one store round trip per layer for the batch
	}
	observing := jg.observe || p.Observe()
	var plan holdPlan
	for i := range evs {
		evs[i].Verified = d.Verification == spool.Verified
		if !trusted {
			ds[i] = jg.engine.Unverified(p, &evs[i], d.Why)
		} else {
			ds[i] = jg.engine.Decide(ctx, p, &evs[i])
			After(evs, i, &ds[i])
		}
		if jg.guard == nil {
			continue
		}
		if ds[i].Action == Drop {
			jg.guard.echoed(&evs[i])
		}
		if ds[i].Action != Forward || ds[i].Observed || observing {
			continue
		}
		// Only an event that may be caused by our own write (it shows our
		// write applied, or carries no values to tell) counts as a round
		// trip: people's edits never look like a loop.
		count := trusted && (ds[i].Reflects || evs[i].Skinny())
		w, ok := jg.guard.inbound(&evs[i], count)
		if !ok && jg.backlog != nil && !jg.backlog.Idle() {
			// Older events of this record or account still wait in the
			// spool: this one waits behind them, or it would overtake.
			if q, behind := jg.backlog.Behind(jg.guard.queuesFor(&evs[i])...); behind {
				w, ok = wait{reason: ReasonBehindHeld, queue: q, detail: "older events of this record or account are still held"}, true
			}
		}
		if ok {
			jg.newer.forget(evs[i].Key())
			holdDecision(&ds[i], w, p.Profile.HoldPolicy)
			if !trusted {
				ds[i].Detail += "; unverified: held untouched, replayed with its original signature"
			}
			plan.add(i, w)
		}
	}
	if len(plan.holds) > 0 && !trusted {
		plan.whole(ds, p.Profile.HoldPolicy)
	}
	j.Holds = plan.holds
	if trusted {
		// Echoes settle the writes they answer before anything is sent.
		j.SettleErr = jg.engine.Settle(ctx, evs, ds)
		jg.noteNewer(evs, ds)
	}
}

// judgeGraphQL decides each selected field's list of a GraphQL read in
// turn, each in the body the previous one's rewrite left. A field whose
// list is missing (null data, an error) is left as it is; when a rewrite
// fails, the fields after it are not judged and Body returns the error.
func (jg *Judge) judgeGraphQL(ctx context.Context, j *Judgement) {
	d := &j.d
	cur := d.Body
	j.bodyDone = true
	for _, r := range d.Routes {
		evs, err := j.extract(r, cur)
		if err != nil {
			continue // this field's list is absent or not a list of objects
		}
		jg.engine.Prefetch(ctx, evs)
		keep := make([]bool, len(evs))
		removed := 0
		for i := range evs {
			dd := jg.engine.Decide(ctx, d.Provider, &evs[i])
			dd.Delivery = d.ID
			j.Decisions = append(j.Decisions, dd)
			if keep[i] = dd.Action == Forward; !keep[i] {
				removed++
			}
		}
		j.Events, j.Keep = append(j.Events, evs...), append(j.Keep, keep...)
		if removed == 0 {
			continue
		}
		nb, err := j.ex.Rewrite(r, cur, evs, keep)
		if err != nil {
			j.body, j.bodyErr, j.rewritten = d.Body, fmt.Errorf("graphql field %s: %w", r.Tpl, err), false
			return
		}
		cur, j.rewritten = nb, true
	}
	j.body = cur
}

// Replayed is the judgement of a held delivery on replay: it was judged
// when it arrived, so its events are only extracted, every one forwarded
// (Accept records them once the app took it, if it is trusted).
func (jg *Judge) Replayed(d Delivery) *Judgement {
	d.Source = SourceWebhook
	j := &Judgement{d: d, ex: d.Provider}
	evs, err := j.extract(d.Route, d.Body)
	if err != nil {
		j.whole(jg.engine, err)
		return j
	}
	j.judged(evs)
	for i := range evs {
		j.Decisions[i] = Decision{Action: Forward}
		j.Keep[i] = true
	}
	return j
}

// Accept records, after the app answered 2xx, what it now knows of a
// judged delivery (Engine.Accepted): live or replayed alike, an untrusted
// delivery (its signature failed, or was never recorded) records nothing —
// a forged event id would make the genuine event a "redelivery".
func (jg *Judge) Accept(ctx context.Context, j *Judgement) error {
	if j == nil || len(j.Events) == 0 || !j.Trusted() {
		return nil
	}
	return jg.engine.Accepted(ctx, j.d.Provider, j.Events, j.Decisions)
}

func (j *Judgement) extract(r *WebhookRoute, body []byte) ([]Event, error) {
	d := &j.d
	if d.Source == SourcePull {
		return j.ex.ExtractRead(r, &d.Params, d.Account, body, d.Header, nil)
	}
	return j.ex.Extract(r, body, d.Header, j.one.ev[:0])
}

// whole explains a delivery that could not be split into events.
func (j *Judgement) whole(e *Engine, err error) {
	j.Err = err
	reason := ReasonMalformed
	if errors.Is(err, ErrTooDeep) {
		reason = ReasonTooDeep
	}
	if j.d.Source == SourcePull {
		j.Whole = e.WholePull(j.d.Provider.Name, j.d.Account, reason, err.Error())
	} else {
		j.Whole = e.Whole(j.d.Provider.Name, Forward, "delivery", reason, err.Error())
	}
	j.Whole.Delivery = j.d.ID
	j.body, j.bodyDone = j.d.Body, true
}

// Trusted reports whether the delivery's signature verified or its
// provider has no secret: only then are its events dropped, its body
// rewritten and re-signed, and its events recorded as accepted.
func (j *Judgement) Trusted() bool { return j.d.Verification.Trusted() }

// Kept is the number of events that go to the app now.
func (j *Judgement) Kept() int {
	n := 0
	for _, k := range j.Keep {
		if k {
			n++
		}
	}
	return n
}

// Body is the body for the app: the delivery's own when every event is
// kept (or after ForwardAll), else rewritten without the dropped and held
// events. An untrusted delivery is never rewritten (its original signature
// must still match): the error says so, as it reports a failed rewrite.
func (j *Judgement) Body() ([]byte, error) {
	if j.bodyDone {
		return j.body, j.bodyErr
	}
	j.bodyDone = true
	switch {
	case j.Kept() == len(j.Events):
		j.body = j.d.Body
	case j.d.Source != SourcePull && !j.Trusted():
		j.body, j.bodyErr = j.d.Body, errors.New("an unverified delivery is never rewritten")
	default:
		j.body, j.bodyErr = j.ex.Rewrite(j.d.Route, j.d.Body, j.Events, j.Keep)
		j.rewritten = j.bodyErr == nil
		if j.bodyErr != nil {
			j.body = j.d.Body
		}
	}
	return j.body, j.bodyErr
}

// Rewritten reports whether Body differs from the delivery's body.
func (j *Judgement) Rewritten() bool {
	_, _ = j.Body()
	return j.rewritten
}

// Resign reports whether the body for the app needs a new signature: it
// was rewritten, and the delivery's own signature verified. An unverified
// delivery is never re-signed.
func (j *Judgement) Resign() bool { return j.Rewritten() && j.d.Verification == spool.Verified }

// ForwardAll is the fallback when the body cannot be rewritten (or
// re-signed, or encoded): the delivery goes as it came, and every drop
// becomes what it now is, a would-be drop that was forwarded (Observed),
// in Keep and in the decisions the caller reports alike.
func (j *Judgement) ForwardAll() {
	for i := range j.Decisions {
		if d := &j.Decisions[i]; d.Action == Drop {
			d.Action, d.Observed = Forward, true
			d.Detail += "; forwarded: the delivery could not be rewritten"
			j.Keep[i] = true
		}
	}
	j.body, j.bodyErr, j.bodyDone, j.rewritten = j.d.Body, nil, true, false
}

// Part is the body to hold in h's queue: only its events, or the whole
// delivery when they are all of it, when it cannot be split, or when it is
// untrusted (held untouched, so that its original signature still matches
// on replay). Replaying a whole delivery re-delivers its other events too,
// which the app's dedup layer absorbs.
func (j *Judgement) Part(h HoldQueue) []byte {
	if len(h.Events) == len(j.Events) || !j.Trusted() {
		return j.d.Body
	}
	mask := make([]bool, len(j.Events))
	for _, i := range h.Events {
		mask[i] = true
	}
	nb, err := j.ex.Rewrite(j.d.Route, j.d.Body, j.Events, mask)
	if err != nil {
		return j.d.Body
	}
	return nb
}

// HeldUntil is when every queue the delivery's held events wait in may go
// on (zero: unknown): the earliest a refused delivery (hold policy reject)
// can come back and pass whole.
func (j *Judgement) HeldUntil() time.Time {
	var t time.Time
	for _, h := range j.Holds {
		if h.Until.After(t) {
			t = h.Until
		}
	}
	return t
}

// Delivery returns what was judged.
func (j *Judgement) Delivery() *Delivery { return &j.d }
