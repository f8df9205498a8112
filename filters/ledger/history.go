package ledger

import (
	"slices"
	"strings"
	"time"
)

// MaxWrites is how many of our unsettled writes a record's history keeps;
// past it the oldest is forgotten (its echo is then judged as any event).
const MaxWrites = 8

// State is what the ledger knows of one record: an ordered history.
//
//   - Writes are our writes not yet settled, oldest first. Each carries the
//     state the record is expected to have right after it.
//   - App is what the app holds, field by field, as far as loopguard knows:
//     the result of applying, in order, our writes and the events the app
//     accepted. Each value keeps the provider's time (or sequence) of the
//     state it came from, when known.
//
// An event is our echo only when its values equal the expected state of an
// unsettled write (State.Match); a value equal to something superseded is a
// change. See ApplyWrite and ApplyAccept for how the history moves.
type State struct {
	Writes []Version
	App    []Value
	// LastWrite is when we last wrote the record (local clock; zero: never
	// or expired).
	LastWrite time.Time
	// LastSeen is when the app last accepted a genuine state (local clock).
	LastSeen time.Time
	// NextSeq numbers the next write (sequence numbers start at 1).
	NextSeq uint32
}

// Version is one of our writes.
type Version struct {
	// Seq orders the record's writes (1, 2, …).
	Seq uint32
	// At is when the write was recorded (local clock).
	At time.Time
	// Expected is the tracked state the record should have right after the
	// write, sorted by name: the write response's record when the API
	// returns one, else the written fields over the last known state.
	Expected []Field
	// Written has bit i set when Expected[i] was in the write's own body
	// (all bits when the record has more than 64 tracked fields).
	Written uint64
	// NoOp: the expected state equalled what the app already held — a
	// write that changes nothing. It is never matched (see Match); it is
	// kept only so that its exact echo still counts as a round trip of
	// ours for the loop detector (see Reflects).
	NoOp bool
	// Nonce and FP are the write's sentinel: a random nonce and the
	// fingerprint of the written fields (zero: no sentinel).
	Nonce, FP uint64
	// Created: the write created the record (its sentinel was stamped
	// before the id existed).
	Created bool
	// Shown: the write's response showed the record, so Expected is the
	// provider's own account of the state after the write.
	Shown bool
	// ProviderAt is the provider's time or version of the written state,
	// from the response (0: unknown). An event at another time is not its
	// echo: the echo carries the state's own time (an older event is a
	// state before the write, a newer one a state after it, such as a
	// person's return to its values; seed 54164).
	ProviderAt int64
	// Rebased: a genuine event with a provider time was accepted after the
	// write, and the write's own time is unknown (see rebase). On a
	// provider that delivers out of order the write may as well be older
	// or newer than that event, so a timed event is not matched against
	// the write's state: it is the write's echo or a person's return to
	// its values after that event (simulator seeds 18140, 51161).
	Rebased bool
	// Contradicted: a genuine event accepted after the write, on a
	// provider that does not send an event for every write, carried
	// another value of a field the write set. Events come in order, so the
	// write either changed nothing there (no echo will come: the event
	// replaced its state) or lands after the event (its echo is on its
	// way): a later event with its values is that echo or a person's
	// return to them, and is not matched by values alone (simulator seeds
	// 219549, 223695, 250342: a person's undo back to a write the provider
	// sent no event for was dropped).
	Contradicted bool
	// Unproven: nothing the ledger knew says the write changed anything
	// at the provider (no written value differed from a value the app was
	// known to hold, and the response showed no change): on a provider
	// that sends events only on a real change it may have no echo at all.
	// A write known to change something has an echo, in order, so a
	// genuine event contradicting it is older than that echo and marks
	// nothing (see Contradicted).
	Unproven bool
}

// Value is what the app holds of one tracked field.
type Value struct {
	Name string
	Hash uint64
	// At is the provider's time or sequence of this state (0: unknown).
	At int64
}

