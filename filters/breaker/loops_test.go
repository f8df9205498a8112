package breaker

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var rec = RecordKey{Provider: "hubspot", Account: "111", Object: "contacts", Record: "42"}

// step is one action on a record in a loop-detector script.
type step struct {
	after time.Duration // clock advance before the action
	write bool          // Wrote (true) or Inbound (false)
}

// bounces returns n write → event round trips spaced by gap.
func bounces(n int, gap time.Duration) []step {
	var s []step
	for range n {
		s = append(s, step{after: gap, write: true}, step{after: time.Second, write: false})
	}
	return s
}

// play runs steps on rec, advancing clk before each; q and n are the last
// Inbound's answer.
func play(l *Loops, clk *fakeClock, steps []step) (q bool, n int) {
	for _, s := range steps {
		clk.Advance(s.after)
		if s.write {
			l.Wrote(rec)
		} else {
			q, n = l.Inbound(rec)
		}
	}
	return q, n
}

func TestLoopsInbound(t *testing.T) {
	tests := []struct {
		name      string
		steps     []step
		wantQ     bool
		wantCount int
	}{
		{"5 bounces within 60s quarantine", bounces(5, 10*time.Second), true, 5},
		{"4 bounces within 60s do not", bounces(4, 10*time.Second), false, 4},
		{"5 bounces spread over more than the window do not", bounces(5, 20*time.Second), false, 3},
		{"events without writes between them count once", append(bounces(1, 0), step{time.Second, false}, step{time.Second, false}, step{time.Second, false}, step{time.Second, false}), false, 1},
		{"several writes before one event are one bounce", []step{{0, true}, {time.Second, true}, {time.Second, true}, {time.Second, false}}, false, 1},
		{"a write older than the window does not count", []step{{0, true}, {61 * time.Second, false}}, false, 0},
		{"event for a never-written record", []step{{0, false}}, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, clk := newLoops(t, LoopConfig{})
			var fired []QuarantineInfo
			l.OnQuarantine(func(q QuarantineInfo) { fired = append(fired, q) })
			q, n := play(l, clk, tt.steps)
			if q != tt.wantQ || n != tt.wantCount {
				t.Fatalf("Inbound = %v,%d want %v,%d", q, n, tt.wantQ, tt.wantCount)
			}
			if got, _ := l.Quarantined(rec); got != tt.wantQ {
				t.Errorf("Quarantined = %v, want %v", got, tt.wantQ)
			}
			wantFired := 0
			if tt.wantQ {
				wantFired = 1
			}
			if len(fired) != wantFired {
				t.Fatalf("OnQuarantine fired %d times, want %d", len(fired), wantFired)
			}
			if tt.wantQ {
				info := fired[0]
				if info.Key != rec || info.Count != 5 || !info.Until.Equal(info.Since.Add(DefaultQuarantine)) || info.Reason == "" {
					t.Errorf("QuarantineInfo = %+v", info)
				}
			}
		})
	}
}

func TestLoopsStayQuarantinedUntilRelease(t *testing.T) {
	tests := []struct {
		name    string
		release func(l *Loops, clk *fakeClock) bool
		// wantUntil is the released info's Until, from the quarantine start
		// and the release time.
		wantUntil func(since, now time.Time) time.Time
	}{
		{
			"by call",
			func(l *Loops, clk *fakeClock) bool { clk.Advance(time.Minute); return l.Release(rec) },
			func(_, now time.Time) time.Time { return now },
		},
		{
			"by time",
			func(l *Loops, clk *fakeClock) bool { clk.Advance(DefaultQuarantine); return true },
			func(since, _ time.Time) time.Time { return since.Add(DefaultQuarantine) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, clk := newLoops(t, LoopConfig{})
			var releases []QuarantineInfo
			l.OnRelease(func(q QuarantineInfo) { releases = append(releases, q) })
			play(l, clk, bounces(5, 5*time.Second))
			since := clk.Now()
			// Later events without bounces still report quarantined.
			clk.Advance(2 * time.Minute)
			if q, _ := l.Inbound(rec); !q {
				t.Fatal("quarantine lifted before release")
			}
			if list := l.List(); len(list) != 1 || list[0].Key != rec {
				t.Fatalf("List = %+v", list)
			}
			if !tt.release(l, clk) {
				t.Fatal("Release = false for a quarantined record")
			}
			if q, _ := l.Quarantined(rec); q {
				t.Error("still quarantined after release")
			}
			if q, n := l.Inbound(rec); q || n != 0 {
				t.Errorf("Inbound after release = %v,%d want false,0", q, n)
			}
			if list := l.List(); len(list) != 0 {
				t.Errorf("List after release = %+v", list)
			}
			if len(releases) != 1 || releases[0].Key != rec || !releases[0].Since.Equal(since) {
				t.Fatalf("OnRelease calls = %+v", releases)
			}
			if want := tt.wantUntil(since, clk.Now()); !releases[0].Until.Equal(want) {
				t.Errorf("released Until = %s, want %s", releases[0].Until, want)
			}
			if l.Release(rec) {
				t.Error("second Release = true")
			}
		})
	}
}

