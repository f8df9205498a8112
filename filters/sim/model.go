// Package sim is a deterministic simulator of a two-way sync: a provider
// (an issue tracker with webhooks), an app that mirrors its records and
// writes back naively, people editing records on the provider, and
// loopguard's real judgement in between (the judgement step filters.Judge
// with its decision engine and ledger, the guard with its loop detector
// and account breakers, the hold and its replay). Everything follows from
// one seed: a virtual clock drives every component, there are no
// goroutines, no wall time and no network.
//
// A History is a behaviour of the provider and the app plus a list of steps
// (people's edits, the app's edits). Run plays it, lets it settle and checks
// the invariants (check.go): convergence, no genuine change dropped, loops
// bounded, echoes dropped where the evidence is certain. A failing history
// shrinks to a short readable trace (shrink.go, report.go).
//
// Every call into loopguard is in the adapter, loopguard*.go; oracle.go is
// a judge that knows the ground truth, used to show the simulator itself
// converges.
package sim

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Tracked fields, sorted by name (as the fingerprint sorts them).
var fieldNames = [nF]string{"assignee", "description", "priority", "state", "title"}

const nF = 5

// vals are a record's tracked values by field index; "" is absent (in an
// event: null, unchanged).
type vals [nF]string

func (v vals) String() string {
	var b strings.Builder
	for i, s := range v {
		if s == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%q", fieldNames[i], s)
	}
	return "{" + b.String() + "}"
}

// mask is a set of field indexes.
type mask uint8

func (m mask) has(i int) bool { return m&(1<<i) != 0 }

// epoch is the virtual clock's start.
var epoch = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// noise is a per-cause random stream: each step carries its own, and what a
// step causes derives its noise from it, so removing one step while
// shrinking does not change the delays of the others.
type noise uint64

func (n noise) child(k uint64) noise {
	z := uint64(n) + (k+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return noise(z ^ (z >> 31))
}

func (n noise) rng() *rand.Rand { return rand.New(rand.NewPCG(uint64(n), 0x51e)) }

// cause is the ground truth of a change: who made it.
type cause struct {
	person int       // person#n (1-based); 0: the app
	write  *appWrite // the app's write, when person == 0
	step   int       // the step that started it (1-based; 0: none)
}

func (c cause) String() string {
	if c.person > 0 {
		return fmt.Sprintf("%s, step %d", personName(c.person), c.step)
	}
	if c.write != nil {
		return fmt.Sprintf("app write w%d", c.write.n)
	}
	return "setup"
}

// event is one webhook event the provider emits.
type event struct {
	n        int    // simulator's number (e7), also the provider's id "ev7"
	id       string // provider event id; "" when the provider has none
	rec      string
	seq      int // provider sequence of the record state it carries
	at       time.Time
	vals     vals // "" = null (unchanged, on null-unchanged providers)
	sentinel string
	actor    string
	marker   string
	created  bool
	cause    cause
	changed  mask // fields the change really changed
	noise    noise
	resent   int  // 0: first delivery; n: n-th redelivery
	blind    bool // forwarded although no judge could tell it from a person's change
}

func (e *event) label() string {
	if e.n == 0 {
		return "the polled record"
	}
	s := fmt.Sprintf("e%d", e.n)
	if e.resent > 0 {
		s += fmt.Sprintf("(resent %d", e.resent)
		if e.id == "" {
			s += ", no id"
		}
		s += ")"
	}
	return s
}

// delivery is one webhook request: one event, or a batch.
type delivery struct {
	events []*event
	body   []byte
	judged any // the judge's per-delivery state between deliver and accept
	// superseded are held events a release did not replay (a newer whole
	// state of their record replaced them).
	superseded []*event
}

// chain is what led to an app write: the forwarded echoes before it (0 for
// an edit or the write-back of a person's change), how many of them no
// judge could have told from a person's change (blind), and when it began.
type chain struct {
	hops, blind int
	rootAt      time.Time
}

// appWrite is one write the app sends.
type appWrite struct {
	n      int
	rec    string // "" for a create until the response names it
	method string
	path   string
	set    vals // the written fields
	create bool
	chain  chain
	why    string
	noise  noise
	judged any // the judge's state between write and wrote
	// fields are the copy's fields the write carries; timed: a pending
	// write of a batching app, whose values are read from the copy when
	// its outbox is flushed (as the unbatched app composes at send time).
	fields mask
	timed  bool
	// back is the event this write writes back (nil: an edit); stale: it
	// wrote that event's values back over a newer state of the provider
	// (the event was overtaken by a change still under way) — see
	// facts.blind.
	back  *event
	stale bool
	// unproven: no written value differed from one loopguard knew the app
	// held: to any judge the write may have changed nothing at the
	// provider (see facts.contradictedUnproven).
	unproven bool
	tries    int // batch attempts (the provider fails an item only on its first)
}

// appBatch is one batch request of the app (Behaviour.BatchWrites): the
// writes of several records, one each, in request order.
type appBatch struct {
	n      int
	writes []*appWrite
	judged any // the judge's state between writeBatch and wroteBatch
}

// Action is what loopguard did with an event.
type Action uint8

// Actions.
const (
	Forward Action = iota
	Drop
	Hold
)

func (a Action) String() string { return [...]string{"forwards", "drops", "holds"}[a] }

// verdict is the judge's decision about one event.
type verdict struct {
	action Action
	why    string // "layer/reason"
}

// judge stands where loopguard stands: between the app's writes and the
// provider, and between the provider's deliveries and the app.
type judge interface {
	// write passes one of the app's writes: the body and headers to send,
	// or ok false with the time until which it is refused (429).
	write(w *appWrite, body []byte, ctype string) (out []byte, hdr map[string]string, until time.Time, ok bool)
	// wrote is told the provider's answer.
	wrote(w *appWrite, status int, resp []byte)
	// writeBatch and wroteBatch are write and wrote for a batch request.
	writeBatch(b *appBatch, body []byte, ctype string) (out []byte, hdr map[string]string, until time.Time, ok bool)
	wroteBatch(b *appBatch, status int, resp []byte)
	// deliver decides every event of a delivery, in order.
	deliver(d *delivery) []verdict
	// accept is called once the app answered 2xx for the forwarded events.
	accept(d *delivery)
	// release returns the held events that may be replayed now, in order,
	// as one replay (nil: none); accept is called once the app took it.
	release() *delivery
	// nextRelease is when held events may next become ready (zero: none held).
	nextRelease() time.Time
	// poll filters a polled list (case 6): the verdict per record.
	poll(body []byte) []verdict
	close()
}

// task is something scheduled on the virtual clock.
type task struct {
	at time.Time
	n  int
	do func()
}

type tasks []task

func (q tasks) Len() int { return len(q) }
func (q tasks) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].n < q[j].n
}
func (q tasks) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *tasks) Push(x any)   { *q = append(*q, x.(task)) }
func (q *tasks) Pop() any {
	old := *q
	t := old[len(old)-1]
	*q = old[:len(old)-1]
	return t
}

