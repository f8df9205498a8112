package ledger

import (
	"testing"
	"time"
)

func fs(kv ...any) []Field {
	var out []Field
	for i := 0; i < len(kv); i += 2 {
		out = append(out, Field{Name: kv[i].(string), Hash: uint64(kv[i+1].(int))})
	}
	return out
}

// TestHistoryRules: how an event is judged against the history — the
// ordered writes' expected states, what the app holds, provider times.
func TestHistoryRules(t *testing.T) {
	now := newFakeClock().Now()
	type q struct {
		fields    []Field
		at        int64
		match     int // index in Writes, -1 none (webhook: no-op writes included)
		matchPull int // index, -1 none (no-op writes left out)
		holds     bool
		reflects  int
		stale     bool
	}
	cases := []struct {
		name  string
		build func(st *State)
		qs    []q
	}{
		{"undo after our write is a change", func(st *State) {
			st.ApplyAccept(&Accept{Fields: fs("title", 7), At: now})
			st.ApplyWrite(&Write{Fields: fs("title", 1), At: now})
			st.ApplyAccept(&Accept{Fields: fs("title", 1), Settle: 1})
		}, []q{
			{fields: fs("title", 7), match: -1, matchPull: -1, holds: false, reflects: -1},
			{fields: fs("title", 1), match: -1, matchPull: -1, holds: true, reflects: -1},
		}},
		{"a no-op write never makes a later return to its values an echo", func(st *State) {
			st.ApplyAccept(&Accept{Fields: fs("title", 7), At: now})
			st.ApplyWrite(&Write{Fields: fs("title", 7), At: now})
			st.ApplyAccept(&Accept{Fields: fs("title", 8), At: now})
		}, []q{
			{fields: fs("title", 7), match: -1, matchPull: -1, holds: false, reflects: 0},
		}},
		{"a no-op write is never matched, but its exact echo counts as ours", func(st *State) {
			st.ApplyAccept(&Accept{Fields: fs("title", 7), At: now})
			st.ApplyWrite(&Write{Fields: fs("title", 7), At: now})
		}, []q{
			{fields: fs("title", 7), match: 0, matchPull: -1, holds: true, reflects: 0},
			{fields: fs("desc", 1, "title", 7), match: -1, matchPull: -1, reflects: -1},
		}},
		{"a partial write's echo carrying the whole record matches where the app is known to hold the rest", func(st *State) {
			st.ApplyAccept(&Accept{Fields: fs("state", 2, "title", 7), At: now})
			st.ApplyWrite(&Write{Fields: fs("title", 1), Response: fs("state", 2, "title", 1), At: now})
		}, []q{
			{fields: fs("state", 2, "title", 1), match: 0, matchPull: 0, holds: true, reflects: 0},
			{fields: fs("state", 3, "title", 1), match: -1, matchPull: -1, reflects: 0},
		}},
		{"only the response vouches for the rest of an unseen record: not an echo (simulator seed 2554)", func(st *State) {
			st.ApplyWrite(&Write{Fields: fs("title", 1), Response: fs("state", 2, "title", 1), At: now})
		}, []q{
			// A person's change of state just before our write shows in
			// the response as well as in the person's own event.
			{fields: fs("state", 2, "title", 1), match: -1, matchPull: -1, holds: false, reflects: 0},
			{fields: fs("title", 1), match: 0, matchPull: 0, holds: true, reflects: 0},
		}},
		{"an event newer than a later write's state is not an earlier write's echo (simulator seed 1268)", func(st *State) {
			st.ApplyAccept(&Accept{Fields: fs("title", 7), ProviderAt: 5, At: now})
			st.ApplyWrite(&Write{Fields: fs("title", 1), ProviderAt: 6, At: now})
			st.ApplyWrite(&Write{Fields: fs("title", 2), ProviderAt: 8, At: now})
		}, []q{
			{fields: fs("title", 1), at: 6, match: 0, matchPull: 0, reflects: 0, stale: true},
			{fields: fs("title", 1), at: 9, match: -1, matchPull: -1, reflects: 0},
			{fields: fs("title", 1), match: 0, matchPull: 0, reflects: 0},
		}},
		{"a later no-op write vouches for nothing (simulator seed 4353)", func(st *State) {
			st.ApplyAccept(&Accept{Fields: fs("a", 1, "t", 1), At: now})
			st.ApplyWrite(&Write{Fields: fs("a", 2), Response: fs("a", 2, "t", 2), At: now})
			st.ApplyAccept(&Accept{Fields: fs("t", 2), At: now})
			st.ApplyWrite(&Write{Fields: fs("a", 2, "t", 2), At: now}) // write-back: no-op
			st.ApplyAccept(&Accept{Fields: fs("t", 3), At: now})
			st.ApplyWrite(&Write{Fields: fs("a", 2, "t", 3), At: now}) // write-back: no-op
		}, []q{
			// A person's return of t to 2: the app holds 3 (a person's
			// value the no-op write-back only echoed), so it is news.
			{fields: fs("t", 2), match: -1, matchPull: -1, reflects: 1},
		}},
		{"a genuine event carrying our write's sentinel settles it and the writes before it (simulator seed 3637)", func(st *State) {
			st.ApplyWrite(&Write{Fields: fs("a", 1, "b", 1), At: now})
			st.ApplyWrite(&Write{Fields: fs("a", 2), At: now})
			st.ApplyAccept(&Accept{Fields: fs("b", 3), Shows: 1, At: now})
		}, []q{
			{fields: fs("a", 1), match: -1, matchPull: -1, reflects: -1},
			{fields: fs("a", 2), match: 0, matchPull: 0, holds: true, reflects: 0},
		}},
		{"an event of changed fields only is never a no-op write's echo (simulator seed 374)", func(st *State) {
			st.ApplyAccept(&Accept{Fields: fs("t", 1), At: now})
			st.ApplyWrite(&Write{Fields: fs("t", 1), At: now}) // no-op write-back
			st.ApplyWrite(&Write{Fields: fs("t", 2), At: now})
		}, []q{
			{fields: fs("t", 1), match: -1, matchPull: -1, reflects: 0},
		}},
		{"a write that did not land forgets what the app holds of its fields", func(st *State) {
			st.ApplyAccept(&Accept{Fields: fs("a", 1, "b", 1), At: now})
			st.ApplyWrite(&Write{Fields: fs("a", 3), Unsent: true, At: now})
		}, []q{
			{fields: fs("a", 1), match: -1, matchPull: -1, holds: false, reflects: -1},
			{fields: fs("b", 1), match: -1, matchPull: -1, holds: true, reflects: -1},
		}},
		{"a response showing a change the app has not seen makes the echo news", func(st *State) {
			st.ApplyAccept(&Accept{Fields: fs("email", 5, "name", 1), At: now})
			st.ApplyWrite(&Write{Fields: fs("name", 2), Response: fs("email", 6, "name", 2), At: now})
		}, []q{
			{fields: fs("email", 6, "name", 2), match: -1, matchPull: -1, reflects: 0},
			{fields: fs("name", 2), match: 0, matchPull: 0, holds: true, reflects: 0},
		}},
		{"a partial write with nothing known cannot vouch for other fields", func(st *State) {
			st.ApplyWrite(&Write{Fields: fs("title", 1), At: now})
		}, []q{
			{fields: fs("title", 1), match: 0, matchPull: 0, holds: true, reflects: 0},
			{fields: fs("state", 2, "title", 1), match: -1, matchPull: -1, reflects: 0},
		}},
		{"A B A in flight: each echo matches the oldest write it fits", func(st *State) {
			st.ApplyWrite(&Write{Fields: fs("a", 1), At: now})
			st.ApplyWrite(&Write{Fields: fs("a", 2), At: now})
			st.ApplyWrite(&Write{Fields: fs("a", 1), At: now})
		}, []q{
			{fields: fs("a", 1), match: 0, matchPull: 0, holds: true, reflects: 2},
			{fields: fs("a", 2), match: 1, matchPull: 1, reflects: 1},
		}},
		{"without every_write a no-op write is not matched even after a later write of ours changed something: a person's return to its values is a change (simulator seed 166522)", func(st *State) {
			st.ApplyAccept(&Accept{Fields: fs("title", 7), At: now})
			st.ApplyWrite(&Write{Fields: fs("title", 7), At: now})
			st.ApplyWrite(&Write{Fields: fs("title", 8), At: now})
		}, []q{
			{fields: fs("title", 7), match: -1, matchPull: -1, holds: false, reflects: 0},
			{fields: fs("title", 8), match: 1, matchPull: 1, holds: true, reflects: 1},
		}},
		{"a field a partial write did not know is news even when a later write of ours overwrote it (simulator seed 8951)", func(st *State) {
			st.ApplyWrite(&Write{Fields: fs("a", 1), At: now})
			st.ApplyWrite(&Write{Fields: fs("a", 1, "b", 2), At: now})
		}, []q{
			// Write 0's echo (b as it was before write 1) and a person's
			// change of b after write 1 carry the same values.
			{fields: fs("a", 1, "b", 9), match: -1, matchPull: -1, reflects: 0},
			{fields: fs("a", 1, "c", 9), match: -1, matchPull: -1, reflects: 0},
		}},
		{"a genuine event before our partial write rebases the fields it did not write", func(st *State) {
			st.ApplyAccept(&Accept{Fields: fs("a", 1, "b", 1), At: now})
			st.ApplyWrite(&Write{Fields: fs("a", 2), At: now})
			st.ApplyAccept(&Accept{Fields: fs("a", 1, "b", 5), At: now})
		}, []q{
			{fields: fs("a", 2, "b", 5), match: 0, matchPull: 0, reflects: 0},
			{fields: fs("a", 2, "b", 1), match: -1, matchPull: -1, reflects: 0},
		}},
		{"an event older than every held value is stale", func(st *State) {
			st.ApplyAccept(&Accept{Fields: fs("a", 5, "b", 6), ProviderAt: 200, At: now})
		}, []q{
			{fields: fs("a", 4), at: 100, match: -1, matchPull: -1, reflects: -1, stale: true},
			{fields: fs("a", 4), at: 300, match: -1, matchPull: -1, reflects: -1},
			{fields: fs("a", 4), at: 0, match: -1, matchPull: -1, reflects: -1},
			{fields: fs("a", 4, "c", 1), at: 100, match: -1, matchPull: -1, reflects: -1},
			// A field the app holds as the event has it adds nothing.
			{fields: fs("a", 4, "b", 6), at: 100, match: -1, matchPull: -1, reflects: -1, stale: true},
			{fields: fs("a", 4, "b", 6), at: 250, match: -1, matchPull: -1, holds: false, reflects: -1},
		}},
		{"a reordered echo overtaken by our later write's echo is stale (simulator seed 1117)", func(st *State) {
			st.ApplyWrite(&Write{Fields: fs("a", 1, "p", 1), At: now})
			st.ApplyWrite(&Write{Fields: fs("a", 2), At: now})
			st.ApplyAccept(&Accept{Fields: fs("a", 2), ProviderAt: 6, Settle: 2})
		}, []q{
			{fields: fs("a", 1, "p", 1), at: 5, match: -1, matchPull: -1, reflects: -1, stale: true},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var st State
			c.build(&st)
			for i, q := range c.qs {
				if got := st.Match(q.fields, q.at, time.Time{}); got != q.matchPull {
					t.Errorf("q%d Match = %d, want %d", i, got, q.matchPull)
				}
				if m := st.MatchChange(q.fields, q.at, time.Time{}); m >= 0 && st.Writes[m].NoOp {
					t.Errorf("q%d MatchChange = %d, a no-op write", i, m)
				}
				if got := st.Holds(q.fields); got != q.holds {
					t.Errorf("q%d Holds = %v, want %v", i, got, q.holds)
				}
				if got := st.Reflects(q.fields); got != q.reflects {
					t.Errorf("q%d Reflects = %d, want %d", i, got, q.reflects)
				}
				if got := st.Stale(q.fields, q.at); got != q.stale {
					t.Errorf("q%d Stale = %v, want %v", i, got, q.stale)
				}
			}
		})
	}
}

