package breaker

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	keyA = Key{Provider: "hubspot", Account: "111"}
	keyB = Key{Provider: "hubspot", Account: "222"}
)

func TestObserveOpeningRules(t *testing.T) {
	reset := t0.Add(5 * time.Minute)
	tests := []struct {
		name       string
		obs        Observation
		wantState  State
		wantReason Reason
		wantUntil  time.Time // checked when open
	}{
		{"89% used stays closed", quota(100, 89, reset), Closed, None, time.Time{}},
		{"90% used opens until reset", quota(100, 90, reset), Open, QuotaThreshold, reset},
		{"exhausted opens until reset", quota(100, 100, reset), Open, QuotaThreshold, reset},
		{"over threshold, unknown reset uses cool down", quota(100, 95, time.Time{}), Open, QuotaThreshold, t0.Add(DefaultCoolDown)},
		{"over threshold, past reset uses cool down", quota(100, 95, t0.Add(-time.Second)), Open, QuotaThreshold, t0.Add(DefaultCoolDown)},
		{"reset beyond MaxOpen is capped", quota(100, 95, t0.Add(5*time.Hour)), Open, QuotaThreshold, t0.Add(DefaultMaxOpen)},
		{"remaining 0 with unknown limit opens", Observation{Limit: Unknown, Remaining: 0, Reset: reset}, Open, QuotaThreshold, reset},
		{"remaining above limit is clamped, stays closed", Observation{Limit: 10, Remaining: 50}, Closed, None, time.Time{}},
		{"no quota info stays closed", ok200, Closed, None, time.Time{}},
		{"limit 0 is unknown", Observation{Limit: 0, Remaining: 5}, Closed, None, time.Time{}},
		{"429 with Retry-After", Observation{Limit: Unknown, Remaining: Unknown, RetryAfter: 30 * time.Second, StatusCode: 429}, Open, Upstream429, t0.Add(30 * time.Second)},
		{"throttled flag with reset", Observation{Limit: Unknown, Remaining: Unknown, Reset: reset, Throttled: true}, Open, Upstream429, reset},
		{"throttled without reset or retry uses cool down", Observation{Limit: Unknown, Remaining: Unknown, Throttled: true}, Open, Upstream429, t0.Add(DefaultCoolDown)},
		{"throttle wins over threshold", Observation{Limit: 100, Remaining: 0, Reset: reset, RetryAfter: 10 * time.Second, StatusCode: 429}, Open, Upstream429, t0.Add(10 * time.Second)},
		{"huge Retry-After is capped", Observation{Limit: Unknown, Remaining: Unknown, RetryAfter: 48 * time.Hour, Throttled: true}, Open, Upstream429, t0.Add(DefaultMaxOpen)},
		{"5xx alone does not open", Observation{Limit: Unknown, Remaining: Unknown, StatusCode: 503}, Closed, None, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := newBreakers(t, Config{})
			b.Observe(keyB, quota(100, 10, reset), false)
			b.Observe(keyA, tt.obs, false)

			st := mustStatus(t, b, keyA)
			if st.State != tt.wantState || st.Reason != tt.wantReason {
				t.Fatalf("state/reason = %v/%v, want %v/%v (detail %q)", st.State, st.Reason, tt.wantState, tt.wantReason, st.Detail)
			}
			ok, probe, retry, ast := b.Allow(keyA)
			if tt.wantState == Closed {
				if !ok || probe || retry != 0 {
					t.Errorf("Allow = %v,%v,%s; want allowed", ok, probe, retry)
				}
			} else {
				if !st.OpenUntil.Equal(tt.wantUntil) {
					t.Errorf("OpenUntil = %s, want %s", st.OpenUntil, tt.wantUntil)
				}
				if st.Detail == "" {
					t.Error("open breaker has empty Detail")
				}
				if want := tt.wantUntil.Sub(t0); ok || probe || retry != want {
					t.Errorf("Allow = %v,%v,%s; want rejected with retryAfter %s", ok, probe, retry, want)
				}
				if ast.State != Open {
					t.Errorf("Allow status state = %v, want open", ast.State)
				}
			}
			// Keys are independent.
			if other := mustStatus(t, b, keyB); other.State != Closed {
				t.Errorf("other key state = %v, want closed", other.State)
			}
			if ok, _, _, _ := b.Allow(keyB); !ok {
				t.Error("other key not allowed")
			}
		})
	}
}

