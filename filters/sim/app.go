package sim

import (
	"strconv"
	"time"

	"github.com/tidwall/gjson"
)

// appRec is the app's copy of a record.
type appRec struct {
	vals vals
	fseq [nF]int // provider sequence of each field's value (providers with a time)
}

// app mirrors the provider's records: it applies every delivered event and
// writes back naively (Behaviour.WriteBack); it also edits records itself.
type app struct {
	w       *world
	recs    map[string]*appRec
	writes  int
	batches int
	out     outbox
}

func newApp(w *world) *app { return &app{w: w, recs: map[string]*appRec{}} }

// receive applies a delivered event, then writes back. A batching app
// first sends the write-back of an earlier event of the same record in
// this handler (a batch holds one write per record).
func (a *app) receive(e *event) {
	a.flushFor(e.rec)
	a.writeBack(e, a.apply(e))
}

// flushFor sends the outbox when it holds a write of rec composed before.
func (a *app) flushFor(rec string) {
	if p := a.out.find(rec); p != nil && !p.timed {
		a.flush()
	}
}

// apply applies an event to the copy and returns the fields it changed. On
// a provider with a time or sequence a field older than the copy's is
// skipped (events may be reordered or resent); null fields are unchanged.
func (a *app) apply(e *event) mask {
	b := a.w.b
	r := a.recs[e.rec]
	if r == nil {
		r = &appRec{}
		a.recs[e.rec] = r
	}
	var changed mask
	for i, v := range e.vals {
		if v == "" || (b.Time && e.seq <= r.fseq[i]) {
			continue
		}
		if b.Time {
			r.fseq[i] = e.seq
		}
		if r.vals[i] != v {
			r.vals[i] = v
			changed |= 1 << i
		}
	}
	a.w.facts.received(e)
	if changed == 0 {
		a.w.logf("app applies %s: no change", e.label())
	} else {
		a.w.logf("app applies %s: now %s", e.label(), r.vals)
	}
	return changed
}

// writeBack pushes the record back after applying e, as the app's mode says.
func (a *app) writeBack(e *event, changed mask) {
	b := a.w.b
	var fields mask
	switch b.WriteBack {
	case WriteBackFull:
		fields = 1<<nF - 1
	case WriteBackChanged:
		fields = changed
	case WriteBackIfChanged:
		if changed != 0 {
			fields = 1<<nF - 1
		}
	}
	if fields == 0 {
		return
	}
	ch := chain{rootAt: e.at}
	if c := e.cause.write; c != nil {
		ch = c.chain
		ch.hops++
		if e.blind {
			ch.blind++
		}
	}
	why := "write-back of " + e.label()
	n := e.noise.child(99)
	if !b.AsyncWriteBack {
		a.send(a.composeBack(e, fields, ch, why, n))
		return
	}
	delay := time.Duration(n.rng().Int64N(int64(2 * time.Second)))
	if b.BatchWrites {
		if a.out.find(e.rec) == nil {
			// Pending in the outbox until its time (or an earlier flush),
			// with the copy's values then.
			aw := a.composeBack(e, fields, ch, why, n)
			aw.timed = true
			a.enqueue(aw, a.w.now.Add(delay))
			return
		}
		a.later(a.w.now.Add(delay), func() { a.send(a.composeBack(e, fields, ch, why, n)) })
		return
	}
	a.w.after(delay, func() { a.send(a.composeBack(e, fields, ch, why, n)) })
}

// answered: the app answered 2xx to a delivery (or a replay) whose kept
// events it applied.
func (a *app) answered(d *delivery, kept []*event) {
	a.w.judge.accept(d)
	for _, e := range kept {
		a.w.facts.learned(e)
	}
}

// compose builds a write of the copy's fields.
// composeBack composes the write-back of e.
func (a *app) composeBack(e *event, fields mask, ch chain, why string, n noise) *appWrite {
	aw := a.compose(e.rec, fields, ch, why, n)
	aw.back = e
	return aw
}

func (a *app) compose(rec string, fields mask, ch chain, why string, n noise) *appWrite {
	r := a.recs[rec]
	aw := &appWrite{rec: rec, method: "PATCH", path: "/v1/issues/" + rec, chain: ch, why: why, noise: n, fields: fields}
	if fields == 1<<nF-1 {
		aw.method = "PUT"
	}
	for i := range fieldNames {
		if fields.has(i) {
			aw.set[i] = r.vals[i]
		}
	}
	return aw
}