// TestEchoWindow: past the echo window a write's values alone no longer
// make an event its echo.
func TestEchoWindow(t *testing.T) {
	now := newFakeClock().Now()
	var st State
	st.ApplyWrite(&Write{Fields: fs("a", 1), At: now})
	if got := st.Match(fs("a", 1), 0, now); got != 0 {
		t.Fatalf("inside the window: Match = %d, want 0", got)
	}
	if got := st.Match(fs("a", 1), 0, now.Add(time.Nanosecond)); got != -1 {
		t.Fatalf("past the window: Match = %d, want -1", got)
	}
}

// TestOlderEventDoesNotSettleByCoincidence: an event that shows a later
// partial write's value but contradicts an earlier unsettled write is
// older than both; it settles neither.
func TestOlderEventDoesNotSettleByCoincidence(t *testing.T) {
	now := newFakeClock().Now()
	var st State
	st.ApplyWrite(&Write{Fields: fs("a", 1, "b", 1), At: now})
	st.ApplyWrite(&Write{Fields: fs("c", 3), At: now})
	st.ApplyAccept(&Accept{Fields: fs("a", 9, "b", 9, "c", 3), At: now})
	if len(st.Writes) != 2 {
		t.Fatalf("writes left %d, want 2 (neither settled)", len(st.Writes))
	}
	st.ApplyAccept(&Accept{Fields: fs("a", 1, "b", 1, "c", 3), At: now})
	if len(st.Writes) != 0 {
		t.Fatalf("writes left %d, want 0 (an event showing both applied settles both)", len(st.Writes))
	}
}