func TestStatusQuotaFields(t *testing.T) {
	b, _ := newBreakers(t, Config{})
	reset := t0.Add(time.Minute)
	b.Observe(keyA, quota(200, 50, reset), false)
	st := mustStatus(t, b, keyA)
	if st.Limit != 200 || st.Remaining != 150 || st.UsedFraction != 0.25 || !st.Reset.Equal(reset) {
		t.Errorf("quota fields = %d/%d/%v/%s", st.Limit, st.Remaining, st.UsedFraction, st.Reset)
	}
	// A response without quota headers keeps the last reading.
	b.Observe(keyA, ok200, false)
	if st := mustStatus(t, b, keyA); st.Limit != 200 || st.Remaining != 150 {
		t.Errorf("after headerless response: %d/%d, want 200/150", st.Limit, st.Remaining)
	}
	if st.CallsPerMin != 1 {
		t.Errorf("CallsPerMin = %v, want 1", st.CallsPerMin)
	}
	if _, ok := b.Status(keyB); ok {
		t.Error("Status of unseen key reported ok")
	}
}

func TestAllowUnknownKey(t *testing.T) {
	b, _ := newBreakers(t, Config{})
	ok, probe, retry, st := b.Allow(keyA)
	if !ok || probe || retry != 0 || st.State != Closed || st.Key != keyA || st.UsedFraction != -1 {
		t.Errorf("Allow(unknown) = %v,%v,%s,%+v", ok, probe, retry, st)
	}
	if b.Len() != 0 {
		t.Errorf("Allow created a key: Len = %d", b.Len())
	}
}

// TestHalfOpenProbe walks closed → open → half-open and checks that exactly
// one of many concurrent callers gets the probe, then that the probe's
// outcome closes or reopens the breaker.
func TestHalfOpenProbe(t *testing.T) {
	reset := t0.Add(2 * time.Minute)
	tests := []struct {
		name       string
		probeObs   Observation
		wantState  State
		wantReason Reason
	}{
		{"success closes", quota(100, 0, t0.Add(time.Hour)), Closed, None},
		{"success without quota info closes", ok200, Closed, None},
		{"throttled probe reopens", Observation{Limit: Unknown, Remaining: Unknown, RetryAfter: 20 * time.Second, StatusCode: 429}, Open, Upstream429},
		{"still over threshold reopens", quota(100, 95, t0.Add(time.Hour)), Open, QuotaThreshold},
		{"5xx probe reopens keeping the reason", Observation{Limit: Unknown, Remaining: Unknown, StatusCode: 502}, Open, QuotaThreshold},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, clk := newBreakers(t, Config{})
			b.Observe(keyA, quota(100, 90, reset), false)
			if st := mustStatus(t, b, keyA); st.State != Open {
				t.Fatalf("state = %v, want open", st.State)
			}
			clk.Advance(2 * time.Minute)
			if st := mustStatus(t, b, keyA); st.State != HalfOpen || st.Reason != QuotaThreshold {
				t.Fatalf("after reset state/reason = %v/%v, want half-open/quota_threshold", st.State, st.Reason)
			}

			const callers = 20
			var probes, allowed, rejected atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					ok, probe, retry, _ := b.Allow(keyA)
					if ok {
						allowed.Add(1)
					} else if retry == probeRetryAfter {
						rejected.Add(1)
					}
					if probe {
						probes.Add(1)
					}
				}()
			}
			close(start)
			wg.Wait()
			if probes.Load() != 1 || allowed.Load() != 1 || rejected.Load() != callers-1 {
				t.Fatalf("probes=%d allowed=%d rejected=%d, want 1/1/%d", probes.Load(), allowed.Load(), rejected.Load(), callers-1)
			}

			// A non-probe response (a read) does not decide.
			b.Observe(keyA, ok200, false)
			if st := mustStatus(t, b, keyA); st.State != HalfOpen {
				t.Fatalf("after non-probe read state = %v, want half-open", st.State)
			}

			b.Observe(keyA, tt.probeObs, true)
			st := mustStatus(t, b, keyA)
			if st.State != tt.wantState || st.Reason != tt.wantReason {
				t.Fatalf("after probe state/reason = %v/%v, want %v/%v", st.State, st.Reason, tt.wantState, tt.wantReason)
			}
			ok, probe, _, _ := b.Allow(keyA)
			if ok != (tt.wantState == Closed) || probe {
				t.Errorf("Allow after probe = %v,%v", ok, probe)
			}
			if tt.wantState == Open && !st.OpenUntil.After(clk.Now()) {
				t.Errorf("reopened until %s, not after now", st.OpenUntil)
			}
		})
	}
}

