package sim

import (
	"fmt"
	"strings"
	"time"
)

// Violation is one broken invariant.
type Violation struct {
	// Invariant is "a" convergence, "b" no genuine change dropped, "c"
	// loops bounded, "d" echoes dropped where the evidence is certain.
	Invariant string
	// Kind groups violations of one cause (shrinking keeps the kind).
	Kind string
	At   time.Duration
	Msg  string
}

func (v Violation) String() string {
	return fmt.Sprintf("(%s) %s at t=%s: %s", v.Invariant, v.Kind, fmtDur(v.At), v.Msg)
}

// Evidence is the strongest echo evidence an event carries.
type Evidence uint8

// Evidence kinds, strongest first.
const (
	EvActor    Evidence = iota // the integration user as actor
	EvMarker                   // our change-agent marker
	EvSentinel                 // our sentinel field
	EvLedger                   // none: the fingerprint and the ledger only
	nEvidence
)

func (k Evidence) String() string {
	return [...]string{"actor", "marker", "sentinel", "ledger only"}[k]
}

// EchoCount counts the echoes of one evidence kind by outcome.
type EchoCount struct{ Total, Dropped, Forwarded, Held int }

// Stats are a history's counters.
type Stats struct {
	Echoes         [nEvidence]EchoCount
	Events         int // events the provider emitted
	GenuineDropped int
	AppWrites      int
	Quarantines    int
	// NoopChanges counts app writes that changed no tracked value but
	// changed the record anyway (the stored sentinel, case 4).
	NoopChanges int
	// Batches counts the app's batch requests, BatchItems the records
	// they carried, BatchFailed the items the provider failed.
	Batches, BatchItems, BatchFailed int
}

// Add sums s2 into s.
func (s *Stats) Add(s2 Stats) {
	for i := range s.Echoes {
		e, e2 := &s.Echoes[i], s2.Echoes[i]
		e.Total, e.Dropped, e.Forwarded, e.Held = e.Total+e2.Total, e.Dropped+e2.Dropped, e.Forwarded+e2.Forwarded, e.Held+e2.Held
	}
	s.Events += s2.Events
	s.GenuineDropped += s2.GenuineDropped
	s.AppWrites += s2.AppWrites
	s.Quarantines += s2.Quarantines
	s.NoopChanges += s2.NoopChanges
	s.Batches += s2.Batches
	s.BatchItems += s2.BatchItems
	s.BatchFailed += s2.BatchFailed
}

// facts is the ground truth the invariants are checked against.
type facts struct {
	w     *world
	viol  []Violation
	stats Stats
	// known[rec][f] is the newest provider version of field f the app has
	// received, or written itself.
	known map[string]*[nF]int
	// edits are the times people edited each record; fwdEchoes the echoes
	// of the app's own writes that reached the app.
	edits     map[string][]time.Time
	fwdEchoes map[string][]fwdEcho
	polls     []Polled
	// lgLast is, per record, the last value loopguard learned for each
	// field: from events the app accepted and from the app's writes that
	// landed.
	lgLast map[string]*vals
	// landedWrites are the app's writes that reached the provider, per
	// record, in order.
	landedWrites map[string][]*appWrite
	// landedAt is when each landed write reached the provider;
	// receivedAt, per record, when the app got an event of it.
	landedAt   map[*appWrite]time.Time
	receivedAt map[string][]received
	// inflight are the events of the delivery being judged: one of them
	// may be the round trip that makes loopguard quarantine a record.
	inflight []*event
	// storeErr is the first store error: the ledger could not answer, so
	// the history says nothing about the decision model.
	storeErr error
}

func (f *facts) storeError(err error) {
	if f.storeErr == nil {
		f.storeErr = err
	}
}

// fwdEcho is an echo that reached the app: when, and the length of its
// chain (1: the echo of a write no echo caused).
type fwdEcho struct {
	at    time.Time
	chain int
}

func newFacts(w *world) *facts {
	return &facts{w: w, known: map[string]*[nF]int{}, edits: map[string][]time.Time{}, fwdEchoes: map[string][]fwdEcho{}, lgLast: map[string]*vals{}, landedWrites: map[string][]*appWrite{},
		landedAt: map[*appWrite]time.Time{}, receivedAt: map[string][]received{}}
}