// TestMatchUnordered: on a provider that may deliver out of order, an event
// with a time that a later write of ours (time unknown) contradicts is not
// taken for the earlier write's echo (simulator seed 11849); in order it is.
func TestMatchUnordered(t *testing.T) {
	now := newFakeClock().Now()
	var st State
	st.ApplyWrite(&Write{Fields: fs("a", 1, "t", 1), At: now})
	st.ApplyWrite(&Write{Fields: fs("a", 1, "t", 2), At: now})
	if got := st.MatchWith(fs("t", 1), 5, time.Time{}, MatchOpts{}); got != 0 {
		t.Fatalf("in order: Match = %d, want 0", got)
	}
	if got := st.MatchWith(fs("t", 1), 5, time.Time{}, MatchOpts{Unordered: true}); got != -1 {
		t.Fatalf("unordered: Match = %d, want -1", got)
	}
	if got := st.MatchWith(fs("t", 1), 0, time.Time{}, MatchOpts{Unordered: true}); got != 0 {
		t.Fatalf("unordered, no time: Match = %d, want 0", got)
	}
	// The later write's time known: the event older than it is the
	// earlier write's echo.
	st.Writes[1].ProviderAt = 9
	if got := st.MatchWith(fs("t", 1), 5, time.Time{}, MatchOpts{Unordered: true}); got != 0 {
		t.Fatalf("unordered, later write's time known: Match = %d, want 0", got)
	}
}