// Write is a write of ours the upstream accepted.
type Write struct {
	// Fields are the written tracked fields, sorted by name.
	Fields []Field
	// Response are the tracked fields of the record in the write's
	// response, sorted by name (nil: the response has no record).
	Response []Field
	// At is when the write was accepted (local clock).
	At time.Time
	// ProviderAt is the provider's time or version of the written state,
	// from the response (0: unknown).
	ProviderAt int64
	// Nonce and FP identify the write's sentinel (zero: none).
	Nonce, FP uint64
	// Created: the write was a create.
	Created bool
	// NoOp: the caller knows the write changes nothing (its values are
	// what the app holds or is being handed right now).
	NoOp bool
	// Unsent: the write did not land (loopguard answered it locally, or
	// the API refused or failed it). It joins no history; the app holds
	// its own values of the fields it wrote, which loopguard does not
	// know, so they are forgotten (see ApplyWrite).
	Unsent bool
}

// Accept is what the app now holds after an event.
type Accept struct {
	// Fields are the event's tracked values, sorted by name.
	Fields []Field
	// At is when the event was received (local clock): writes recorded
	// after it (the app's write-back of the event) are not settled by it.
	At time.Time
	// ProviderAt is the event's provider time or sequence (0: unknown).
	ProviderAt int64
	// Settle is the Seq of the write this event was the echo of; 0 for a
	// genuine event the app accepted.
	Settle uint32
	// Upto is NextSeq+1 when the event was decided: writes numbered Upto
	// or higher were recorded after it (the app's write-back of this very
	// event, made before it answered) and are neither settled nor
	// forgotten by it. 0: unknown (At decides).
	Upto uint32
	// Shows is the Seq of our write whose sentinel the genuine event
	// carries (verified by the caller): the event is a state at or after
	// that write, so it and every earlier write are settled (0: none).
	Shows uint32
	// EveryWrite: the event's provider sends an event for every write, in
	// order (the route's every_write). A genuine event showing our writes
	// applied then settles the oldest it shows, not the newest: a later
	// write's own echo is still to come (an event before it can show its
	// values when that write changed nothing there; seed 176302).
	EveryWrite bool
}

// Known reports whether the state holds anything.
func (st *State) Known() bool { return len(st.Writes) > 0 || len(st.App) > 0 }

// Reset empties st, keeping its slices for reuse.
func (st *State) Reset() {
	st.Writes, st.App = st.Writes[:0], st.App[:0]
	st.LastWrite, st.LastSeen, st.NextSeq = time.Time{}, time.Time{}, 0
}

// AppValue returns what the app holds of a field.
func (st *State) AppValue(name string) (*Value, bool) {
	i, ok := slices.BinarySearchFunc(st.App, name, func(v Value, n string) int { return strings.Compare(v.Name, n) })
	if !ok {
		return nil, false
	}
	return &st.App[i], true
}

// Holds reports whether every field of fs equals what the app holds.
func (st *State) Holds(fs []Field) bool {
	if len(fs) == 0 {
		return false
	}
	for _, f := range fs {
		v, ok := st.AppValue(f.Name)
		if !ok || v.Hash != f.Hash {
			return false
		}
	}
	return true
}

// Match returns the index in Writes of the oldest write recorded at or
// after since (the echo window; zero: any) whose expected state holds
// every value of fs, or -1; a write that changed something is preferred
// over a no-op one. A write that changed nothing is matched only once a
// later write of ours changed something (see movedAfter): strict APIs send
// no event for it, and its echo on the others carries what the app already
// holds (see Holds) — so it cannot turn a later genuine event, such as a
// person's return to those values, into an "echo". Where both times are
// known, an event at another time (at) than the write's state is not its echo, nor
// is one newer than the state a later write of ours left (see
// newerThanLater).
//
// A value the write did not itself write (it came from the write's
// response, or the write never knew the field) must also be one the app
// is known to hold (see news): a response shows a provider-side change (an
// automation, a person's edit just before ours) exactly as it shows the
// untouched rest, and an event carrying such a value may be that change —
// news for the app, not an echo.
func (st *State) Match(fs []Field, at int64, since time.Time) int {
	return st.MatchWith(fs, at, since, MatchOpts{})
}