// violate records a violation and traces it.
func (f *facts) violate(inv, kind, format string, args ...any) {
	v := Violation{Invariant: inv, Kind: kind, At: f.w.now.Sub(epoch), Msg: fmt.Sprintf(format, args...)}
	f.viol = append(f.viol, v)
	f.w.logf("VIOLATION (%s) %s: %s", inv, kind, v.Msg)
}

func (f *facts) knownOf(rec string) *[nF]int {
	k := f.known[rec]
	if k == nil {
		k = new([nF]int)
		f.known[rec] = k
	}
	return k
}

func (f *facts) created(r *provRec)      { f.knownOf(r.id) }
func (f *facts) synced(r *provRec)       { f.knownOf(r.id) }
func (f *facts) emitted(*event)          { f.stats.Events++ }
func (f *facts) personEdited(rec string) { f.edits[rec] = append(f.edits[rec], f.w.now) }

// received: the app got e (forwarded or replayed).
func (f *facts) received(e *event) {
	f.receivedAt[e.rec] = append(f.receivedAt[e.rec], received{at: f.w.now, seq: e.seq, vals: e.vals, person: e.cause.write == nil})
	k := f.knownOf(e.rec)
	for i, v := range e.vals {
		if v != "" {
			k[i] = max(k[i], e.seq)
		}
	}
}

// landed: the app's write reached the provider, whose record r is now at
// r.ver with the written values.
func (f *facts) landed(aw *appWrite, r *provRec) {
	f.landedWrites[r.id] = append(f.landedWrites[r.id], aw)
	f.landedAt[aw] = f.w.now
	k, last := f.knownOf(r.id), f.lastOf(r.id)
	for i, v := range aw.set {
		if v != "" {
			k[i] = max(k[i], r.ver)
			last[i] = v
		}
	}
}

// evidenceOf is the strongest evidence an echo carries.
func evidenceOf(e *event) Evidence {
	switch {
	case e.actor == "bot":
		return EvActor
	case e.marker == agent:
		return EvMarker
	case e.sentinel != "":
		return EvSentinel
	}
	return EvLedger
}

// decided checks loopguard's verdict about e: (b) a person's change is
// dropped only when the app already holds it or something newer, (d) an
// echo with certain evidence is dropped. The evidence table counts the
// echoes of writes outside loops (no forwarded echo caused them), so a
// runaway loop does not swamp the rates.
func (f *facts) decided(e *event, v verdict) {
	if c := e.cause.write; c != nil {
		k := evidenceOf(e)
		ec := &EchoCount{}
		if c.chain.hops == 0 {
			ec = &f.stats.Echoes[k]
		}
		ec.Total++
		switch v.action {
		case Drop:
			ec.Dropped++
			// The app holding the echo's values is at that version of
			// them, as for a dropped change (seed 2831).
			f.holdsAlready(e)
		case Hold:
			ec.Held++
		case Forward:
			ec.Forwarded++
			f.fwdEchoes[e.rec] = append(f.fwdEchoes[e.rec], fwdEcho{f.w.now, c.chain.hops + 1})
			e.blind = f.blind(e, k)
			if k == EvActor || k == EvMarker {
				f.violate("d", "echo with "+k.String()+" evidence forwarded", "%s (echo of w%d) carries the %s but was forwarded (%s)", e.label(), c.n, k, v.why)
			}
		}
		return
	}
	if e.cause.person != 0 && v.action == Forward && f.looksLikeEcho(e) {
		// To any judge this person's change is our write's echo: it
		// counts toward a quarantine as one (seed 296237).
		f.fwdEchoes[e.rec] = append(f.fwdEchoes[e.rec], fwdEcho{f.w.now, 1})
	}
	if e.cause.person == 0 || v.action != Drop {
		return
	}
	defer f.holdsAlready(e)
	if why := f.lost(e); why != "" {
		f.stats.GenuineDropped++
		f.violate("b", "genuine change dropped ("+v.why+")", "%s: %s's change %s of %s v%d dropped, but %s",
			e.label(), personName(e.cause.person), changedVals(e), e.rec, e.seq, why)
	}
}