func TestProbeTimeout(t *testing.T) {
	b, clk := newBreakers(t, Config{ProbeTimeout: 10 * time.Second})
	b.Trip(keyA, Manual, "test", t0.Add(time.Minute))
	clk.Advance(time.Minute)
	if ok, probe, _, _ := b.Allow(keyA); !ok || !probe {
		t.Fatalf("first Allow in half-open = %v,%v; want probe", ok, probe)
	}
	clk.Advance(9 * time.Second)
	if ok, _, retry, _ := b.Allow(keyA); ok || retry != probeRetryAfter {
		t.Fatalf("Allow during probe = %v (retry %s); want rejected with %s", ok, retry, probeRetryAfter)
	}
	clk.Advance(time.Second)
	if ok, probe, _, _ := b.Allow(keyA); !ok || !probe {
		t.Fatalf("Allow after probe timeout = %v,%v; want a new probe", ok, probe)
	}
}

func TestObserveWhileOpen(t *testing.T) {
	b, clk := newBreakers(t, Config{MaxOpen: 10 * time.Minute})
	b.Observe(keyA, Observation{Limit: Unknown, Remaining: Unknown, RetryAfter: time.Minute, Throttled: true}, false)
	if st := mustStatus(t, b, keyA); !st.OpenUntil.Equal(t0.Add(time.Minute)) {
		t.Fatalf("OpenUntil = %s", st.OpenUntil)
	}
	steps := []struct {
		name      string
		advance   time.Duration
		obs       Observation
		wantUntil time.Time
	}{
		{"successful read does not close", 10 * time.Second, ok200, t0.Add(time.Minute)},
		{"a later 429 extends", 10 * time.Second, Observation{Limit: Unknown, Remaining: Unknown, RetryAfter: 2 * time.Minute, Throttled: true}, t0.Add(20*time.Second + 2*time.Minute)},
		{"an earlier end does not shorten", 0, Observation{Limit: Unknown, Remaining: Unknown, RetryAfter: time.Second, Throttled: true}, t0.Add(20*time.Second + 2*time.Minute)},
		{"extension capped at openedAt+MaxOpen", time.Minute, Observation{Limit: Unknown, Remaining: Unknown, RetryAfter: time.Hour, Throttled: true}, t0.Add(10 * time.Minute)},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			clk.Advance(s.advance)
			b.Observe(keyA, s.obs, false)
			st := mustStatus(t, b, keyA)
			if st.State != Open || !st.OpenUntil.Equal(s.wantUntil) {
				t.Errorf("state %v until %s, want open until %s", st.State, st.OpenUntil, s.wantUntil)
			}
		})
	}
}

func TestTripAndReset(t *testing.T) {
	tests := []struct {
		name       string
		reason     Reason
		until      time.Time
		wantReason Reason
		wantUntil  time.Time
	}{
		{"loop detected until given time", LoopDetected, t0.Add(5 * time.Minute), LoopDetected, t0.Add(5 * time.Minute)},
		{"zero until uses cool down", Manual, time.Time{}, Manual, t0.Add(DefaultCoolDown)},
		{"past until uses cool down", Manual, t0.Add(-time.Hour), Manual, t0.Add(DefaultCoolDown)},
		{"until capped by MaxOpen", LoopDetected, t0.Add(24 * time.Hour), LoopDetected, t0.Add(DefaultMaxOpen)},
		{"reason none becomes manual", None, t0.Add(time.Minute), Manual, t0.Add(time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := newBreakers(t, Config{})
			var tr transitions
			b.OnChange(tr.add)
			b.Trip(keyA, tt.reason, "admin says so", tt.until)
			st := mustStatus(t, b, keyA)
			if st.State != Open || st.Reason != tt.wantReason || !st.OpenUntil.Equal(tt.wantUntil) || st.Detail != "admin says so" {
				t.Fatalf("after Trip: %v/%v until %s detail %q", st.State, st.Reason, st.OpenUntil, st.Detail)
			}
			if ok, _, retry, _ := b.Allow(keyA); ok || retry != tt.wantUntil.Sub(t0) {
				t.Errorf("Allow = %v retry %s", ok, retry)
			}
			if !b.Reset(keyA) {
				t.Fatal("Reset(known key) = false")
			}
			if st := mustStatus(t, b, keyA); st.State != Closed || st.Reason != None || !st.OpenUntil.IsZero() {
				t.Errorf("after Reset: %v/%v until %s", st.State, st.Reason, st.OpenUntil)
			}
			if ok, _, _, _ := b.Allow(keyA); !ok {
				t.Error("Allow after Reset rejected")
			}
			if b.Reset(keyB) {
				t.Error("Reset(unknown key) = true")
			}
			if got := tr.states(); len(got) != 2 || got[0] != Open || got[1] != Closed {
				t.Errorf("transitions = %v, want [open closed]", got)
			}
		})
	}
}