// TestMatchUnorderedRebased: on a provider that delivers out of order, a
// write rebased onto a timed genuine event (its position against that event
// unknown) is not matched by a timed event through the learned values
// (simulator seed 18140); the flag survives the codec.
func TestMatchUnorderedRebased(t *testing.T) {
	now := newFakeClock().Now()
	var st State
	st.ApplyAccept(&Accept{Fields: fs("a", 1, "d", 1), ProviderAt: 2, At: now})
	st.ApplyWrite(&Write{Fields: fs("d", 3), At: now})
	st.ApplyAccept(&Accept{Fields: fs("a", 2, "d", 2), ProviderAt: 4, At: now}) // a person's change, maybe after the write
	if !st.Writes[0].Rebased {
		t.Fatal("the write was not marked rebased")
	}
	var back State
	if err := Decode(Encode(nil, &st), &back); err != nil || !back.Writes[0].Rebased {
		t.Fatalf("decoded: %v, rebased %v", err, err == nil && back.Writes[0].Rebased)
	}
	if got := st.MatchWith(fs("a", 2, "d", 3), 5, time.Time{}, MatchOpts{}); got != 0 {
		t.Fatalf("in order: Match = %d, want 0", got)
	}
	if got := st.MatchWith(fs("a", 2, "d", 3), 5, time.Time{}, MatchOpts{Unordered: true}); got != -1 {
		t.Fatalf("unordered: Match = %d, want -1 (a person's undo after the change)", got)
	}
}

