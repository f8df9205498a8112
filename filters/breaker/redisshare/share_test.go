package redisshare

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/redistest"
)

// withinSecond is the promise: a breaker opened on one replica stops
// writes on all within one second.
const withinSecond = time.Second

// TestPublishReachesOtherReplica: publish on A → B's apply gets the same
// key, state, reason and open_until within a second; a close follows; A
// never applies its own changes.
func TestPublishReachesOtherReplica(t *testing.T) {
	prefix := redistest.Prefix(t)
	a := newTestShare(t, Options{Prefix: prefix})
	b := newTestShare(t, Options{Prefix: prefix})
	recA, recB := newRecorder(), newRecorder()
	polls := countPolls(b)
	run(t, a, recA.apply)
	run(t, b, recB.apply)
	waitSubscribers(t, a, 2)

	open := openStatus("acme", time.Minute)
	closed := breaker.Status{Key: open.Key, State: breaker.Closed}
	steps := []struct {
		name string
		pub  breaker.Status
		want breaker.State
	}{
		{"open", open, breaker.Open},
		{"close", closed, breaker.Closed},
		{"open again", openStatus("acme", 2*time.Minute), breaker.Open},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := a.Publish(t.Context(), st.pub); err != nil {
				t.Fatal(err)
			}
			got, took := recB.next(t, withinSecond)
			if got.Key != st.pub.Key || got.State != st.want || !got.OpenUntil.Equal(st.pub.OpenUntil) {
				t.Fatalf("B applied %+v after %v, want key %v state %v until %v", got, took, st.pub.Key, st.want, st.pub.OpenUntil)
			}
			if st.want == breaker.Open && (got.Reason != st.pub.Reason || got.Detail != st.pub.Detail || !got.Since.Equal(st.pub.Since)) {
				t.Fatalf("B applied reason %v %q since %v, want %v %q %v", got.Reason, got.Detail, got.Since, st.pub.Reason, st.pub.Detail, st.pub.Since)
			}
		})
	}
	polls.waitPolls(t) // a poll must not re-apply
	if n := recB.count(); n != len(steps) {
		t.Fatalf("B applied %d changes, want %d (polls must not repeat them)", n, len(steps))
	}
	if n := recA.count(); n != 0 {
		t.Fatalf("A applied %d of its own changes", n)
	}
}

// TestPollFallback: changes whose notification never arrives reach Run by
// polling within PollInterval: an open written without PUBLISH, and a
// close that only removed the record.
func TestPollFallback(t *testing.T) {
	prefix := redistest.Prefix(t)
	a := newTestShare(t, Options{Prefix: prefix})
	b := newTestShare(t, Options{Prefix: prefix})
	rec := newRecorder()

	// Opened before B started: B's first poll finds it at once.
	early := openStatus("early", time.Minute)
	if err := a.Publish(t.Context(), early); err != nil {
		t.Fatal(err)
	}
	run(t, b, rec.apply)
	if got, took := rec.next(t, withinSecond); got.Key != early.Key || got.State != breaker.Open || !got.OpenUntil.Equal(early.OpenUntil) {
		t.Fatalf("initial poll applied %+v after %v", got, took)
	}

	// Opened while B runs, but the message is lost (sent elsewhere).
	lost := openStatus("lost", time.Minute)
	payload, err := encodeWire(lost, a.origin)
	if err != nil {
		t.Fatal(err)
	}
	m := member(lost.Key)
	if err := a.publish.Run(t.Context(), a.client, []string{a.keyPrefix + m, a.index},
		"open", payload, m, ceilMillis(lost.OpenUntil), time.Now().UnixMilli(), "nowhere").Err(); err != nil {
		t.Fatal(err)
	}
	got, took := rec.next(t, DefaultPollInterval+500*time.Millisecond)
	if got.Key != lost.Key || got.State != breaker.Open || !got.OpenUntil.Equal(lost.OpenUntil) {
		t.Fatalf("poll applied %+v after %v", got, took)
	}

	// Closed by a replica whose message B missed: the record vanished
	// long before its end.
	if err := a.client.Del(t.Context(), a.keyPrefix+m).Err(); err != nil {
		t.Fatal(err)
	}
	if err := a.client.ZRem(t.Context(), a.index, m).Err(); err != nil {
		t.Fatal(err)
	}
	got, took = rec.next(t, DefaultPollInterval+500*time.Millisecond)
	if got.Key != lost.Key || got.State != breaker.Closed {
		t.Fatalf("poll applied %+v after %v, want a close of %v", got, took, lost.Key)
	}
}

