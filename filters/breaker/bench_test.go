package breaker

import (
	"testing"
	"time"
)

// steppingClock advances by step on every call, without locking: for
// single-goroutine benchmarks only.
func steppingClock(step time.Duration) func() time.Time {
	t := t0
	return func() time.Time {
		t = t.Add(step)
		return t
	}
}

func BenchmarkAllowClosed(b *testing.B) {
	br, err := New(Config{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	br.Observe(keyA, Observation{Limit: 1000, Remaining: 900, Reset: time.Now().Add(time.Minute)}, false)
	b.ReportAllocs()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ok, _, _, _ := br.Allow(keyA); !ok {
				b.Fatal("rejected")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				br.Allow(keyA)
			}
		})
	})
}

func BenchmarkObserve(b *testing.B) {
	br, err := New(Config{}, steppingClock(10*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	reset := t0.Add(time.Hour)
	obs := Observation{Limit: 1 << 40, Remaining: 1 << 39, Reset: reset, StatusCode: 200}
	// 100 calls/s steady from the start: the baseline matches the rate, so
	// the burn rule is evaluated on every call but never trips.
	b.ReportAllocs()
	for b.Loop() {
		br.Observe(keyA, obs, false)
	}
	if st, _ := br.Status(keyA); st.State != Closed {
		b.Fatalf("breaker opened: %+v", st)
	}
}

func BenchmarkLoopsInbound(b *testing.B) {
	b.Run("unknown record", func(b *testing.B) {
		l, err := NewLoops(LoopConfig{}, steppingClock(time.Second))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			l.Inbound(rec)
		}
	})
	b.Run("write and bounce", func(b *testing.B) {
		// One bounce every 40s: at most two in a 60s window, never
		// quarantined, so this measures the steady state.
		l, err := NewLoops(LoopConfig{}, steppingClock(20*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			l.Wrote(rec)
			if q, _ := l.Inbound(rec); q {
				b.Fatal("quarantined")
			}
		}
	})
}
