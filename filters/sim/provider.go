package sim

import (
	"fmt"
	"strconv"
	"time"

	"github.com/tidwall/gjson"
)

// provRec is a record on the provider.
type provRec struct {
	id       string
	vals     vals
	sentinel string
	ver      int          // provider sequence of the last change
	fver     [nF]int      // version at which each field last changed
	fperson  [nF]bool     // whether that change was a person's
	hist     [nF][]string // values each field held, oldest first (undo)
}

// provider is the tracker: it applies writes and people's edits and emits
// webhook events as its Behaviour says.
type provider struct {
	w       *world
	recs    []*provRec // creation order; the id of recs[i] is "r<i+1>"
	byID    map[string]*provRec
	seq     int       // provider sequence: versions and event times
	evN     int       // events emitted
	lastDue time.Time // the last scheduled delivery (in-order providers)
	outbox  []*event  // due events of a batching provider
}

func newProvider(w *world) *provider {
	return &provider{w: w, byID: map[string]*provRec{}}
}

func (p *provider) add(v vals) *provRec {
	r := &provRec{id: "r" + strconv.Itoa(len(p.recs)+1), vals: v}
	for i := range v {
		if v[i] != "" {
			r.hist[i] = []string{v[i]}
		}
	}
	p.recs = append(p.recs, r)
	p.byID[r.id] = r
	return r
}

// rec returns the record at creation index i (nil when it does not exist).
func (p *provider) rec(i int) *provRec {
	if i < 0 || i >= len(p.recs) {
		return nil
	}
	return p.recs[i]
}

// apply sets the non-empty values of set (and, when hasSentinel, the
// sentinel) on r and emits an event when the behaviour says so.
func (p *provider) apply(r *provRec, set vals, sentinel string, hasSentinel bool, c cause, created bool, marker string, n noise) (changed mask, ev *event) {
	sentinelChanged := false
	for i, v := range set {
		if v == "" || (r.vals[i] == v && !created) {
			continue
		}
		changed |= 1 << i
	}
	if hasSentinel && r.sentinel != sentinel {
		sentinelChanged = true
	}
	if changed == 0 && !sentinelChanged && !created && !p.w.b.EveryWrite {
		return 0, nil
	}
	if changed == 0 && sentinelChanged && c.write != nil {
		p.w.facts.stats.NoopChanges++
	}
	p.seq++
	r.ver = p.seq
	for i := range set {
		if changed.has(i) {
			r.vals[i] = set[i]
			r.fver[i], r.fperson[i] = p.seq, c.person > 0
			r.hist[i] = append(r.hist[i], set[i])
		}
	}
	if hasSentinel {
		r.sentinel = sentinel
	}
	return changed, p.emit(r, c, changed, created, marker, n)
}

// emit builds the event for r's new state and schedules its delivery.
func (p *provider) emit(r *provRec, c cause, changed mask, created bool, marker string, n noise) *event {
	b := p.w.b
	p.evN++
	e := &event{n: p.evN, rec: r.id, seq: r.ver, at: p.w.now, vals: r.vals, created: created, cause: c, changed: changed, noise: n.child(uint64(p.evN))}
	if b.IDs {
		e.id = "ev" + strconv.Itoa(e.n)
	}
	if b.NullUnchanged && !created {
		for i := range e.vals {
			if !changed.has(i) {
				e.vals[i] = ""
			}
		}
	}
	if b.StoresSentinel {
		e.sentinel = r.sentinel
	}
	if b.Actor {
		e.actor = "bot"
		if c.person > 0 {
			e.actor = personName(c.person)
		}
	}
	if b.Marker {
		e.marker = marker
	}
	p.w.facts.emitted(e)
	p.w.logf("provider emits %s for %s v%d %s (%s)", e.label(), r.id, r.ver, e.vals, c)
	p.schedule(e, 0)
	return e
}

func personName(n int) string { return [...]string{"", "alice", "bob", "carol"}[n] }

// schedule plans the delivery of e (and maybe its redeliveries).
func (p *provider) schedule(e *event, resent int) {
	b := p.w.b
	r := e.noise.child(uint64(resent)).rng()
	due := p.w.now.Add(time.Duration(r.Int64N(int64(b.MaxDelay) + 1)))
	if resent > 0 {
		due = p.w.now.Add(time.Second + time.Duration(r.Int64N(int64(60*time.Second))))
	} else if !b.Reorder {
		// A provider that gives no time delivers in order: an event that
		// overtook another could not be told apart by anyone.
		if due.Before(p.lastDue) {
			due = p.lastDue
		}
		p.lastDue = due
	}
	if b.Batch {
		due = due.Truncate(2 * time.Second).Add(2 * time.Second)
	}
	ev := e
	if resent > 0 {
		cp := *e
		cp.resent = resent
		if !b.IDs {
			cp.id = ""
		}
		ev = &cp
	}
	p.w.at(due, func() { p.due(ev) })
	again := (b.Redeliver && b.IDs) || (b.Resend && !b.IDs && b.Time)
	if again && resent < 2 && r.IntN(100) < 15 {
		p.w.after(due.Sub(p.w.now), func() { p.schedule(e, resent+1) })
	}
}