// looksLikeEcho reports a person's event that carries exactly what a write
// of the app that landed on the record set — the person made the app's
// change at the same moment — and, for every other field, what loopguard
// learned: to any judge it is that write's echo.
func (f *facts) looksLikeEcho(e *event) bool {
	last := f.lastOf(e.rec)
	for _, aw := range f.landedWrites[e.rec] {
		same, touched := true, false
		for i, v := range e.vals {
			switch {
			case v == "":
			case aw.set[i] != "":
				touched = true
				same = same && aw.set[i] == v
			default:
				same = same && last[i] == v
			}
		}
		for i, v := range aw.set {
			same = same && (v == "" || e.vals[i] == "" || e.vals[i] == v)
		}
		if same && touched {
			return true
		}
	}
	return false
}

// holdsAlready: a dropped event whose values the app already holds left
// the app at that provider version of those fields (a later, reordered
// event older than it is then stale).
func (f *facts) holdsAlready(e *event) {
	a := f.w.app.recs[e.rec]
	if a == nil {
		return
	}
	k := f.knownOf(e.rec)
	for i, v := range e.vals {
		if v != "" && a.vals[i] == v {
			k[i] = max(k[i], e.seq)
		}
	}
}

func changedVals(e *event) vals {
	var v vals
	for i := range v {
		if e.changed.has(i) {
			v[i] = e.vals[i]
		}
	}
	return v
}

// lost says what of e's change the app lacks ("" when nothing): a field
// the person changed that the app holds neither as this value nor as a
// newer state it received or wrote.
func (f *facts) lost(e *event) string {
	a := f.w.app.recs[e.rec]
	if a == nil {
		if e.changed == 0 && !e.created {
			// A change that changed nothing carries nothing to lose; the
			// record itself comes with its create event (seed 59466).
			return ""
		}
		return "the app does not have " + e.rec
	}
	k := f.knownOf(e.rec)
	var miss []string
	for i := range fieldNames {
		if !e.changed.has(i) || a.vals[i] == e.vals[i] || k[i] >= e.seq {
			continue
		}
		miss = append(miss, fmt.Sprintf("the app holds %s=%q", fieldNames[i], a.vals[i]))
	}
	return strings.Join(miss, ", ")
}

// polled checks (b) for a record removed from a poll: the app must already
// hold every value a person gave it, or a newer state.
func (f *facts) polled(r *provRec, v verdict) {
	f.polls = append(f.polls, Polled{Rec: r.id, Action: v.action, Why: v.why})
	if v.action != Drop {
		return
	}
	a, k := f.w.app.recs[r.id], f.knownOf(r.id)
	for i := range fieldNames {
		if r.fperson[i] && (a == nil || a.vals[i] != r.vals[i]) && k[i] < r.fver[i] {
			f.stats.GenuineDropped++
			f.violate("b", "genuine change dropped from a poll ("+v.why+")", "%s removed from the poll, but the app lacks %s=%q", r.id, fieldNames[i], r.vals[i])
			return
		}
	}
}

// Polled is what loopguard did with one record of a poll.
type Polled struct {
	Rec    string
	Action Action
	Why    string
}

// raceWindow is how long before a chain's start a human edit still counts
// as racing with it: the longest an event can be under way, plus batching
// and an async write-back.
func (f *facts) raceWindow() time.Duration { return f.w.b.MaxDelay + 5*time.Second }

// appWrites checks (c) for each new write of the app: a write caused by a
// forwarded echo of an earlier write is allowed only as often as people
// raced with the chain (their change rode on the echo), or as the chain's
// echoes were blind (no judge could have told them from a person's change).
func (f *facts) appWrites(aw *appWrite) {
	f.stats.AppWrites++
	ch := aw.chain
	if ch.hops == 0 {
		return
	}
	raced := 0
	for _, t := range f.edits[aw.rec] {
		if !t.Before(ch.rootAt.Add(-f.raceWindow())) {
			raced++
		}
	}
	if ch.hops > raced+ch.blind {
		f.violate("c", "loop", "w%d (%s) to %s is write %d of a chain of echoes started at t=%s; only %d human edit(s) raced with it, %d echo(es) were blind",
			aw.n, aw.why, aw.rec, ch.hops+1, fmtDur(ch.rootAt.Sub(epoch)), raced, ch.blind)
	}
}