// MatchChange is Match for an event whose values are only the fields that
// changed (null for the rest, a change list): a write that changed nothing
// has no such echo, so it is never matched.
func (st *State) MatchChange(fs []Field, at int64, since time.Time) int {
	return st.MatchWith(fs, at, since, MatchOpts{Changes: true})
}

// MatchOpts say what is known of the event's provider (see MatchWith).
type MatchOpts struct {
	// Changes: the event's values are only the fields that changed, so a
	// write that changed nothing has no such echo.
	Changes bool
	// Unordered: the provider may deliver events out of order (see
	// overwrittenUntimed).
	Unordered bool
	// EveryWrite: the provider sends an event for every write it
	// accepts, so a write that changed nothing has an echo as well. In
	// order, it is matched like the others, oldest first; out of order,
	// only once a later write of ours changed something (its echo may then
	// still be on its way). Without it a write that changed nothing is
	// never matched: an API that sends nothing for it would make a
	// person's later return to those values its "echo" (seed 166522). An
	// event of changed fields only never matches it.
	EveryWrite bool
}

// MatchWith is Match with what is known of the event's provider.
func (st *State) MatchWith(fs []Field, at int64, since time.Time, o MatchOpts) int {
	if len(fs) == 0 {
		return -1
	}
	// An event of changed fields only never matches a write that changed
	// nothing for the app — unless the provider sends an event for every
	// write, in order: such a write that changed something there (a stale
	// write-back) has that echo, and one that changed nothing there was
	// settled by its all-unchanged echo (seed 170910).
	noops := !o.Changes || (o.EveryWrite && !o.Unordered)
	// A write that changed something first: an event carrying few fields
	// (null for unchanged ones) also fits the no-op writes around it.
	noop := -1
	skip := func(i int) bool {
		w := &st.Writes[i]
		return (w.NoOp && (!noops || noop >= 0 || !o.EveryWrite || (o.Unordered && !st.movedAfter(i)))) || w.Contradicted || st.Unplaced(i, fs, at, o) || w.At.Before(since)
	}
	for i := range st.Writes {
		if skip(i) {
			continue
		}
		if st.expects(i, fs) && !st.news(i, fs) {
			if !st.Writes[i].NoOp {
				return st.earliestEcho(i, fs, o, skip)
			}
			if o.EveryWrite && !o.Unordered {
				return i
			}
			noop = i
		}
	}
	return noop
}

// Unplaced reports whether the provider's times or order say that an event
// at provider time at, with values fs, is not write i's echo, or cannot
// say whether it is: its time is not the write's own, or is newer than a
// later write's state (newerThanLater); or, on a provider that delivers
// out of order, a later write of ours of unknown time set one of its
// fields otherwise (overwrittenUntimed), or a timed genuine event was
// accepted after the write, whose own time is unknown (Rebased). The same
// rules hold for an event carrying the write's stored sentinel: it rides
// along on later states of the record (simulator seed 141390).
func (st *State) Unplaced(i int, fs []Field, at int64, o MatchOpts) bool {
	w := &st.Writes[i]
	return (at != 0 && w.ProviderAt != 0 && at != w.ProviderAt) || st.newerThanLater(i, at) ||
		(o.Unordered && (st.overwrittenUntimed(i, fs, at) || (at != 0 && w.Rebased && w.ProviderAt == 0)))
}