// TestMatchNotOwnTime: where both times are known, an event whose provider
// time is not the write's own is not its echo — an echo carries the state's
// own time, so a newer event with the write's values is a person's return
// to them (simulator seed 54164).
func TestMatchNotOwnTime(t *testing.T) {
	now := newFakeClock().Now()
	var st State
	st.ApplyAccept(&Accept{Fields: fs("a", 1, "d", 1), ProviderAt: 2, At: now})
	st.ApplyWrite(&Write{Fields: fs("d", 3), At: now, ProviderAt: 5})
	if got := st.Match(fs("a", 1, "d", 3), 5, time.Time{}); got != 0 {
		t.Fatalf("echo at the write's own time: Match = %d, want 0", got)
	}
	for _, at := range []int64{4, 6} {
		if got := st.Match(fs("a", 1, "d", 3), at, time.Time{}); got != -1 {
			t.Fatalf("event at %d, write at 5: Match = %d, want -1", at, got)
		}
	}
	if got := st.Match(fs("a", 1, "d", 3), 0, time.Time{}); got != 0 {
		t.Fatalf("event without a time: Match = %d, want 0", got)
	}
}

// TestMatchUnorderedRebasedFull: a write whose every field it wrote itself
// learns nothing from the timed genuine event after it, yet its order
// against that event is just as unknown on an unordered provider: it is
// marked rebased and not matched by a timed event (simulator seed 51161).
func TestMatchUnorderedRebasedFull(t *testing.T) {
	now := newFakeClock().Now()
	var st State
	st.ApplyAccept(&Accept{Fields: fs("a", 1, "d", 1), ProviderAt: 2, At: now})
	st.ApplyWrite(&Write{Fields: fs("a", 2, "d", 2), At: now})
	st.ApplyAccept(&Accept{Fields: fs("a", 3, "d", 2), ProviderAt: 4, At: now}) // a person's change of a, before or after the write
	if len(st.Writes) != 1 || !st.Writes[0].Rebased {
		t.Fatalf("writes %+v: want the write kept and marked rebased", st.Writes)
	}
	if got := st.MatchWith(fs("a", 2, "d", 2), 5, time.Time{}, MatchOpts{Unordered: true}); got != -1 {
		t.Fatalf("unordered: Match = %d, want -1 (the person's undo after the change)", got)
	}
	if got := st.MatchWith(fs("a", 2, "d", 2), 5, time.Time{}, MatchOpts{}); got != 0 {
		t.Fatalf("in order: Match = %d, want 0", got)
	}
	// A write whose own time is known is not marked: its echo carries it.
	var known State
	known.ApplyAccept(&Accept{Fields: fs("a", 1, "d", 1), ProviderAt: 2, At: now})
	known.ApplyWrite(&Write{Fields: fs("a", 2, "d", 2), At: now, ProviderAt: 3})
	known.ApplyAccept(&Accept{Fields: fs("a", 3, "d", 2), ProviderAt: 4, At: now})
	if len(known.Writes) == 1 && known.Writes[0].Rebased {
		t.Fatal("a write with its own provider time was marked rebased")
	}
}

