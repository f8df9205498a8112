package sim

import (
	"container/heap"
	"fmt"
)

// Config says how to run histories.
type Config struct {
	// Store builds each history's ledger; nil: ledger.Memory.
	Store StoreFactory
	// Oracle replaces loopguard by a judge that knows the ground truth
	// (drops exactly the echoes and redeliveries): the simulator's own
	// check — it must find no violation.
	Oracle bool
	// Trace keeps the readable trace of the run.
	Trace bool
	// Profiles caches the loaded profiles across runs; nil: load each time.
	Profiles *Profiles
}

// Result is what one history did.
type Result struct {
	History    History
	Violations []Violation
	Trace      []string
	Stats      Stats
	// Polls are loopguard's verdicts on polled records, in order.
	Polls []Polled
}

// Failed reports whether an invariant was violated.
func (r *Result) Failed() bool { return len(r.Violations) > 0 }

// Run plays a history and checks it. An error means the simulator could
// not start (a profile or store that does not build), never a violation.
func Run(h History, cfg Config) (*Result, error) {
	w := &world{h: &h, b: h.B, now: epoch, tracing: cfg.Trace, sentinels: map[string]string{}}
	w.facts = newFacts(w)
	w.prov = newProvider(w)
	w.app = newApp(w)
	for _, v := range h.Records {
		r := w.prov.add(v)
		w.facts.created(r)
		w.app.recs[r.id] = &appRec{vals: v}
		w.facts.synced(r)
		w.logf("start: %s on both sides", r)
	}
	var err error
	if cfg.Oracle {
		w.judge = newOracle(w)
	} else if w.judge, err = newLoopguard(w, cfg.Profiles, cfg.Store); err != nil {
		return nil, fmt.Errorf("sim: seed %d: %w", h.Seed, err)
	}
	defer w.judge.close()
	w.run()
	if err := w.facts.storeErr; err != nil {
		return nil, fmt.Errorf("sim: seed %d: the store failed, the history means nothing: %w", h.Seed, err)
	}
	w.facts.settled()
	return &Result{History: h, Violations: w.facts.viol, Trace: w.trace, Stats: w.facts.stats, Polls: w.facts.polls}, nil
}

// run plays the steps and lets the history settle.
func (w *world) run() {
	steps := w.h.Steps
	// The app's edits of several records at one instant (consecutive
	// steps, queued first, so they run back to back) are one moment for a
	// batching app's outbox.
	joins := func(i int) bool {
		return i > 0 && i < len(steps) && steps[i].Kind == AppEdit && steps[i-1].Kind == AppEdit && steps[i].At == steps[i-1].At && steps[i].Rec != steps[i-1].Rec
	}
	for i, s := range steps {
		w.at(epoch.Add(s.At), func() {
			if !joins(i) {
				w.app.hold()
			}
			w.step(i+1, s)
			if !joins(i + 1) {
				w.app.release()
			}
		})
	}
	for w.queue.Len() > 0 {
		t := heap.Pop(&w.queue).(task)
		w.now = t.at
		t.do()
		if w.steps++; w.steps > w.maxTasks() {
			w.facts.violate("c", "unsettled", "the history did not settle within %d tasks: a loop never stopped", w.maxTasks())
			return
		}
		w.scheduleRelease()
	}
}

// step performs one generated step.
func (w *world) step(i int, s Step) {
	p := w.prov
	who := personName(s.Who)
	r := p.rec(s.Rec)
	if r == nil && s.Kind != PersonCreate && s.Kind != AppCreate && s.Kind != AppPoll {
		w.logf("step %d: skipped (record #%d does not exist)", i, s.Rec+1)
		return
	}
	switch s.Kind {
	case PersonEdit:
		w.logf("step %d: %s sets %s on %s", i, who, s.Set, r.id)
		p.personEdit(s.Who, r, s.Set, "", false, i, s.Noise)
	case PersonUndo:
		h := r.hist[s.Field]
		if len(h) < 2 {
			w.logf("step %d: skipped (%s of %s never changed: nothing to undo)", i, fieldNames[s.Field], r.id)
			return
		}
		var set vals
		set[s.Field] = h[len(h)-2]
		w.logf("step %d: %s undoes %s on %s: back to %q", i, who, fieldNames[s.Field], r.id, set[s.Field])
		p.personEdit(s.Who, r, set, "", false, i, s.Noise)
	case PersonCreate, PersonDuplicate:
		set, sentinel := s.Set, ""
		if s.Kind == PersonDuplicate {
			set, sentinel = r.vals, r.sentinel
		}
		nr := p.add(vals{})
		w.facts.created(nr)
		w.logf("step %d: %s creates %s %s sentinel=%q", i, who, nr.id, set, sentinel)
		w.facts.personEdited(nr.id)
		p.apply(nr, set, sentinel, sentinel != "" && w.b.StoresSentinel, cause{person: s.Who, step: i}, true, "", s.Noise)
	case PersonPaste:
		src := p.rec(s.From)
		if src == nil || src == r {
			w.logf("step %d: skipped (nothing to paste)", i)
			return
		}
		set := src.vals
		if !s.Full {
			set = vals{} // only the sentinel: typed or copied alone
		}
		w.logf("step %d: %s pastes %s's values %s and sentinel %q over %s", i, who, src.id, set, src.sentinel, r.id)
		p.personEdit(s.Who, r, set, src.sentinel, src.sentinel != "", i, s.Noise)
	case AppEdit:
		if w.app.recs[r.id] == nil {
			w.logf("step %d: skipped (the app does not have %s)", i, r.id)
			return
		}
		w.app.edit(r.id, s.Set, s.Full, i, s.Noise)
	case AppCreate:
		w.app.create(s.Set, i, s.Noise)
	case AppPoll:
		w.app.poll(i)
	}
}

// deliver is one webhook delivery through the judge to the app.
func (w *world) deliver(evs []*event) {
	d := &delivery{events: evs, body: deliveryJSON(evs, w.b)}
	vs := w.judge.deliver(d)
	var kept []*event
	for i, e := range evs {
		w.logf("loopguard %s %s for %s (%s)", vs[i].action, e.label(), e.rec, vs[i].why)
		w.facts.decided(e, vs[i])
		if vs[i].action == Forward {
			kept = append(kept, e)
		}
	}
	w.app.hold() // write-backs inside the handler go out before it answers
	for _, e := range kept {
		w.app.receive(e)
	}
	w.app.release()
	if len(kept) > 0 {
		w.app.answered(d, kept)
	}
}