// TestPublishRules covers what Publish stores and announces.
func TestPublishRules(t *testing.T) {
	s := newTestShare(t, Options{Prefix: redistest.Prefix(t)})
	key := breaker.Key{Provider: "hubspot", Account: "acct-777"}
	later := openStatus("acct-777", 10*time.Minute)
	earlier := openStatus("acct-777", time.Minute)
	cases := []struct {
		name      string
		pub       breaker.Status
		wantOpen  bool
		wantUntil time.Time
	}{
		{"half-open is not shared", breaker.Status{Key: key, State: breaker.HalfOpen}, false, time.Time{}},
		{"open in the past is not shared", openStatus("acct-777", -time.Second), false, time.Time{}},
		{"open is stored", later, true, later.OpenUntil},
		{"an earlier end does not shorten it", earlier, true, later.OpenUntil},
		{"close removes it", breaker.Status{Key: key, State: breaker.Closed}, false, time.Time{}},
		{"after a close an earlier end is stored", earlier, true, earlier.OpenUntil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := s.Publish(t.Context(), c.pub); err != nil {
				t.Fatal(err)
			}
			recs, err := s.openRecords(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if !c.wantOpen {
				if len(recs) != 0 {
					t.Fatalf("open records %+v, want none", recs)
				}
				return
			}
			if len(recs) != 1 || recs[0].key() != key || !fromNano(recs[0].Until).Equal(c.wantUntil) {
				t.Fatalf("open records %+v, want %v until %v", recs, key, c.wantUntil)
			}
		})
	}
}

// TestKeysAreHashedAndExpire: no account in key names, every key expires.
func TestKeysAreHashedAndExpire(t *testing.T) {
	s := newTestShare(t, Options{Prefix: redistest.Prefix(t)})
	st := openStatus("acct-4242", 5*time.Minute)
	if err := s.Publish(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	keys, err := s.client.Keys(t.Context(), s.opts.Prefix+"*").Result()
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys %v (%v), want record and index", keys, err)
	}
	for _, k := range keys {
		if strings.Contains(k, "4242") || strings.Contains(k, "hubspot") {
			t.Fatalf("key %q names the account", k)
		}
		ttl, err := s.client.PTTL(t.Context(), k).Result()
		if err != nil || ttl <= 4*time.Minute || ttl > 5*time.Minute+time.Second {
			t.Fatalf("key %q TTL %v (%v), want about 5m (until OpenUntil)", k, ttl, err)
		}
	}
}

// TestBreakersAcrossReplicas wires two real Breakers through two Shares: a
// trip on A makes B answer writes locally within a second, a reset on A
// closes B, and neither replica echoes the other's change back.
func TestBreakersAcrossReplicas(t *testing.T) {
	prefix := redistest.Prefix(t)
	cfg := breaker.Config{}
	newReplica := func() (*breaker.Breakers, *Share) {
		b, err := breaker.New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := newTestShare(t, Options{Prefix: prefix})
		b.OnChange(s.Notify)
		run(t, s, ApplyTo(b))
		return b, s
	}
	ba, sa := newReplica()
	bb, sb := newReplica()
	polls := countPolls(sb)
	var published atomic.Int32
	sub := sa.client.Subscribe(t.Context(), sa.channel)
	defer sub.Close()
	if _, err := sub.Receive(t.Context()); err != nil { // subscription confirmed
		t.Fatal(err)
	}
	go func() {
		for range sub.Channel() {
			published.Add(1)
		}
	}()
	waitSubscribers(t, sa, 3) // both Runs and this test

	k := breaker.Key{Provider: "hubspot", Account: "acme"}
	until := time.Now().Add(time.Minute)
	ba.Trip(k, breaker.LoopDetected, "loop on contact 42", until)
	waitFor(t, "B's breaker to open", func() bool { ok, _, _, _ := bb.Allow(k); return !ok })
	st, _ := bb.Status(k)
	if st.Reason != breaker.LoopDetected || !st.OpenUntil.Equal(until) {
		t.Fatalf("B's breaker %+v, want loop_detected until %v", st, until)
	}
	ba.Reset(k)
	waitFor(t, "B's breaker to close", func() bool { ok, _, _, _ := bb.Allow(k); return ok })
	polls.waitPolls(t) // a poll must not re-apply or echo
	if n := published.Load(); n != 2 {
		t.Fatalf("%d messages published, want 2 (A's open and close; no echoes)", n)
	}
	if st, _ := ba.Status(k); st.State != breaker.Closed {
		t.Fatalf("A's breaker reopened: %+v", st)
	}
}