func TestLoopsRequarantineAfterRelease(t *testing.T) {
	l, clk := newLoops(t, LoopConfig{Threshold: 2})
	var count atomic.Int32
	l.OnQuarantine(func(QuarantineInfo) { count.Add(1) })
	run := func() {
		play(l, clk, bounces(2, time.Second))
	}
	run()
	l.Release(rec)
	if q, _ := l.Quarantined(rec); q {
		t.Fatal("quarantined after release")
	}
	run()
	if q, _ := l.Quarantined(rec); !q || count.Load() != 2 {
		t.Errorf("quarantined=%v after a new loop, OnQuarantine fired %d times; want true, 2", q, count.Load())
	}
}

func TestLoopsListSortedAndSweep(t *testing.T) {
	l, clk := newLoops(t, LoopConfig{Threshold: 1})
	keys := []RecordKey{
		{"stripe", "acct", "customer", "c1"},
		{"hubspot", "2", "contacts", "9"},
		{"hubspot", "1", "deals", "3"},
	}
	for _, k := range keys {
		l.Wrote(k)
		l.Inbound(k)
	}
	idle := RecordKey{"hubspot", "1", "contacts", "idle"}
	l.Wrote(idle)
	list := l.List()
	want := []RecordKey{keys[2], keys[1], keys[0]}
	if len(list) != len(want) {
		t.Fatalf("List = %+v", list)
	}
	for i, k := range want {
		if list[i].Key != k {
			t.Errorf("List[%d] = %v, want %v", i, list[i].Key, k)
		}
	}
	if n := l.Sweep(); n != 0 {
		t.Errorf("Sweep right away removed %d, want 0", n)
	}
	clk.Advance(time.Minute)
	if n := l.Sweep(); n != 1 || l.Len() != 3 {
		t.Errorf("Sweep after window removed %d (Len %d), want 1 (3)", n, l.Len())
	}
	var released atomic.Int32
	l.OnRelease(func(QuarantineInfo) { released.Add(1) })
	clk.Advance(DefaultQuarantine)
	if n := l.Sweep(); n != 3 || released.Load() != 3 || l.Len() != 0 {
		t.Errorf("Sweep after quarantine removed %d, released %d, Len %d; want 3, 3, 0", n, released.Load(), l.Len())
	}
}

func TestLoopsRecordBound(t *testing.T) {
	l, clk := newLoops(t, LoopConfig{Threshold: 1, MaxRecords: 2})
	k := func(i int) RecordKey { return RecordKey{"p", "a", "o", string(rune('a' + i))} }
	l.Wrote(k(0))
	l.Inbound(k(0)) // quarantined: must not be evicted
	clk.Advance(time.Second)
	l.Wrote(k(1))
	clk.Advance(time.Second)
	l.Wrote(k(2)) // evicts k(1)
	if l.Len() != 2 {
		t.Fatalf("Len = %d, want 2", l.Len())
	}
	if q, _ := l.Quarantined(k(0)); !q {
		t.Error("quarantined record evicted")
	}
	if _, n := l.Inbound(k(1)); n != 0 {
		t.Error("k(1) still tracked")
	}
	if _, n := l.Inbound(k(2)); n != 1 {
		t.Error("k(2) not tracked")
	}
}

