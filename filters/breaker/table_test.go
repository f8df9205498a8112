package breaker

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestKeyBound(t *testing.T) {
	b, clk := newBreakers(t, Config{MaxKeys: 3})
	k := func(i int) Key { return Key{"p", string(rune('a' + i))} }
	for i := range 3 {
		b.Observe(k(i), ok200, false)
		if i == 0 {
			b.Trip(k(0), Manual, "", time.Time{}) // the oldest is open: it must survive
		}
		clk.Advance(time.Second)
	}
	b.Observe(k(3), ok200, false) // evicts k(1), the oldest closed key
	if b.Len() != 3 {
		t.Fatalf("Len = %d, want 3", b.Len())
	}
	if _, ok := b.Status(k(1)); ok {
		t.Error("oldest closed key k(1) was not evicted")
	}
	for _, i := range []int{0, 2, 3} {
		if _, ok := b.Status(k(i)); !ok {
			t.Errorf("key %v evicted", k(i))
		}
	}

	// With every key open nothing can be evicted: Observe does not track
	// a new key, Trip still does.
	b.Trip(k(2), Manual, "", time.Time{})
	b.Trip(k(3), Manual, "", time.Time{})
	b.Observe(k(4), ok200, false)
	if _, ok := b.Status(k(4)); ok {
		t.Error("Observe tracked a key beyond the bound with nothing evictable")
	}
	b.Trip(k(5), LoopDetected, "", time.Time{})
	if st, ok := b.Status(k(5)); !ok || st.State != Open {
		t.Error("Trip did not track a key beyond the bound")
	}
}

// TestConcurrentUse exercises every method from many goroutines under the
// race detector and checks the table bound holds.
func TestConcurrentUse(t *testing.T) {
	b, clk := newBreakers(t, Config{MaxKeys: 8})
	var changes atomic.Int64
	b.OnChange(func(Status) { changes.Add(1) })
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				k := Key{"p", string(rune('a' + (g*7+i)%12))}
				ok, probe, _, _ := b.Allow(k)
				switch {
				case i%50 == 0:
					b.Trip(k, LoopDetected, "x", time.Time{})
				case i%37 == 0:
					b.Reset(k)
				case ok:
					b.Observe(k, quota(100, int64(i%100), clk.Now().Add(time.Second)), probe)
				}
				if i%25 == 0 {
					b.All()
					clk.Advance(time.Second)
				}
			}
		}()
	}
	wg.Wait()
	if n := b.Len(); n > 8+12 { // Trip may exceed the bound only with every key open
		t.Errorf("Len = %d, want bounded", n)
	}
	if changes.Load() == 0 {
		t.Error("no transitions observed")
	}
}

func TestHotPathAllocs(t *testing.T) {
	b, _ := newBreakers(t, Config{})
	b.Observe(keyA, quota(1000, 10, t0.Add(time.Minute)), false)
	if n := testing.AllocsPerRun(100, func() { b.Allow(keyA) }); n != 0 {
		t.Errorf("Allow on a closed key allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { b.Allow(keyB) }); n != 0 {
		t.Errorf("Allow on an unknown key allocates %v times", n)
	}
	obs := quota(1000, 10, t0.Add(time.Minute))
	if n := testing.AllocsPerRun(50, func() { b.Observe(keyA, obs, false) }); n != 0 {
		t.Errorf("Observe on a closed key allocates %v times", n)
	}
}