// waitFor polls cond for up to a second.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(withinSecond)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", withinSecond, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRedisDownAndBack: Publish fails within its timeout while Redis is
// down; Run survives and delivers again once Redis is back.
func TestRedisDownAndBack(t *testing.T) {
	srv := redistest.Start(t)
	const timeout = 100 * time.Millisecond
	prefix := redistest.Prefix(t)
	a := newTestShare(t, Options{URL: srv.URL(), Prefix: prefix, Timeout: timeout})
	var failed atomic.Int32
	b := newTestShare(t, Options{URL: srv.URL(), Prefix: prefix, Timeout: timeout, OnError: func(error) { failed.Add(1) }})
	rec := newRecorder()
	run(t, b, rec.apply)

	srv.Stop(t)
	start := time.Now()
	if err := a.Publish(t.Context(), openStatus("acme", time.Minute)); err == nil {
		t.Fatal("Publish succeeded with Redis down")
	}
	if took := time.Since(start); took > timeout+250*time.Millisecond {
		t.Fatalf("Publish took %v with Redis down", took)
	}
	// Run polls against a dead Redis meanwhile.
	for deadline := time.Now().Add(DefaultPollInterval + 5*time.Second); failed.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Run reported no failed poll with Redis down")
		}
	}

	srv.Restart(t)
	open := openStatus("acme", time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for a.Publish(t.Context(), open) != nil {
		if time.Now().After(deadline) {
			t.Fatal("Publish did not recover")
		}
		time.Sleep(50 * time.Millisecond)
	}
	got, _ := rec.next(t, 3*time.Second)
	if got.Key != open.Key || got.State != breaker.Open || !got.OpenUntil.Equal(open.OpenUntil) {
		t.Fatalf("after recovery B applied %+v", got)
	}
}

func TestWireDecode(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		wantErr bool
		reason  breaker.Reason
	}{
		{"open", `{"v":1,"o":"x","p":"h","a":"a","s":"open","r":"burn_rate","u":1}`, false, breaker.BurnRate},
		{"closed", `{"v":1,"o":"x","p":"h","a":"a","s":"closed","r":"none"}`, false, breaker.None},
		{"unknown reason keeps it open", `{"v":1,"p":"h","a":"a","s":"open","r":"future","u":1}`, false, breaker.Manual},
		{"not JSON", `{`, true, 0},
		{"other version", `{"v":2,"s":"open","u":1}`, true, 0},
		{"unknown state", `{"v":1,"s":"ajar"}`, true, 0},
		{"open without an end", `{"v":1,"s":"open"}`, true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, err := decodeWire([]byte(c.in))
			if (err != nil) != c.wantErr {
				t.Fatalf("decodeWire(%s) error %v, want error %v", c.in, err, c.wantErr)
			}
			if err == nil && w.status().Reason != c.reason {
				t.Fatalf("reason %v, want %v", w.status().Reason, c.reason)
			}
		})
	}
}

func TestNewOptions(t *testing.T) {
	cases := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"nothing to connect to", Options{}, "required"},
		{"negative poll", Options{URL: "redis://127.0.0.1:1", PollInterval: -1}, "must not be negative"},
		{"bad URL", Options{URL: "http://:pw@x"}, "unsupported scheme"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.opts)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) || strings.Contains(err.Error(), "pw@") {
				t.Fatalf("New error %v, want containing %q", err, c.wantErr)
			}
		})
	}
	s, err := New(Options{URL: "redis://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.opts.Prefix != DefaultPrefix || s.opts.Timeout != DefaultTimeout || s.opts.PollInterval != DefaultPollInterval || s.opts.Now == nil {
		t.Fatalf("defaults not applied: %+v", s.opts)
	}
	if err := s.Publish(context.Background(), breaker.Status{State: breaker.HalfOpen}); err != nil {
		t.Fatalf("half-open publish touched Redis: %v", err)
	}
}

func TestForgetRemote(t *testing.T) {
	now := time.Now()
	s := newTestShare(t, Options{URL: "redis://127.0.0.1:1"})
	cases := []struct {
		name string
		rs   remoteState
		keep bool
	}{
		{"open, still running", remoteState{state: breaker.Open, until: now.Add(time.Minute).UnixNano(), at: now}, true},
		{"open, ended", remoteState{state: breaker.Open, until: now.Add(-time.Second).UnixNano(), at: now}, false},
		{"closed, recent", remoteState{state: breaker.Closed, at: now.Add(-time.Second)}, true},
		{"closed, long ago", remoteState{state: breaker.Closed, at: now.Add(-remoteMemory - time.Second)}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s.remote["m"] = c.rs
			s.forgetRemote(now)
			if _, kept := s.remote["m"]; kept != c.keep {
				t.Fatalf("kept %v, want %v", kept, c.keep)
			}
			delete(s.remote, "m")
		})
	}
}
