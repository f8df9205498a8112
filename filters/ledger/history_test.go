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
		{"a partial write's echo carrying the whole record matches", func(st *State) {
			st.ApplyWrite(&Write{Fields: fs("title", 1), Response: fs("state", 2, "title", 1), At: now})
		}, []q{
			{fields: fs("state", 2, "title", 1), match: 0, matchPull: 0, holds: false, reflects: 0},
			{fields: fs("state", 3, "title", 1), match: -1, matchPull: -1, reflects: 0},
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
		{"an event older than every held value is stale", func(st *State) {
			st.ApplyAccept(&Accept{Fields: fs("a", 5, "b", 6), ProviderAt: 200, At: now})
		}, []q{
			{fields: fs("a", 4), at: 100, match: -1, matchPull: -1, reflects: -1, stale: true},
			{fields: fs("a", 4), at: 300, match: -1, matchPull: -1, reflects: -1},
			{fields: fs("a", 4), at: 0, match: -1, matchPull: -1, reflects: -1},
			{fields: fs("a", 4, "c", 1), at: 100, match: -1, matchPull: -1, reflects: -1},
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