// blind reports an echo no judge could tell from a person's change: it
// carries no actor or marker, and a field the write did not set holds a
// value loopguard never learned for it (from an accepted event or a
// write) — a person may just have set it. A write response showing the
// record does not vouch for such a field: it shows a person's change made
// just before the write as well as the untouched rest (seed 2554).
// Forwarding it is right; the write-back it causes is excused.
func (f *facts) blind(e *event, k Evidence) bool {
	if k == EvActor || k == EvMarker {
		return false
	}
	if e.cause.write.stale || f.overtaking(e) || f.rebasedUnordered(e) || f.contradictedUnproven(e) {
		return true
	}
	last := f.lgLast[e.rec]
	for i, v := range e.vals {
		if v != "" && e.cause.write.set[i] == "" && (last == nil || last[i] != v) {
			return true
		}
	}
	return false
}

// overtaking reports an echo that may have overtaken the echo of a later
// write of the app that set one of its fields otherwise, on a provider
// that reorders events and whose write answers carry no time: to any
// judge it is that or a person's return to this write's value after the
// later write.
func (f *facts) overtaking(e *event) bool {
	b := f.w.b
	if !b.Reorder || (b.ResponseRecord && b.Time) {
		return false
	}
	w := e.cause.write
	for _, aw := range f.landedWrites[e.rec] {
		if aw.n <= w.n {
			continue
		}
		for i, v := range aw.set {
			if v != "" && e.vals[i] != "" && v != e.vals[i] {
				return true
			}
		}
	}
	return false
}

// unproven reports whether no value of set differs from one loopguard
// learned for the record (from events the app accepted and writes that
// landed).
func (f *facts) unproven(rec string, set vals) bool {
	last := f.lastOf(rec)
	for i, v := range set {
		if v != "" && last[i] != "" && last[i] != v {
			return false
		}
	}
	return true
}

// contradictedUnproven reports an echo of a write that, to any judge, may
// have changed nothing at the provider (unproven), after which, before the
// echo came, the app got a person's event setting one of its fields
// otherwise, on a provider without an event for every write: the write had
// no echo (the person's change replaced it) or lands after that change,
// and its echo and a person's return to its values are the same event.
func (f *facts) contradictedUnproven(e *event) bool {
	w := e.cause.write
	if !w.unproven || f.w.b.EveryWrite {
		return false
	}
	at, ok := f.landedAt[w]
	if !ok {
		return false
	}
	for _, r := range f.receivedAt[e.rec] {
		if !r.person || r.at.Before(at) {
			continue
		}
		for i, v := range w.set {
			if v != "" && r.vals[i] != "" && r.vals[i] != v {
				return true
			}
		}
	}
	return false
}

// received is an event of a record the app got: when, and its version.
type received struct {
	at     time.Time
	seq    int
	vals   vals
	person bool
}

// rebasedUnordered reports an echo of a write after which, before the echo
// came, the app got an event of the record with a time but possibly older
// than the write, on a provider that reorders events and whose write
// answers carry no time: whether the write came before or after that event
// is unknown to any judge, so its echo and a person's return to its state
// are the same.
func (f *facts) rebasedUnordered(e *event) bool {
	b := f.w.b
	if !b.Reorder || !b.Time || b.ResponseRecord {
		return false
	}
	at, ok := f.landedAt[e.cause.write]
	if !ok {
		return false
	}
	for _, r := range f.receivedAt[e.rec] {
		if !r.at.Before(at) && r.seq < e.seq {
			return true
		}
	}
	return false
}