// due delivers e, with every other event due now when batching.
func (p *provider) due(e *event) {
	if !p.w.b.Batch {
		p.w.deliver([]*event{e})
		return
	}
	p.outbox = append(p.outbox, e)
	if len(p.outbox) == 1 {
		// The other events due at this instant run first (same time).
		p.w.after(0, func() {
			evs := p.outbox
			p.outbox = nil
			for len(evs) > 0 {
				n := min(len(evs), 5)
				p.w.deliver(evs[:n])
				evs = evs[n:]
			}
		})
	}
}

// write applies one of the app's writes as the API does: JSON bodies (sniffed,
// whatever the content type), unknown fields stored only where the API
// stores the sentinel. It returns the status and response body.
func (p *provider) write(aw *appWrite, body []byte, hdr map[string]string) (int, []byte) {
	if !gjson.ValidBytes(body) || !gjson.ParseBytes(body).IsObject() {
		return 400, []byte(`{"error":"body is not a JSON object"}`)
	}
	var r *provRec
	if aw.create {
		r = p.add(vals{})
		p.w.facts.created(r)
	} else if r = p.byID[aw.rec]; r == nil {
		return 404, []byte(`{"error":"no such record"}`)
	}
	p.applyWrite(aw, r, gjson.ParseBytes(body), hdr)
	if p.w.b.ResponseRecord {
		return 200, recordJSON(nil, r.id, r.vals, r.sentinel, r.ver, p.w.b)
	}
	return 200, []byte(`{"id":"` + r.id + `"}`)
}

// applyWrite applies the fields object obj of the app's write aw to r.
func (p *provider) applyWrite(aw *appWrite, r *provRec, obj gjson.Result, hdr map[string]string) {
	var set vals
	for i, f := range fieldNames {
		if v := obj.Get(f); v.Exists() && v.Type == gjson.String {
			set[i] = v.Str
		}
	}
	sent := obj.Get(sentinelField)
	hasSentinel := p.w.b.StoresSentinel && sent.Exists()
	aw.stale = p.w.facts.staleWriteBack(aw, r, set)
	aw.unproven = p.w.facts.unproven(r.id, set)
	p.apply(r, set, sent.Str, hasSentinel, cause{write: aw}, aw.create, hdr["X-Change-Agent"], aw.noise)
	p.w.facts.landed(aw, r)
}

// batchItemFails says whether the provider fails aw's item in a batch:
// on providers with BatchFailures, one item in five, on its first attempt
// only (from the write's own noise: deterministic, and scripts can pick).
func batchItemFails(n noise, tries int) bool {
	return tries == 0 && n.child(0xfa11).rng().IntN(100) < 20
}

// writeBatch applies a batch request as HubSpot's batch/update does:
// {"inputs":[{"id":…,"fields":{…}}…]} is validated as a whole (400 when
// its inputs are not the app's records, in order), then each item is
// applied on its own; an item that fails is listed in errors and not
// applied. The answer is 200, or 207 when some items failed, with
// {"results":[…]} per written record (its state when the API shows the
// record). failed are the indexes of the failed items.
func (p *provider) writeBatch(ab *appBatch, body []byte, hdr map[string]string) (status int, resp []byte, failed []int) {
	inputs := gjson.GetBytes(body, "inputs")
	if !gjson.ValidBytes(body) || !inputs.IsArray() || len(inputs.Array()) != len(ab.writes) {
		return 400, []byte(`{"error":"inputs is not the list of the batch's records"}`), nil
	}
	items := inputs.Array()
	for i, in := range items {
		if in.Get("id").Str != ab.writes[i].rec || !in.Get("fields").IsObject() {
			return 400, []byte(`{"error":"input ` + strconv.Itoa(i) + ` is not a record update"}`), nil
		}
	}
	res := []byte(`{"status":"COMPLETE","results":[`)
	errs := []byte(`"errors":[`)
	written := 0
	for i, in := range items {
		aw := ab.writes[i]
		aw.tries++
		r := p.byID[aw.rec]
		if r == nil || (p.w.b.BatchFailures && batchItemFails(aw.noise, aw.tries-1)) {
			if len(failed) > 0 {
				errs = append(errs, ',')
			}
			failed = append(failed, i)
			errs = append(errs, `{"status":"error","category":"CONFLICT","context":{"ids":[`...)
			errs = strconv.AppendQuote(errs, aw.rec)
			errs = append(errs, "]}}"...)
			continue
		}
		p.applyWrite(aw, r, in.Get("fields"), hdr)
		if written++; written > 1 {
			res = append(res, ',')
		}
		res = batchResultJSON(res, r, p.w.b)
	}
	res = append(res, "],"...)
	res = append(append(res, errs...), "]}"...)
	if len(failed) > 0 {
		return 207, res, failed
	}
	return 200, res, nil
}