// edit is the app's own edit of a record: full (PUT) or partial (PATCH).
func (a *app) edit(rec string, set vals, full bool, step int, n noise) {
	r := a.recs[rec]
	var fields mask
	for i, v := range set {
		if v != "" {
			r.vals[i] = v
			fields |= 1 << i
		}
	}
	if full {
		fields = 1<<nF - 1
	}
	a.w.logf("step %d: app sets %s on %s", step, set, rec)
	a.send(a.compose(rec, fields, chain{rootAt: a.w.now}, "edit (step "+strconv.Itoa(step)+")", n))
}

// create is the app's create: POST without id, the id from the response.
func (a *app) create(set vals, step int, n noise) {
	a.w.logf("step %d: app creates a record %s", step, set)
	a.send(&appWrite{method: "POST", path: "/v1/issues", set: set, create: true, chain: chain{rootAt: a.w.now}, why: "create (step " + strconv.Itoa(step) + ")", noise: n})
}

// send sends a write: through the outbox when the app batches its writes
// of existing records, else at once.
func (a *app) send(aw *appWrite) {
	if a.w.b.BatchWrites && !aw.create {
		a.enqueue(aw, time.Time{})
		return
	}
	a.transmit(aw)
}

// number gives a write its number when it is first sent.
func (a *app) number(aw *appWrite) {
	if aw.n == 0 {
		a.writes++
		aw.n = a.writes
		a.w.facts.appWrites(aw)
	}
}

// transmit passes a write through the judge to the provider; a refused
// write (429) is retried once the refusal ends.
func (a *app) transmit(aw *appWrite) {
	a.number(aw)
	body := writeJSON(aw.set)
	ctype := "application/json"
	if a.w.b.FormContentType {
		ctype = "application/x-www-form-urlencoded"
	}
	out, hdr, until, ok := a.w.judge.write(aw, body, ctype)
	if !ok {
		a.w.logf("app %s w%d %s %s (%s): loopguard answers 429 until t=%s; retry then", aw.method, aw.n, aw.path, aw.set, aw.why, fmtDur(until.Sub(epoch)))
		a.later(until.Add(time.Second), func() { a.retry(aw) })
		return
	}
	status, resp := a.w.prov.write(aw, out, hdr)
	if aw.create && status == 200 {
		aw.rec = gjson.GetBytes(resp, "id").Str
		a.recs[aw.rec] = &appRec{vals: aw.set}
	}
	a.w.judge.wrote(aw, status, resp)
	a.w.logf("app %s w%d %s %s (%s, hops %d) -> %d; sent %s", aw.method, aw.n, aw.path, aw.set, aw.why, aw.chain.hops, status, out)
	if status == 400 {
		// The app gives up on a refused write (its copy keeps the edit).
		a.w.facts.violate("a", "write refused by the provider", "w%d: the provider refused the body loopguard sent (%s); the app sent %s", aw.n, out, body)
	}
}

// retry sends a refused write again, with the copy's current values of the
// fields it wrote (an outbox syncs the record's state, not an old request).
func (a *app) retry(aw *appWrite) {
	if r := a.recs[aw.rec]; r != nil && !aw.create {
		for i := range aw.set {
			if aw.set[i] != "" {
				aw.set[i] = r.vals[i]
			}
		}
	}
	aw.why += ", retried"
	a.send(aw)
}

// poll reads the provider's list through the judge (case 6) and applies
// the records that reach the app.
func (a *app) poll(step int) []verdict {
	body := a.w.prov.list()
	vs := a.w.judge.poll(body)
	a.w.logf("step %d: app polls the list", step)
	for i, r := range a.w.prov.recs {
		if i >= len(vs) {
			break
		}
		a.w.logf("loopguard %s polled %s (%s)", vs[i].action, r.id, vs[i].why)
		a.w.facts.polled(r, vs[i])
		if vs[i].action == Forward {
			a.apply(&event{rec: r.id, seq: r.ver, vals: r.vals, at: a.w.now}) // read, not written back
		}
	}
	return vs
}

// writeJSON renders the fields of a write body.
func writeJSON(v vals) []byte {
	b := []byte{'{'}
	for i, s := range v {
		if s == "" {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, fieldNames[i])
		b = append(b, ':')
		b = strconv.AppendQuote(b, s)
	}
	return append(b, '}')
}