// earliestEcho returns, on a provider with an event for every write (in
// order), the oldest unsettled write before k whose expected state the
// event fits, fields it did not know aside, or k: that write's echo comes
// before k's, and it is still unsettled, so the event is its echo — its
// fields that write never knew (a record loopguard had not seen, or whose
// values a refused write made it forget) are what the provider held then.
// Taking it for k's would settle both, and k's own echo would then look
// new (simulator seed 62346).
func (st *State) earliestEcho(k int, fs []Field, o MatchOpts, skip func(int) bool) int {
	if !o.EveryWrite || o.Unordered {
		return k
	}
	for j := 0; j < k; j++ {
		if !skip(j) && !st.Writes[j].NoOp && st.expects(j, fs) {
			return j
		}
	}
	return k
}

// newerThanLater reports whether an event at provider time at is newer than
// the state a later write of ours produced (both times known): write i's
// echo carries i's own time, which is older than the later write's, so the
// event is a state after both — a person's change, not i's echo.
func (st *State) newerThanLater(i int, at int64) bool {
	if at == 0 {
		return false
	}
	for k := i + 1; k < len(st.Writes); k++ {
		if p := st.Writes[k].ProviderAt; p != 0 && at > p {
			return true
		}
	}
	return false
}

// overwrittenUntimed reports whether a later write of ours, whose provider
// time is unknown, set a field of fs to another value, while the event has
// a time and its provider may deliver out of order: the event is write i's
// echo overtaking the later write's, or a person's return to i's value
// after the later write — nothing tells them apart, so it is not taken for
// i's echo (simulator seed 11849). In order, i's echo comes first.
func (st *State) overwrittenUntimed(i int, fs []Field, at int64) bool {
	if at == 0 {
		return false
	}
	for k := i + 1; k < len(st.Writes); k++ {
		w := &st.Writes[k]
		if w.ProviderAt != 0 || w.NoOp {
			continue
		}
		for _, f := range fs {
			if w.wrote(f.Name) && !w.expects(f) {
				return true
			}
		}
	}
	return false
}

// movedAfter reports whether a write after write i changed something: the
// record moved on from i's state by our hand, and i's echo (on an API that
// sends one for every write) may still be on its way ahead of that
// write's. Events arrive in the provider's order where they carry no time,
// so a person's return to i's state comes after the later write's echo,
// which settles i.
func (st *State) movedAfter(i int) bool {
	for k := i + 1; k < len(st.Writes); k++ {
		if !st.Writes[k].NoOp {
			return true
		}
	}
	return false
}

// news reports whether a value of fs that write i did not write differs
// from what the app holds, or is one the app is not known to hold — unless
// a later write of ours that changed something wrote the app's value of
// that field: then the app's value is ours, and the event's is the state
// between the two writes. (A later no-op write wrote back what the app
// already held, from a genuine event: it vouches for nothing.)
func (st *State) news(i int, fs []Field) bool {
	for _, f := range fs {
		if st.Writes[i].wrote(f.Name) {
			continue
		}
		v, ok := st.AppValue(f.Name)
		if !ok {
			// Only the write's response vouches for this value, and a
			// response shows a person's change made just before ours as
			// well as the untouched rest: not proof the app holds it.
			return true
		}
		if v.Hash == f.Hash {
			continue
		}
		if !st.Writes[i].expects(f) {
			// Write i did not know the field (a partial write of a record
			// loopguard had not seen): its value between i and the later
			// write that set the app's is unknown — a person's change
			// after that write carries it just the same (seed 8951).
			return true
		}
		later := false
		for k := i + 1; k < len(st.Writes) && !later; k++ {
			w := &st.Writes[k]
			later = !w.NoOp && w.wrote(f.Name) && w.expects(Field{Name: f.Name, Hash: v.Hash})
		}
		if !later {
			return true
		}
	}
	return false
}

// expects reports whether the write's expected state has f.
func (w *Version) expects(f Field) bool {
	i, ok := findField(w.Expected, f.Name)
	return ok && w.Expected[i].Hash == f.Hash
}