// TestMatchEveryWrite: on a provider that sends an event for every write,
// in order, the app's stale write-back of an overtaken event — a no-op for
// the app, a change on the provider — is matched by its echo, oldest write
// first, instead of looking like a person's change (simulator seed 69309);
// without the profile's every_write it is not (a person's return to those
// values, issue 13 case 1).
func TestMatchEveryWrite(t *testing.T) {
	now := newFakeClock().Now()
	var st State
	st.ApplyAccept(&Accept{Fields: fs("a", 1, "s", 1), At: now}) // a person's first edit, handed to the app
	st.ApplyWrite(&Write{Fields: fs("a", 1, "s", 1), At: now})   // the app writes it back: a no-op for it
	st.ApplyAccept(&Accept{Fields: fs("a", 2, "s", 1), At: now}) // the person's second edit, already made
	st.ApplyWrite(&Write{Fields: fs("a", 2, "s", 1), At: now})   // written back too
	if !st.Writes[0].NoOp || !st.Writes[1].NoOp {
		t.Fatalf("write-backs not known as no-ops: %+v", st.Writes)
	}
	echo := fs("a", 1, "s", 1) // the first write-back's echo: it landed over the second edit
	if got := st.MatchWith(echo, 0, time.Time{}, MatchOpts{EveryWrite: true}); got != 0 {
		t.Fatalf("every write: Match = %d, want 0", got)
	}
	if got := st.MatchWith(echo, 0, time.Time{}, MatchOpts{}); got != -1 {
		t.Fatalf("no event for no-op writes: Match = %d, want -1", got)
	}
	// Its echo naming only what it changed at the provider (null for the
	// rest) is matched too, in order (simulator seed 170910)…
	if got := st.MatchWith(fs("a", 1), 0, time.Time{}, MatchOpts{EveryWrite: true, Changes: true}); got != 0 {
		t.Fatalf("changed fields only, in order: Match = %d, want 0", got)
	}
	// …but not out of order, nor without every_write.
	if got := st.MatchWith(fs("a", 1), 0, time.Time{}, MatchOpts{EveryWrite: true, Unordered: true, Changes: true}); got != -1 {
		t.Fatalf("changed fields only, unordered: Match = %d, want -1", got)
	}
	if got := st.MatchWith(fs("a", 1), 0, time.Time{}, MatchOpts{Changes: true}); got != -1 {
		t.Fatalf("changed fields only, no every_write: Match = %d, want -1", got)
	}
}

// TestMatchEveryWriteEarliest: on a provider with an event for every write,
// in order, an event that fits a later write exactly and an earlier,
// unsettled one but for fields that earlier write never knew is the earlier
// write's echo: taking it for the later one's would settle both, and the
// later write's own echo would then look new (simulator seed 62346).
func TestMatchEveryWriteEarliest(t *testing.T) {
	now := newFakeClock().Now()
	var st State
	st.ApplyWrite(&Write{Fields: fs("p", 2, "t", 3), At: now})                 // a partial write of a record loopguard does not know
	st.ApplyWrite(&Write{Fields: fs("a", 1, "d", 1, "p", 2, "t", 3), At: now}) // then the app's full write of the same state
	st.ApplyWrite(&Write{Fields: fs("d", 4), At: now})                         // and another edit
	echo := fs("a", 1, "d", 1, "p", 2, "t", 3)
	if got := st.MatchWith(echo, 0, time.Time{}, MatchOpts{EveryWrite: true}); got != 0 {
		t.Fatalf("every write: Match = %d, want 0 (the first write's echo comes first)", got)
	}
	if got := st.MatchWith(echo, 0, time.Time{}, MatchOpts{}); got != 1 {
		t.Fatalf("no event for no-op writes: Match = %d, want 1", got)
	}
}

