package clocktest

import (
	"testing"
	"time"
)

func TestFrozenMovesOnlyByAdvance(t *testing.T) {
	t.Parallel()
	c := Frozen(Epoch)
	if !c.Now().Equal(Epoch) || !c.Now().Equal(c.Now()) {
		t.Fatalf("frozen clock moved: %v", c.Now())
	}
	c.Advance(90 * time.Second)
	c.Advance(-time.Hour)
	if got := c.Now(); !got.Equal(Epoch.Add(90 * time.Second)) {
		t.Fatalf("after Advance(90s) and Advance(-1h): %v", got)
	}
}

func TestRunningFollowsTheWallClockPlusAdvance(t *testing.T) {
	t.Parallel()
	before := time.Now()
	c := Running(before)
	c.Advance(time.Hour)
	got := c.Now()
	after := time.Now()
	if got.Before(before.Add(time.Hour)) || got.After(after.Add(time.Hour)) {
		t.Fatalf("running clock %v outside [%v, %v] + 1h", got, before, after)
	}
	if e := Running(Epoch).Now(); e.Before(Epoch) || e.After(Epoch.Add(time.Minute)) {
		t.Fatalf("Running(Epoch) reads %v", e)
	}
	if a, b := c.Now(), c.Now(); b.Before(a) {
		t.Fatalf("running clock went back: %v then %v", a, b)
	}
}