// wrote reports whether the write's own body set the field.
func (w *Version) wrote(name string) bool {
	j, ok := findField(w.Expected, name)
	return ok && w.Written&(1<<min(j, 63)) != 0
}

// expects is Expects for write i, where a field the write's state does not
// know (a partial write of a record loopguard had not seen) is accepted
// when a later write of ours wrote it: whatever it was, we overwrote it.
func (st *State) expects(i int, fs []Field) bool {
	w := &st.Writes[i]
	for _, f := range fs {
		j, ok := findField(w.Expected, f.Name)
		if ok {
			if w.Expected[j].Hash != f.Hash {
				return false
			}
			continue
		}
		later := false
		for k := i + 1; k < len(st.Writes) && !later; k++ {
			later = st.Writes[k].wrote(f.Name)
		}
		if !later {
			return false
		}
	}
	return true
}

// Expects reports whether every value of fs equals the write's expected
// state.
func (w *Version) Expects(fs []Field) bool {
	for _, f := range fs {
		i, ok := findField(w.Expected, f.Name)
		if !ok || w.Expected[i].Hash != f.Hash {
			return false
		}
	}
	return true
}

// Reflects returns the index of the newest write whose own written fields
// all appear in fs with the written values (the event shows the write was
// applied, whatever else changed), or -1. A write that changed nothing
// counts only when fs is exactly its state: every later event "shows" it.
func (st *State) Reflects(fs []Field) int {
	for i := len(st.Writes) - 1; i >= 0; i-- {
		if st.reflected(&st.Writes[i], fs) {
			return i
		}
	}
	return -1
}

func (st *State) reflected(w *Version, fs []Field) bool {
	if w.NoOp {
		return w.Expects(fs)
	}
	any := false
	for j, e := range w.Expected {
		if w.Written&(1<<min(j, 63)) == 0 {
			continue
		}
		any = true
		k, found := findField(fs, e.Name)
		if !found || fs[k].Hash != e.Hash {
			return false
		}
	}
	return any
}

// reflectedUpTo reports whether fs shows write k applied after the
// unsettled writes before it: k's written values, and for every field an
// earlier write wrote and no later one up to k rewrote, that value. An
// event that shows a later write's values but contradicts an earlier
// unsettled write is older than both (events come in order): the same
// value was there before we wrote it.
func (st *State) reflectedUpTo(k int, fs []Field) bool {
	if !st.reflected(&st.Writes[k], fs) {
		return false
	}
	for j := k - 1; j >= 0; j-- {
		w := &st.Writes[j]
		if w.NoOp {
			continue
		}
		for i, e := range w.Expected {
			if w.Written&(1<<min(i, 63)) == 0 || st.rewritten(j, k, e.Name) {
				continue
			}
			if x, ok := findField(fs, e.Name); ok && fs[x].Hash != e.Hash {
				return false
			}
		}
	}
	return true
}

// rewritten reports whether a write after j, up to k, wrote the field.
func (st *State) rewritten(j, k int, name string) bool {
	for i := j + 1; i <= k; i++ {
		if st.Writes[i].wrote(name) {
			return true
		}
	}
	return false
}

// Stale reports whether an event at provider time at carries nothing newer
// than what the app holds: for each field a newer state already reached
// the app, or the app holds the event's very value — and at least one
// field is older (at 0, or a differing field without a known time: false).
// A reordered echo of our earlier write, overtaken by our later write's
// echo, is such an event (simulator seed 1117).
func (st *State) Stale(fs []Field, at int64) bool {
	if at == 0 || len(fs) == 0 {
		return false
	}
	older := false
	for _, f := range fs {
		v, ok := st.AppValue(f.Name)
		switch {
		case !ok:
			return false
		case v.At != 0 && v.At > at:
			older = true
		case v.Hash != f.Hash:
			return false
		}
	}
	return older
}