// TestMatchEveryWriteUnordered: on an unordered provider that sends an
// event for every write, a no-op write is matched once a later write of
// ours changed something (its echo may still be on its way), not before.
func TestMatchEveryWriteUnordered(t *testing.T) {
	now := newFakeClock().Now()
	var st State
	st.ApplyAccept(&Accept{Fields: fs("title", 7), At: now})
	st.ApplyWrite(&Write{Fields: fs("title", 7), At: now})
	o := MatchOpts{EveryWrite: true, Unordered: true}
	if got := st.MatchWith(fs("title", 7), 0, time.Time{}, o); got != -1 {
		t.Fatalf("before a later change: Match = %d, want -1", got)
	}
	st.ApplyWrite(&Write{Fields: fs("title", 8), At: now})
	if got := st.MatchWith(fs("title", 7), 0, time.Time{}, o); got != 0 {
		t.Fatalf("after a later change: Match = %d, want 0", got)
	}
}

// TestAcceptKeepsWriteBackMadeInHandler: a genuine event the app accepted
// after it wrote another value of a field (its write-back, made inside its
// handler before it answered) leaves the app holding what it wrote
// (simulator seed 179076: a person's later return to the event's value
// was dropped as "the app holds it").
func TestAcceptKeepsWriteBackMadeInHandler(t *testing.T) {
	now := newFakeClock().Now()
	var st State
	st.ApplyAccept(&Accept{Fields: fs("p", 1), ProviderAt: 10, At: now})
	upto := st.NextSeq + 1
	st.ApplyWrite(&Write{Fields: fs("p", 2), At: now}) // the app's write made before it answered
	st.ApplyAccept(&Accept{Fields: fs("p", 3), ProviderAt: 12, At: now, Upto: upto})
	if v, _ := st.AppValue("p"); v.Hash != 2 {
		t.Fatalf("app holds %+v, want the value it wrote (2)", v)
	}
	if st.Holds(fs("p", 3)) {
		t.Fatal("the event's value is taken for what the app holds")
	}
}

// TestWriteNewerThanSeenStates: our write without a provider time is at
// least as new as every state the app had seen of the record, so an older
// event, delivered late, neither moves its value back nor is news
// (simulator seed 34665).
func TestWriteNewerThanSeenStates(t *testing.T) {
	now := newFakeClock().Now()
	var st State
	st.ApplyAccept(&Accept{Fields: fs("a", 1, "s", 1), ProviderAt: 8, At: now})
	st.ApplyWrite(&Write{Fields: fs("a", 2), At: now})
	if !st.Stale(fs("a", 3, "s", 1), 7) {
		t.Fatal("an event older than the states the app had seen before its write is not stale")
	}
	st.ApplyAccept(&Accept{Fields: fs("a", 3, "s", 1), ProviderAt: 7, At: now})
	if v, _ := st.AppValue("a"); v.Hash != 2 {
		t.Fatalf("an older event moved our write's value back: %+v", v)
	}
}

// TestWriteLandsOnLastWrite: our write's expected state is built on the
// state our last unsettled write left — the provider applies them in
// order — not on what the app holds after an older event moved it back
// (simulator seed 175714).
func TestWriteLandsOnLastWrite(t *testing.T) {
	now := newFakeClock().Now()
	var st State
	st.ApplyWrite(&Write{Fields: fs("t", 1), At: now})
	st.ApplyWrite(&Write{Fields: fs("a", 2, "t", 3), At: now})
	st.ApplyAccept(&Accept{Fields: fs("a", 1, "d", 1, "t", 1), At: now}) // the first write's echo, taken as news: the app moves back
	st.ApplyWrite(&Write{Fields: fs("d", 4), At: now})
	last := st.Writes[len(st.Writes)-1]
	if !last.Expects(fs("a", 2, "d", 4, "t", 3)) {
		t.Fatalf("expected state %+v, want the second write's state with d=4", last.Expected)
	}
}