func TestTripOpenBreaker(t *testing.T) {
	b, _ := newBreakers(t, Config{})
	var tr transitions
	b.OnChange(tr.add)
	b.Observe(keyA, quota(100, 95, t0.Add(10*time.Minute)), false)
	b.Trip(keyA, LoopDetected, "loop on contact 7", t0.Add(5*time.Minute))
	st := mustStatus(t, b, keyA)
	if st.Reason != LoopDetected || !st.OpenUntil.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("re-trip: reason %v until %s; want loop_detected, later end kept", st.Reason, st.OpenUntil)
	}
	b.Trip(keyA, LoopDetected, "again", t0.Add(20*time.Minute))
	if st := mustStatus(t, b, keyA); !st.OpenUntil.Equal(t0.Add(20 * time.Minute)) {
		t.Errorf("re-trip with later end: until %s", st.OpenUntil)
	}
	if got := tr.states(); len(got) != 1 {
		t.Errorf("transitions = %v, want one (re-trips are not transitions)", got)
	}
}

func TestOnChangeSequence(t *testing.T) {
	b, clk := newBreakers(t, Config{})
	var tr transitions
	var nested atomic.Int32
	b.OnChange(tr.add)
	b.OnChange(nil) // ignored
	b.OnChange(func(st Status) {
		// Callbacks run outside the locks: calling back must not deadlock.
		if _, ok := b.Status(st.Key); ok {
			nested.Add(1)
		}
	})

	b.Observe(keyA, quota(100, 90, t0.Add(time.Minute)), false) // closed → open
	clk.Advance(time.Minute)
	b.Allow(keyA)                                                                           // open → half-open, probe taken
	b.Observe(keyA, Observation{Limit: Unknown, Remaining: Unknown, StatusCode: 500}, true) // half-open → open
	clk.Advance(DefaultCoolDown)
	if _, probe, _, _ := b.Allow(keyA); !probe { // open → half-open
		t.Fatal("no probe after cool down")
	}
	b.Observe(keyA, quota(100, 1, t0.Add(time.Hour)), true)  // half-open → closed
	b.Observe(keyA, quota(100, 2, t0.Add(time.Hour)), false) // no transition

	want := []State{Open, HalfOpen, Open, HalfOpen, Closed}
	got := tr.states()
	if len(got) != len(want) {
		t.Fatalf("transitions = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("transitions = %v, want %v", got, want)
		}
	}
	if tr.got[0].Reason != QuotaThreshold || tr.got[4].Reason != None {
		t.Errorf("reasons = %v, %v", tr.got[0].Reason, tr.got[4].Reason)
	}
	if int(nested.Load()) != len(want) {
		t.Errorf("nested callback ran %d times, want %d", nested.Load(), len(want))
	}
}

func TestAllSorted(t *testing.T) {
	b, _ := newBreakers(t, Config{})
	keys := []Key{{"zendesk", "1"}, {"hubspot", "b"}, {"hubspot", "a"}, {"github", "z"}}
	for _, k := range keys {
		b.Observe(k, ok200, false)
	}
	b.Trip(Key{"hubspot", "b"}, Manual, "", time.Time{})
	all := b.All()
	want := []Key{{"github", "z"}, {"hubspot", "a"}, {"hubspot", "b"}, {"zendesk", "1"}}
	if len(all) != len(want) {
		t.Fatalf("All() returned %d statuses, want %d", len(all), len(want))
	}
	for i, k := range want {
		if all[i].Key != k {
			t.Errorf("All()[%d].Key = %v, want %v", i, all[i].Key, k)
		}
	}
	if all[2].State != Open {
		t.Errorf("hubspot/b state = %v, want open", all[2].State)
	}
}