// SentinelWrite returns the index of the unsettled write with the given
// sentinel nonce, or -1.
func (st *State) SentinelWrite(nonce uint64) int {
	if nonce == 0 {
		return -1
	}
	for i := range st.Writes {
		if st.Writes[i].Nonce == nonce {
			return i
		}
	}
	return -1
}

func findField(fs []Field, name string) (int, bool) {
	return slices.BinarySearchFunc(fs, name, func(f Field, n string) int { return strings.Compare(f.Name, n) })
}

// ApplyWrite appends our write to the history: its expected state is the
// app's known state, overlaid by the written fields, overlaid by the
// response's record. The app now holds the written values (it wrote them);
// other values of the response are not taken to be known to the app.
func (st *State) ApplyWrite(w *Write) {
	if w.Unsent {
		// The app edited the fields and still holds its edit (it may
		// retry it, or give it up): what it holds of them is unknown, so
		// no event can be "no news" or an echo through them (see news).
		st.App = slices.DeleteFunc(st.App, func(v Value) bool {
			_, wrote := findField(w.Fields, v.Name)
			return wrote
		})
		return
	}
	exp := make([]Field, 0, len(st.App)+len(w.Fields))
	for _, v := range st.App {
		exp = append(exp, Field{Name: v.Name, Hash: v.Hash})
	}
	if last := st.lastChange(); last >= 0 {
		// The provider applies our writes in order: this one lands on the
		// state the last unsettled one left (rebased onto every genuine
		// event since), which the app may not hold — an older event it
		// accepted moved it back (simulator seed 175714) — with what the
		// no-op writes after it wrote (seed 120771).
		exp = overlay(exp, st.Writes[last].Expected)
		for k := last + 1; k < len(st.Writes); k++ {
			w := &st.Writes[k]
			for j, f := range w.Expected {
				if w.Written&(1<<min(j, 63)) != 0 {
					exp = overlay(exp, []Field{f})
				}
			}
		}
	}
	// Unproven unless a written value differs from a known value of the
	// state the write lands on.
	unproven := true
	for _, f := range w.Fields {
		if i, ok := findField(exp, f.Name); ok && exp[i].Hash != f.Hash {
			unproven = false
		}
	}
	exp = overlay(exp, w.Fields)
	exp = overlay(exp, w.Response)
	noop := w.NoOp || (len(w.Fields) > 0 && st.Holds(w.Fields))
	for _, f := range w.Response {
		// The response shows a change the write did not make: a written
		// field the provider stored otherwise, or another field the app
		// holds otherwise (a provider-side change just before ours).
		if i, ok := findField(w.Fields, f.Name); ok {
			if w.Fields[i].Hash != f.Hash {
				noop = false
			}
			continue
		}
		if v, ok := st.AppValue(f.Name); ok && v.Hash != f.Hash {
			noop = false
		}
	}
	var written uint64
	if len(exp) > 64 {
		written = ^uint64(0)
	} else {
		for i, f := range exp {
			if _, ok := findField(w.Fields, f.Name); ok {
				written |= 1 << i
			}
		}
	}
	st.NextSeq++
	if st.NextSeq == 0 {
		st.NextSeq = 1
	}
	st.Writes = append(st.Writes, Version{Seq: st.NextSeq, At: w.At, Expected: exp, Written: written, NoOp: noop,
		Nonce: w.Nonce, FP: w.FP, Created: w.Created, Shown: len(w.Response) > 0, ProviderAt: w.ProviderAt, Unproven: unproven})
	if n := len(st.Writes); n > MaxWrites {
		st.Writes = slices.Delete(st.Writes, 0, n-MaxWrites) // zeroes the tail: no two slots share an array
	}
	// Without the write's own time, the written values are at least as new
	// as every state the app has seen of the record: the app wrote them
	// after it. An older event then does not move them back (simulator
	// seed 34665: a reordered older event the app ignored was taken to
	// have replaced our write's value).
	at := w.ProviderAt
	if at == 0 {
		at = st.newestAt()
	}
	for _, f := range w.Fields {
		st.setApp(f, at, true)
	}
	st.LastWrite = w.At
}