// staleWriteBack reports a write-back that writes an event's values (as
// loopguard learned them) over a newer state of the provider: the event
// was overtaken by a change still on its way. To loopguard the write
// changes nothing — the app is handed those very values — and its echo
// is the same event as a person's return to them after the newer state,
// so no judge without the provider's order (a time, a sequence, a marker)
// can tell them apart: it is forwarded, and the write-back it causes is
// excused (the loop detector bounds the ping-pong).
//
// An edit of the app that writes only values loopguard knows it holds is
// the same write to any judge (a no-op, seed 183500): when the provider
// moved on meanwhile, it is stale as well.
func (f *facts) staleWriteBack(aw *appWrite, r *provRec, set vals) bool {
	last := f.lastOf(r.id)
	if aw.back == nil {
		changes := false
		for i, v := range set {
			if v == "" {
				continue
			}
			if last[i] != v {
				return false
			}
			changes = changes || r.vals[i] != v
		}
		return changes
	}
	changes := false
	for i, v := range set {
		if v == "" {
			continue
		}
		if bv := aw.back.vals[i]; bv != v && !(bv == "" && last[i] == v) {
			return false
		}
		changes = changes || r.vals[i] != v
	}
	return changes
}

// superseded: a held event is not replayed, a newer state of its record
// having replaced it at the app (Judge.Superseded): for a person's change,
// (b) as for a drop.
func (f *facts) superseded(e *event) {
	if e.cause.write != nil {
		return
	}
	f.decided(e, verdict{action: Drop, why: "loop/superseded"})
}

// replayed: a held event reaches the app now; an echo among them is
// judged blind or not as a forwarded one is (see decided).
func (f *facts) replayed(e *event) {
	if e.cause.write != nil {
		e.blind = f.blind(e, evidenceOf(e))
	}
}

// learned: loopguard recorded e as accepted by the app.
func (f *facts) learned(e *event) {
	last := f.lastOf(e.rec)
	for i, v := range e.vals {
		if v != "" {
			last[i] = v
		}
	}
}

// unlearned: the app's write of these fields of rec did not land; it keeps
// its own edit, so what loopguard knew the app held of them no longer
// holds (an echo carrying the provider's value of one is then blind).
func (f *facts) unlearned(rec string, names []string) {
	if rec == "" {
		return
	}
	last := f.lastOf(rec)
	for _, n := range names {
		for i, fn := range fieldNames {
			if fn == n {
				last[i] = ""
			}
		}
	}
}

func (f *facts) lastOf(rec string) *vals {
	l := f.lgLast[rec]
	if l == nil {
		l = new(vals)
		f.lgLast[rec] = l
	}
	return l
}

// quarantined checks (c) for a quarantine: only a real loop may quarantine
// a record — within the loop window an echo reached the app whose write
// was itself caused by an echo that reached the app (a chain of 2), or as
// many echoes of the app's own writes as the threshold reached the app
// (stale write-backs of several quick changes bounce side by side; people's
// edits never count).
func (f *facts) quarantined(rec string, window time.Duration, threshold int, reason string) {
	f.stats.Quarantines++
	n, chain := 0, 0
	for _, e := range f.fwdEchoes[rec] {
		if f.w.now.Sub(e.at) < window {
			n, chain = n+1, max(chain, e.chain)
		}
	}
	// The echo being judged is a round trip too: the one that reached the
	// threshold is held, not forwarded.
	for _, e := range f.inflight {
		if e.rec == rec && e.cause.write != nil {
			n, chain = n+1, max(chain, e.cause.write.chain.hops+1)
		}
	}
	f.w.logf("loopguard quarantines %s: %s", rec, reason)
	if chain < 2 && n < threshold {
		f.violate("c", "quarantine without a loop", "%s quarantined (%s) but no chain of echoes reached the app within %s (%d unchained echo(es))",
			rec, reason, window, n)
	}
}

// settled checks (a): app and provider agree on every record.
func (f *facts) settled() {
	for _, r := range f.w.prov.recs {
		a := f.w.app.recs[r.id]
		if a == nil {
			f.violate("a", "convergence", "the app never got %s %s", r.id, r.vals)
			continue
		}
		if a.vals != r.vals {
			f.violate("a", "convergence", "%s: provider %s, app %s", r.id, r.vals, a.vals)
		}
	}
}