// batchResultJSON renders one written record of a batch answer: its id
// and, when the API shows records, its fields and time.
func batchResultJSON(b []byte, r *provRec, bh Behaviour) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendQuote(b, r.id)
	if bh.ResponseRecord {
		full := recordJSON(nil, r.id, r.vals, r.sentinel, r.ver, bh)
		b = append(b, `,"fields":`...)
		b = append(b, full...)
		if bh.Time {
			b = append(b, `,"updatedAt":`...)
			b = strconv.AppendQuote(b, epoch.Add(time.Duration(r.ver)*time.Millisecond).Format(time.RFC3339Nano))
		}
	}
	return append(b, '}')
}

// list is the poll response: every record, with its state.
func (p *provider) list() []byte {
	b := []byte(`{"issues":[`)
	for i, r := range p.recs {
		if i > 0 {
			b = append(b, ',')
		}
		b = recordJSON(b, r.id, r.vals, r.sentinel, r.ver, p.w.b)
	}
	return append(b, "]}"...)
}

const sentinelField = "sync_source"

// recordJSON renders a record; "" values are null.
func recordJSON(b []byte, id string, v vals, sentinel string, ver int, bh Behaviour) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendQuote(b, id)
	for i, f := range fieldNames {
		b = append(b, ',')
		b = strconv.AppendQuote(b, f)
		b = append(b, ':')
		if v[i] == "" {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendQuote(b, v[i])
		}
	}
	if sentinel != "" && bh.StoresSentinel {
		b = append(b, `,"`+sentinelField+`":`...)
		b = strconv.AppendQuote(b, sentinel)
	}
	if bh.Time {
		// The provider's time: its sequence as milliseconds, so it orders
		// exactly as the sequence does.
		b = append(b, `,"updatedAt":`...)
		b = strconv.AppendQuote(b, epoch.Add(time.Duration(ver)*time.Millisecond).Format(time.RFC3339Nano))
	}
	return append(b, '}')
}

// eventJSON renders one webhook event.
func eventJSON(b []byte, e *event, bh Behaviour) []byte {
	b = append(b, '{')
	if e.id != "" {
		b = append(b, `"id":`...)
		b = strconv.AppendQuote(b, e.id)
		b = append(b, ',')
	}
	typ := "issue.updated"
	if e.created {
		typ = "issue.created"
	}
	b = append(b, `"type":"`+typ+`"`...)
	if e.actor != "" {
		b = append(b, `,"actor":`...)
		b = strconv.AppendQuote(b, e.actor)
	}
	if e.marker != "" {
		b = append(b, `,"change_agent":`...)
		b = strconv.AppendQuote(b, e.marker)
	}
	if bh.Time {
		b = append(b, `,"seq":`...)
		b = strconv.AppendInt(b, int64(e.seq), 10)
	}
	b = append(b, `,"record":`...)
	b = recordJSON(b, e.rec, e.vals, e.sentinel, e.seq, bh)
	return append(b, '}')
}

// deliveryJSON renders a delivery: one event, or {"events":[…]}.
func deliveryJSON(evs []*event, bh Behaviour) []byte {
	if !bh.Batch {
		return eventJSON(nil, evs[0], bh)
	}
	b := []byte(`{"events":[`)
	for i, e := range evs {
		if i > 0 {
			b = append(b, ',')
		}
		b = eventJSON(b, e, bh)
	}
	return append(b, "]}"...)
}

// personEdit applies a person's edit directly on the provider.
func (p *provider) personEdit(who int, r *provRec, set vals, sentinel string, hasSentinel bool, step int, n noise) {
	c := cause{person: who, step: step}
	p.w.facts.personEdited(r.id)
	if _, ev := p.apply(r, set, sentinel, hasSentinel && p.w.b.StoresSentinel, c, false, "", n); ev == nil {
		p.w.logf("provider: %s's edit of %s changes nothing; no event", personName(who), r.id)
	}
}

// String describes a record for the trace.
func (r *provRec) String() string { return fmt.Sprintf("%s v%d %s", r.id, r.ver, r.vals) }