func TestLoopsConcurrent(t *testing.T) {
	l, _ := newLoops(t, LoopConfig{Threshold: 3})
	var quarantines atomic.Int32
	l.OnQuarantine(func(QuarantineInfo) { quarantines.Add(1) })
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := RecordKey{"p", "a", "o", string(rune('a' + g))}
			for range 10 {
				l.Wrote(k)
				l.Inbound(k)
				l.List()
			}
		}()
	}
	wg.Wait()
	if quarantines.Load() != 8 || len(l.List()) != 8 {
		t.Errorf("quarantines = %d, listed %d; want 8 each", quarantines.Load(), len(l.List()))
	}
}

func TestLoopsInboundAllocs(t *testing.T) {
	clk := newClock()
	l, err := NewLoops(LoopConfig{}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	n := testing.AllocsPerRun(100, func() {
		clk.Advance(30 * time.Second) // at most 2 bounces per window: never quarantined
		l.Wrote(rec)
		l.Inbound(rec)
	})
	if n != 0 {
		t.Errorf("Wrote+Inbound on a known record allocates %v times", n)
	}
}

// TestLoopsEchoedWriteIsNotARoundTrip: a write whose echo was dropped does
// not make the next genuine event a round trip, so a record a person keeps
// editing (and the app keeps writing back) is never quarantined.
func TestLoopsEchoedWriteIsNotARoundTrip(t *testing.T) {
	l, err := NewLoops(LoopConfig{Threshold: 2, Window: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := RecordKey{Provider: "p", Object: "o", Record: "busy"}
	for i := range 5 {
		l.Inbound(k) // a person's change reaches the app
		l.Wrote(k)   // the app writes it back
		l.Echoed(k)  // its echo is dropped
		if q, n := l.Inbound(k); q || n != 0 {
			t.Fatalf("edit %d: quarantined %v with %d round trips", i, q, n)
		}
	}
	// Without the echo note, the same pattern is a loop.
	l.Wrote(k)
	l.Inbound(k)
	l.Wrote(k)
	if q, n := l.Inbound(k); !q || n != 2 {
		t.Fatalf("real round trips: quarantined %v, %d", q, n)
	}
}

// TestLoopsHeldCount: the count of quarantined records, which lets
// Quarantined answer without the lock, follows every way a quarantine
// starts and ends (by time through each lazy reader, by Release), so a
// quarantined record is never reported free.
func TestLoopsHeldCount(t *testing.T) {
	ends := []struct {
		name string
		end  func(l *Loops, clk *fakeClock)
	}{
		{"Release", func(l *Loops, _ *fakeClock) { l.Release(rec) }},
		{"time, seen by Quarantined", func(l *Loops, clk *fakeClock) { clk.Advance(DefaultQuarantine); l.Quarantined(rec) }},
		{"time, seen by Inbound", func(l *Loops, clk *fakeClock) { clk.Advance(DefaultQuarantine); l.Inbound(rec) }},
		{"time, seen by List", func(l *Loops, clk *fakeClock) { clk.Advance(DefaultQuarantine); l.List() }},
		{"time, seen by Sweep", func(l *Loops, clk *fakeClock) { clk.Advance(DefaultQuarantine); l.Sweep() }},
	}
	for _, tt := range ends {
		t.Run(tt.name, func(t *testing.T) {
			l, clk := newLoops(t, LoopConfig{Threshold: 2})
			other := RecordKey{Provider: "p", Object: "o", Record: "other"}
			l.Wrote(other) // tracked, never quarantined
			if q, _ := l.Quarantined(rec); q || l.held.Load() != 0 {
				t.Fatalf("before any loop: quarantined %v, held %d", q, l.held.Load())
			}
			for round := range 2 { // a record quarantined again after its release counts again
				play(l, clk, bounces(2, time.Second))
				if q, _ := l.Quarantined(rec); !q || l.held.Load() != 1 {
					t.Fatalf("round %d, looping: quarantined %v, held %d; want true, 1", round, q, l.held.Load())
				}
				if q, _ := l.Quarantined(other); q {
					t.Fatalf("round %d: the other record reads quarantined", round)
				}
				tt.end(l, clk)
				if q, _ := l.Quarantined(rec); q || l.held.Load() != 0 {
					t.Fatalf("round %d, released: quarantined %v, held %d; want false, 0", round, q, l.held.Load())
				}
			}
		})
	}
}
