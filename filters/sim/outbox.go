package sim

import (
	"strconv"
	"strings"
	"time"
)

// The outbox of an app that batches its writes (Behaviour.BatchWrites):
// the writes of one moment — the write-backs of one webhook delivery made
// inside its handler, the app's edits of one instant, the retries of one
// refusal — and the asynchronous write-backs due while an earlier one
// waits go out together, as one batch request when they are of several
// records (a write alone goes out as the unbatched app sends it). A batch
// holds one write per record, so a record's writes keep their order: a
// second write of a record pending in the outbox first flushes it (or,
// when the pending one takes its values at the flush, goes alone now).

// outbox is the app's pending writes.
type outbox struct {
	items   []*appWrite // in order, one per record
	flushAt time.Time   // when a flush is scheduled (zero: none)
	held    int         // > 0: inside a handler or a step; flushed when it ends
}

func (o *outbox) find(rec string) *appWrite {
	for _, aw := range o.items {
		if aw.rec == rec {
			return aw
		}
	}
	return nil
}

// hold and release bracket a moment whose writes go out together.
func (a *app) hold() { a.out.held++ }

func (a *app) release() {
	a.out.held--
	if a.out.held > 0 {
		return
	}
	for _, aw := range a.out.items {
		if !aw.timed {
			a.flush()
			return
		}
	}
}

// later runs fn at t as one moment.
func (a *app) later(t time.Time, fn func()) {
	a.w.at(t, func() {
		a.hold()
		fn()
		a.release()
	})
}

// enqueue adds a write to the outbox: immediate (due zero: flushed when
// the moment ends) or timed (flushed at due at the latest, its values
// read from the copy then).
func (a *app) enqueue(aw *appWrite, due time.Time) {
	o := &a.out
	if p := o.find(aw.rec); p != nil {
		if p.timed {
			// The pending write takes the copy's values when it goes: this
			// one, composed now, goes first, as it would unbatched.
			a.transmit(aw)
			return
		}
		a.flush()
	}
	o.items = append(o.items, aw)
	at := due
	if at.IsZero() {
		if o.held > 0 {
			return
		}
		at = a.w.now
	}
	if o.flushAt.IsZero() || at.Before(o.flushAt) {
		o.flushAt = at
		a.w.at(at, func() {
			if a.out.flushAt.Equal(at) {
				a.flush()
			}
		})
	}
}

// flush sends every pending write: one alone as a single write, several
// as one batch.
func (a *app) flush() {
	o := &a.out
	items := o.items
	o.items, o.flushAt = nil, time.Time{}
	for _, aw := range items {
		if aw.timed {
			aw.timed = false
			if r := a.recs[aw.rec]; r != nil {
				for i := range aw.set {
					if aw.fields.has(i) {
						aw.set[i] = r.vals[i]
					}
				}
			}
		}
	}
	switch len(items) {
	case 0:
	case 1:
		a.transmit(items[0])
	default:
		a.sendBatch(items)
	}
}

const batchPath = "/v1/issues/batch"

// sendBatch sends writes of several records as one batch request. A
// refused batch (429) is retried whole once the refusal ends; an item the
// provider failed is retried alone a second later.
func (a *app) sendBatch(ws []*appWrite) {
	a.batches++
	ab := &appBatch{n: a.batches, writes: ws}
	for _, aw := range ws {
		a.number(aw)
	}
	st := &a.w.facts.stats
	st.Batches++
	st.BatchItems += len(ws)
	body := batchJSON(ws)
	ctype := "application/json"
	if a.w.b.FormContentType {
		ctype = "application/x-www-form-urlencoded"
	}
	out, hdr, until, ok := a.w.judge.writeBatch(ab, body, ctype)
	if !ok {
		a.w.logf("app POST b%d %s %s: loopguard answers 429 until t=%s; retry then", ab.n, batchPath, batchString(ws), fmtDur(until.Sub(epoch)))
		a.later(until.Add(time.Second), func() {
			for _, aw := range ws {
				a.retry(aw)
			}
		})
		return
	}
	status, resp, failed := a.w.prov.writeBatch(ab, out, hdr)
	a.w.judge.wroteBatch(ab, status, resp)
	a.w.logf("app POST b%d %s %s -> %d; sent %s", ab.n, batchPath, batchString(ws), status, out)
	if status == 400 {
		a.w.facts.violate("a", "write refused by the provider", "b%d: the provider refused the batch loopguard sent (%s); the app sent %s", ab.n, out, body)
		return
	}
	st.BatchFailed += len(failed)
	for _, i := range failed {
		aw := ws[i]
		a.w.logf("provider fails w%d (%s) in b%d: not applied; the app retries it in 1s", aw.n, aw.rec, ab.n)
		a.later(a.w.now.Add(time.Second), func() { a.retry(aw) })
	}
}

// batchJSON renders a batch request: {"inputs":[{"id":…,"fields":{…}}…]}.
func batchJSON(ws []*appWrite) []byte {
	b := []byte(`{"inputs":[`)
	for i, aw := range ws {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendQuote(b, aw.rec)
		b = append(b, `,"fields":`...)
		b = append(b, writeJSON(aw.set)...)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

func batchString(ws []*appWrite) string {
	parts := make([]string, len(ws))
	for i, aw := range ws {
		parts[i] = "w" + strconv.Itoa(aw.n) + " " + aw.rec + " " + aw.set.String() + " (" + aw.why + ", hops " + strconv.Itoa(aw.chain.hops) + ")"
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