// lastChange returns the index of the newest unsettled write that changed
// something (-1: none).
func (st *State) lastChange() int {
	for i := len(st.Writes) - 1; i >= 0; i-- {
		if !st.Writes[i].NoOp {
			return i
		}
	}
	return -1
}

// ApplyAccept moves the history after an event:
//   - an echo of write k (Settle = k's Seq) settles k and every earlier
//     write; the app's values keep their hashes and learn the echo's
//     provider time;
//   - a genuine event the app accepted settles the write whose verified
//     sentinel it carries (Shows) and the newest write (decided before it)
//     that it shows applied, each with every earlier one; the writes left
//     are rebased onto it (see rebase), and it becomes what the app holds
//     (a field is not moved back by an event older than the state held).
func (st *State) ApplyAccept(a *Accept) {
	if a.Settle != 0 {
		for _, f := range a.Fields {
			// A field the app is not known to hold stays unknown: the echo
			// (or the write's response it matched) may show a person's
			// change made just before our write, whose own, older event
			// must still reach the app — it must not look stale.
			if v, ok := st.AppValue(f.Name); ok && v.Hash == f.Hash && a.ProviderAt > v.At {
				v.At = a.ProviderAt
			}
		}
		st.settle(a.Settle)
		return
	}
	// Only writes recorded by the time the event was decided: the app's
	// write-back of this very event may be recorded before its acceptance.
	before := func(w *Version) bool {
		if a.Upto != 0 {
			return w.Seq < a.Upto
		}
		return a.At.IsZero() || !w.At.After(a.At)
	}
	if a.Shows != 0 {
		st.settle(a.Shows)
	}
	shows := a.Shows != 0
	for n := range st.Writes {
		i := len(st.Writes) - 1 - n
		if a.EveryWrite {
			i = n
		}
		if w := &st.Writes[i]; before(w) && st.reflectedUpTo(i, a.Fields) {
			st.settle(w.Seq)
			shows = true
			break
		}
	}
	// An event that shows none of our writes (a person's change) and sets
	// a field of an unproven write otherwise: that write is contradicted.
	// One that shows an earlier write applied is placed right after it,
	// so the later writes' echoes are still to come.
	if !a.EveryWrite && !shows {
		for i := range st.Writes {
			if w := &st.Writes[i]; before(w) && w.Unproven && !w.NoOp && (w.ProviderAt == 0 || a.ProviderAt == 0) && w.contradicts(a.Fields) {
				w.Contradicted = true
			}
		}
	}
	st.rebase(a.Fields, a.ProviderAt)
	for _, f := range a.Fields {
		if st.writtenAfter(before, f) {
			// The app wrote this field after it was handed the event (its
			// write-back, made before it answered): it holds what it wrote
			// (simulator seed 179076).
			continue
		}
		st.setApp(f, a.ProviderAt, false)
	}
	st.LastSeen = a.At
}

// newestAt is the newest provider time of what the app holds (0: none).
func (st *State) newestAt() int64 {
	var n int64
	for _, v := range st.App {
		n = max(n, v.At)
	}
	return n
}

// contradicts reports whether fs carries another value of a field the write
// set.
func (w *Version) contradicts(fs []Field) bool {
	for _, f := range fs {
		if w.wrote(f.Name) && !w.expects(f) {
			return true
		}
	}
	return false
}

// writtenAfter reports whether an unsettled write recorded after the event
// was decided (not before) wrote another value of f's field.
func (st *State) writtenAfter(before func(*Version) bool, f Field) bool {
	for i := range st.Writes {
		if w := &st.Writes[i]; !before(w) && w.wrote(f.Name) && !w.expects(f) {
			return true
		}
	}
	return false
}