// TestAcceptSettlesOldestOnEveryWrite: on a provider with an event for
// every write, in order, a genuine event showing two of our writes applied
// settles the oldest: the later write's own echo is still to come
// (simulator seed 176302); elsewhere it settles the newest.
func TestAcceptSettlesOldestOnEveryWrite(t *testing.T) {
	now := newFakeClock().Now()
	for _, every := range []bool{true, false} {
		var st State
		st.ApplyWrite(&Write{Fields: fs("s", 1), At: now})
		st.ApplyWrite(&Write{Fields: fs("a", 1), At: now}) // changed nothing on the provider: same value
		st.ApplyAccept(&Accept{Fields: fs("a", 1, "s", 1), At: now.Add(time.Second), EveryWrite: every})
		want := 1
		if !every {
			want = 0
		}
		if len(st.Writes) != want {
			t.Fatalf("every_write %v: %d writes left, want %d", every, len(st.Writes), want)
		}
	}
}

// TestWriteLandsAfterNoOpWrites: the no-op writes after our last unsettled
// change land too: a later write's expected state carries what they wrote
// (simulator seed 120771: a person's undo to the older write's value then
// matched through a stored sentinel).
func TestWriteLandsAfterNoOpWrites(t *testing.T) {
	now := newFakeClock().Now()
	var st State
	st.ApplyAccept(&Accept{Fields: fs("p", 1, "t", 1), At: now})
	st.ApplyWrite(&Write{Fields: fs("t", 2), At: now})
	st.ApplyAccept(&Accept{Fields: fs("p", 1, "t", 3), At: now, Upto: st.NextSeq + 1}) // an older event, accepted: the app holds t=3
	st.ApplyWrite(&Write{Fields: fs("t", 3), At: now})                                 // its write-back: a no-op
	if !st.Writes[len(st.Writes)-1].NoOp {
		t.Fatalf("the write-back is not a no-op: %+v", st.Writes)
	}
	st.ApplyWrite(&Write{Fields: fs("p", 4), At: now})
	if last := st.Writes[len(st.Writes)-1]; !last.Expects(fs("p", 4, "t", 3)) {
		t.Fatalf("expected state %+v, want t=3 (the no-op write-back landed last)", last.Expected)
	}
}

// TestContradictedUnprovenWrite: a write nothing showed to change anything
// (a record loopguard never saw) that a person's change then contradicts,
// on a provider without an event for every write, either had no echo (it
// changed nothing there) or lands after the change: the person's undo back
// to its values is not taken for its echo (simulator seeds 219549, 223695,
// 250342). A write known to change something, or one the event shows
// applied before, is still matched; the flags survive the codec.
func TestContradictedUnprovenWrite(t *testing.T) {
	now := newFakeClock().Now()
	var st State
	st.ApplyWrite(&Write{Fields: fs("a", 1, "s", 1), At: now}) // unknown record: unproven
	st.ApplyAccept(&Accept{Fields: fs("a", 1, "d", 2, "s", 2), At: now.Add(time.Second)})
	if w := st.Writes[0]; !w.Unproven || !w.Contradicted {
		t.Fatalf("write %+v: want unproven and contradicted", w)
	}
	var back State
	if err := Decode(Encode(nil, &st), &back); err != nil || !back.Writes[0].Unproven || !back.Writes[0].Contradicted {
		t.Fatalf("decoded: %v %+v", err, back.Writes)
	}
	if got := st.Match(fs("a", 1, "d", 2, "s", 1), 0, time.Time{}); got != -1 {
		t.Fatalf("the person's undo: Match = %d, want -1", got)
	}
	// Known to change s (the app held 1): its echo is on its way.
	var known State
	known.ApplyAccept(&Accept{Fields: fs("a", 1, "d", 1, "s", 1), At: now})
	known.ApplyWrite(&Write{Fields: fs("s", 3), At: now.Add(time.Second)})
	known.ApplyAccept(&Accept{Fields: fs("a", 1, "d", 2, "s", 1), At: now.Add(2 * time.Second)})
	if w := known.Writes[0]; w.Unproven || w.Contradicted {
		t.Fatalf("write %+v: a known change is neither unproven nor contradicted", w)
	}
	if got := known.Match(fs("a", 1, "d", 2, "s", 3), 0, time.Time{}); got != 0 {
		t.Fatalf("its echo after the person's change: Match = %d, want 0", got)
	}
}
