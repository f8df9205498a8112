package breaker

import (
	"testing"
	"time"
)

// feed observes n calls spread evenly over d, advancing the clock.
func feed(b *Breakers, clk *fakeClock, k Key, n int, d time.Duration) {
	step := d / time.Duration(n)
	for range n {
		b.Observe(k, ok200, false)
		clk.Advance(step)
	}
}

func TestBurnRate(t *testing.T) {
	tests := []struct {
		name        string
		cfg         Config
		basePerMin  int // calls per minute before the spike
		baseMinutes int
		spike       int // calls in the spike minute
		wantOpen    bool
	}{
		{"20x spike over steady baseline opens", Config{}, 10, 15, 200, true},
		{"20x spike below BurnMinCalls does not open", Config{}, 1, 15, 20, false},
		{"5x jump stays under factor 10", Config{}, 20, 15, 100, false},
		{"spike opens with a short history", Config{}, 10, 3, 200, true},
		{"spike without baseline history does not open", Config{}, 10, 1, 200, false},
		{"spike after idle history opens (baseline 0)", Config{}, 0, 15, 100, true},
		{"negative BurnFactor disables", Config{BurnFactor: -1}, 10, 15, 200, false},
		{"lower BurnMinCalls catches a small spike", Config{BurnMinCalls: 10}, 1, 15, 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, clk := newBreakers(t, tt.cfg)
			// The first call starts the key's history; the baseline then
			// needs complete minutes after it.
			b.Observe(keyA, ok200, false)
			clk.Advance(time.Minute)
			for range tt.baseMinutes {
				if tt.basePerMin == 0 {
					clk.Advance(time.Minute)
					continue
				}
				feed(b, clk, keyA, tt.basePerMin, time.Minute)
			}
			if st := mustStatus(t, b, keyA); st.State != Closed {
				t.Fatalf("opened during the baseline: %+v", st)
			}
			var opened Status
			b.OnChange(func(st Status) { opened = st })
			feed(b, clk, keyA, tt.spike, 30*time.Second)
			st := mustStatus(t, b, keyA)
			if got := st.State == Open; got != tt.wantOpen {
				t.Fatalf("open = %v, want %v (calls/min %.1f, baseline %.1f)", got, tt.wantOpen, st.CallsPerMin, st.BaselinePerMin)
			}
			if !tt.wantOpen {
				return
			}
			if st.Reason != BurnRate || st.Detail == "" {
				t.Errorf("reason %v detail %q, want burn_rate with detail", st.Reason, st.Detail)
			}
			if want := opened.Since.Add(DefaultCoolDown); !st.OpenUntil.Equal(want) {
				t.Errorf("OpenUntil = %s, want trip time + CoolDown = %s", st.OpenUntil, want)
			}
			if opened.State != Open || opened.Reason != BurnRate {
				t.Errorf("OnChange got %v/%v", opened.State, opened.Reason)
			}
			if want := float64(tt.basePerMin); tt.baseMinutes >= 2 && st.BaselinePerMin != want {
				t.Errorf("BaselinePerMin = %v, want %v", st.BaselinePerMin, want)
			}
		})
	}
}

func TestBurnRateOtherKeyUntouched(t *testing.T) {
	b, clk := newBreakers(t, Config{})
	b.Observe(keyA, ok200, false)
	b.Observe(keyB, ok200, false)
	clk.Advance(time.Minute)
	for range 15 {
		for range 10 {
			b.Observe(keyA, ok200, false)
			b.Observe(keyB, ok200, false)
			clk.Advance(6 * time.Second)
		}
	}
	feed(b, clk, keyA, 200, 30*time.Second)
	if st := mustStatus(t, b, keyA); st.State != Open {
		t.Fatalf("spiking key state = %v, want open", st.State)
	}
	if st := mustStatus(t, b, keyB); st.State != Closed {
		t.Errorf("steady key state = %v, want closed", st.State)
	}
}

func TestResetForgetsBurnHistory(t *testing.T) {
	b, clk := newBreakers(t, Config{})
	b.Observe(keyA, ok200, false)
	clk.Advance(time.Minute)
	for range 15 {
		feed(b, clk, keyA, 10, time.Minute)
	}
	feed(b, clk, keyA, 200, 30*time.Second)
	if st := mustStatus(t, b, keyA); st.State != Open {
		t.Fatalf("state = %v, want open", st.State)
	}
	b.Reset(keyA)
	feed(b, clk, keyA, 100, 10*time.Second)
	if st := mustStatus(t, b, keyA); st.State != Closed {
		t.Errorf("burn rule undid the admin reset: %v/%v", st.State, st.Reason)
	}
}

func TestRateRing(t *testing.T) {
	r := newRateRing(3) // 5 buckets
	at := func(min, sec int) time.Time {
		return t0.Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second)
	}
	for i := range 6 { // minute 0: 6 calls (partial first minute, excluded)
		r.add(at(0, i))
	}
	for m := 1; m <= 5; m++ {
		for range m * 10 {
			r.add(at(m, 1))
		}
	}
	tests := []struct {
		name     string
		now      time.Time
		wantLast float64
		wantBase float64
		wantOK   bool
	}{
		// At 5:30 the last minute is all of minute 5 (50) and half of
		// minute 4 (40/2); the baseline is minutes 1..3 → (10+20+30)/3.
		{"mid minute", at(5, 30), 70, 20, true},
		{"start of minute", at(5, 0), 90, 20, true},
		// At 6:00 minute 6 is empty; baseline minutes 2..4.
		{"next minute", at(6, 0), 50, 30, true},
		// Far in the future every bucket is stale.
		{"stale", at(30, 0), 0, 0, true},
		// At 2:00 the baseline would be minute 0, the partial first one.
		{"too early", at(2, 0), 20 + 10, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, frac := minuteOf(tt.now)
			if got := r.lastMinute(m, frac); got != tt.wantLast {
				t.Errorf("lastMinute = %v, want %v", got, tt.wantLast)
			}
			base, ok := r.baseline(m)
			if base != tt.wantBase || ok != tt.wantOK {
				t.Errorf("baseline = %v,%v want %v,%v", base, ok, tt.wantBase, tt.wantOK)
			}
		})
	}

	// A call from a clock that went back further than the ring is dropped.
	m, frac := minuteOf(at(5, 30))
	before := r.lastMinute(m, frac)
	r.add(at(0, 1))
	if got := r.lastMinute(m, frac); got != before {
		t.Errorf("stale add changed the ring: %v → %v", before, got)
	}
	r.reset()
	if _, ok := r.baseline(m); ok {
		t.Error("baseline ok after reset")
	}
}

func TestMinuteOfBeforeEpoch(t *testing.T) {
	tests := []struct {
		t        time.Time
		wantMin  int64
		wantFrac float64
	}{
		{time.Unix(0, 0), 0, 0},
		{time.Unix(90, 0), 1, 0.5},
		{time.Unix(-30, 0), -1, 0.5},
		{time.Unix(-60, 0), -1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.t.String(), func(t *testing.T) {
			m, f := minuteOf(tt.t)
			if m != tt.wantMin || f != tt.wantFrac {
				t.Errorf("minuteOf = %d,%v want %d,%v", m, f, tt.wantMin, tt.wantFrac)
			}
		})
	}
}