// rebase moves the unsettled writes onto the state fs of a genuine event:
// they are newer than it — an echo of an older write settles that write
// (it shows it applied), and events come in the provider's order where
// they carry no time. Each write's expected state becomes fs overlaid with
// the fields written by it and by the writes before it; a write whose
// response showed the record keeps the provider's account.
func (st *State) rebase(fs []Field, at int64) {
	if len(st.Writes) == 0 {
		return
	}
	cur := slices.Clone(fs)
	for i := range st.Writes {
		w := &st.Writes[i]
		for j, f := range w.Expected {
			// A no-op write wrote what the app held (it may well be older
			// than the event: it is never settled by an echo).
			if !w.NoOp && w.Written&(1<<min(j, 63)) != 0 {
				cur = overlay(cur, []Field{f})
			}
		}
		// A write that learned nothing (it wrote every field) is as
		// unordered against a timed event as one that did (seed 51161).
		learned := w.learn(cur)
		if !w.Shown && at != 0 && !w.NoOp && (learned || w.ProviderAt == 0) {
			w.Rebased = true
		}
	}
}

// learn sets the fields w did not write to fs (see rebase): the fields its
// expected state did not know (a partial write of a record loopguard had
// not seen) are added, and for a write that changed something the others
// are replaced. A no-op write only gains fields it did not know: it wrote
// what the app held, possibly before fs.
func (w *Version) learn(fs []Field) (changed bool) {
	for _, f := range fs {
		i, ok := findField(w.Expected, f.Name)
		if ok {
			if !w.NoOp && w.Written&(1<<min(i, 63)) == 0 && w.Expected[i].Hash != f.Hash {
				w.Expected[i].Hash = f.Hash
				changed = true
			}
			continue
		}
		changed = true
		w.Expected = slices.Insert(w.Expected, i, f)
		switch {
		case len(w.Expected) > 64:
			w.Written = ^uint64(0)
		default:
			low := w.Written & (1<<i - 1)
			w.Written = low | (w.Written&^(1<<i-1))<<1
		}
	}
	return changed
}

func (st *State) settle(seq uint32) {
	st.Writes = slices.DeleteFunc(st.Writes, func(w Version) bool { return w.Seq <= seq })
}

// setApp sets what the app holds of f. A genuine value older than the held
// one (both times known) is ignored; ours always applies (the app wrote it).
func (st *State) setApp(f Field, at int64, ours bool) {
	i, ok := slices.BinarySearchFunc(st.App, f.Name, func(v Value, n string) int { return strings.Compare(v.Name, n) })
	if ok {
		v := &st.App[i]
		if !ours && at != 0 && v.At != 0 && at < v.At {
			return
		}
		if v.Hash != f.Hash || at != 0 {
			v.Hash, v.At = f.Hash, at
		}
		return
	}
	st.App = slices.Insert(st.App, i, Value{Name: f.Name, Hash: f.Hash, At: at})
}

// overlay sets each field of over in base (both sorted by name).
func overlay(base, over []Field) []Field {
	for _, f := range over {
		i, ok := findField(base, f.Name)
		if ok {
			base[i].Hash = f.Hash
			continue
		}
		base = slices.Insert(base, i, f)
	}
	return base
}

// Prune forgets writes recorded more than writeTTL before now (a write is
// still unsettled at exactly writeTTL) and, seenTTL after the record's last
// update (write or accepted event), everything else.
func (st *State) Prune(now time.Time, writeTTL, seenTTL time.Duration) {
	last := st.LastSeen
	if st.LastWrite.After(last) {
		last = st.LastWrite
	}
	if last.IsZero() || now.Sub(last) > seenTTL {
		st.Reset()
		return
	}
	st.Writes = slices.DeleteFunc(st.Writes, func(w Version) bool { return now.Sub(w.At) > writeTTL })
}
