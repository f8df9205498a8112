package ledger

import (
	"fmt"
	"testing"
	"time"
)

func TestDedupSet(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	d := newDedupSet(1)
	d.perPart = 4 // tiny stripes to exercise makeRoom
	d.mark("a", now, now.Add(time.Minute))
	cases := []struct {
		id   string
		at   time.Duration
		want bool
	}{
		{"a", 0, true},
		{"a", 59 * time.Second, true},
		{"a", time.Minute, false}, // expiry is exclusive
		{"b", 0, false},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.id, c.at), func(t *testing.T) {
			if got := d.seen(c.id, now.Add(c.at)); got != c.want {
				t.Fatalf("seen(%s, +%s) = %v", c.id, c.at, got)
			}
		})
	}
	// Filling far past the bound: the set stays bounded, and ids marked
	// last are still known (room is made before inserting).
	for i := range 1000 {
		d.mark(fmt.Sprint("x", i), now, now.Add(time.Hour))
	}
	if n := d.len(); n > dedupStripes*4 {
		t.Fatalf("set grew to %d, bound %d", n, dedupStripes*4)
	}
	if !d.seen("x999", now) {
		t.Fatal("the last marked id was forgotten")
	}
	if d.evicted.Load() == 0 {
		t.Fatal("no eviction counted")
	}
	// Expired ids are forgotten before live ones.
	e := newDedupSet(1)
	e.perPart = 1
	var old, fresh string
	for i := 0; ; i++ { // two ids in the same stripe
		s := fmt.Sprint("s", i)
		if e.id(s).a%dedupStripes != e.id("s0").a%dedupStripes || s == "s0" {
			continue
		}
		old, fresh = "s0", s
		break
	}
	e.mark(old, now, now.Add(time.Second))
	e.mark(fresh, now.Add(2*time.Second), now.Add(time.Hour))
	if e.evicted.Load() != 0 || !e.seen(fresh, now.Add(2*time.Second)) {
		t.Fatalf("an expired id should make room without an eviction: evicted %d", e.evicted.Load())
	}
}