// world is one running history.
type world struct {
	h       *History
	b       Behaviour
	now     time.Time
	queue   tasks
	tn      int
	prov    *provider
	app     *app
	judge   judge
	facts   *facts
	trace   []string // nil unless tracing
	tracing bool
	steps   int       // tasks run
	relAt   time.Time // when a release of held events is scheduled
	// sentinels are the trace's names of sentinel values (redact).
	sentinels map[string]string
}

func (w *world) at(t time.Time, do func()) {
	if t.Before(w.now) {
		t = w.now
	}
	w.tn++
	heap.Push(&w.queue, task{at: t, n: w.tn, do: do})
}

func (w *world) after(d time.Duration, do func()) { w.at(w.now.Add(d), do) }

func (w *world) clock() time.Time { return w.now }

// logf adds a line to the trace (when tracing).
func (w *world) logf(format string, args ...any) {
	if !w.tracing {
		return
	}
	w.trace = append(w.trace, fmt.Sprintf("t=%-8s ", fmtDur(w.now.Sub(epoch)))+w.redact(fmt.Sprintf(format, args...)))
}

// redact names each of loopguard's sentinels S1, S2, … in the order they
// first appear: a sentinel carries a random nonce, which would make two
// runs of one seed read differently while every decision is the same.
func (w *world) redact(s string) string {
	const n = len(agent) + 1 + 16 + 1 + 16 // "<agent>:<nonce>.<mac>"
	for from := 0; ; {
		i := strings.Index(s[from:], agent+":")
		if i < 0 || from+i+n > len(s) {
			return s
		}
		i += from
		v := s[i : i+n]
		if strings.Trim(v[len(agent)+1:], "0123456789abcdef.") != "" {
			from = i + 1
			continue
		}
		l, ok := w.sentinels[v]
		if !ok {
			l = fmt.Sprintf("S%d", len(w.sentinels)+1)
			w.sentinels[v] = l
		}
		s = s[:i] + l + s[i+n:]
		from = i + len(l)
	}
}

func fmtDur(d time.Duration) string {
	if d%time.Second == 0 {
		return d.String()
	}
	return d.Round(time.Millisecond).String()
}

// maxTasks bounds a history: more means it never settles (a loop). Under
// the oracle no generated history takes more than 137 tasks, or 5.8 per
// step (measured over 5,000 seeds); the bound is about four times that.
func (w *world) maxTasks() int { return 300 + 25*len(w.h.Steps) }

// scheduleRelease makes sure held events are replayed when they become
// ready (the proxy's replay loop, without its one-second tick).
func (w *world) scheduleRelease() {
	next := w.judge.nextRelease()
	if next.IsZero() || (!w.relAt.IsZero() && !next.Before(w.relAt)) {
		return
	}
	w.relAt = next
	w.at(next, func() {
		w.relAt = time.Time{}
		if d := w.judge.release(); d != nil {
			w.app.hold()
			for _, e := range d.events {
				w.app.flushFor(e.rec)
				w.logf("loopguard replays held %s to the app", e.label())
				w.facts.replayed(e)
				w.app.receive(e)
			}
			for _, e := range d.superseded {
				w.facts.superseded(e)
			}
			w.app.release()
			if len(d.events) > 0 {
				w.app.answered(d, d.events)
			}
		}
	})
}
