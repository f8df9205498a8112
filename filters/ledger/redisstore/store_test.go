package redisstore

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/redisconn"
	"github.com/loopguard/loopguard/filters/redistest"
)

func TestCorruptEntries(t *testing.T) {
	clock := newFakeClock()
	s := newTestStore(t, Options{Now: clock.Now})
	k := ledger.Key{Provider: "p", Object: "o", Record: "r"}
	key := s.recordKey(k)
	rdb := s.Client()
	cases := []struct {
		name  string
		plant func() error
	}{
		{"garbage", func() error { return rdb.Set(t.Context(), key, "garbage", time.Minute).Err() }},
		{"a list where a record belongs", func() error { return rdb.RPush(t.Context(), key, "x").Err() }},
		{"a hash (the old record format)", func() error { return rdb.HSet(t.Context(), key, "w", "123").Err() }},
		{"a truncated entry", func() error {
			b := ledger.Encode(nil, &ledger.State{App: []ledger.Value{{Name: "a", Hash: 1}}, LastSeen: clock.Now()})
			return rdb.Set(t.Context(), key, b[:len(b)-2], time.Minute).Err()
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := rdb.Del(t.Context(), key).Err(); err != nil {
				t.Fatal(err)
			}
			if err := c.plant(); err != nil {
				t.Fatal(err)
			}
			st := ledger.State{App: []ledger.Value{{Name: "stale"}}}
			if ok, err := s.Get(t.Context(), k, &st); err == nil || ok || st.Known() {
				t.Fatalf("Get of a corrupt record: ok %v err %v state %+v, want an error and an empty state", ok, err, st)
			}
			oks, err := s.GetMany(t.Context(), []ledger.Key{k}, make([]ledger.State, 1))
			if len(oks) > 0 && oks[0] {
				t.Fatalf("GetMany of a corrupt record: %v %v", oks, err)
			}
			if !s.Healthy() {
				t.Fatal("a corrupt record marked Redis unhealthy")
			}
			// A write over a corrupt record starts afresh instead of
			// failing forever.
			if err := s.RecordWrite(t.Context(), k, ledger.Write{Fields: []ledger.Field{f("a", 2)}, At: clock.Now()}); err != nil {
				t.Fatal(err)
			}
			if st, ok := mustGet(t, s, k); !ok || len(st.Writes) != 1 || !st.Holds([]ledger.Field{f("a", 2)}) {
				t.Fatalf("after a write over a corrupt record: %v %+v", ok, st)
			}
		})
	}
}

func TestGetMany(t *testing.T) {
	clock := newFakeClock()
	s := newTestStore(t, Options{Now: clock.Now})
	key := func(i int) ledger.Key { return ledger.Key{Provider: "p", Object: "o", Record: fmt.Sprint("r", i)} }
	for i := range 5 {
		if i%2 == 0 {
			if err := s.RecordWrite(t.Context(), key(i), ledger.Write{Fields: []ledger.Field{f("a", uint64(i+1))}, At: clock.Now()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name string
		keys []int
	}{
		{"empty batch", nil},
		{"one known", []int{0}},
		{"one unknown", []int{1}},
		{"mixed", []int{0, 1, 2, 3, 4}},
		{"repeated key", []int{2, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			keys := make([]ledger.Key, len(c.keys))
			for i, n := range c.keys {
				keys[i] = key(n)
			}
			sts := make([]ledger.State, len(keys))
			for i := range sts { // stale data must be replaced
				sts[i] = ledger.State{NextSeq: 9, App: []ledger.Value{{Name: "stale", Hash: 1}}}
			}
			oks, err := s.GetMany(t.Context(), keys, sts)
			if err != nil || len(oks) != len(keys) {
				t.Fatalf("GetMany: %v %v", oks, err)
			}
			for i, n := range c.keys {
				var one ledger.State
				wantOK, err := s.Get(t.Context(), keys[i], &one)
				if err != nil {
					t.Fatal(err)
				}
				if oks[i] != wantOK || oks[i] != (n%2 == 0) || !sameState(&sts[i], &one) {
					t.Fatalf("key %d: GetMany %v %+v, Get %v %+v", n, oks[i], sts[i], wantOK, one)
				}
				if wantOK && !sts[i].Holds([]ledger.Field{f("a", uint64(n+1))}) {
					t.Fatalf("key %d: %+v", n, sts[i])
				}
			}
		})
	}
	if _, err := s.GetMany(t.Context(), []ledger.Key{key(0)}, nil); err == nil {
		t.Fatal("GetMany accepted fewer states than keys")
	}
}

func TestMarkEventsAndEventsSeen(t *testing.T) {
	clock := newFakeClock()
	s := newTestStore(t, Options{Now: clock.Now, DedupWindow: time.Minute})
	if err := s.MarkEvents(t.Context(), []string{"a", "c"}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkEvents(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		advance time.Duration
		ids     []string
		want    []bool
	}{
		{"none", 0, nil, []bool{}},
		{"marked and not", 0, []string{"a", "b", "c", "d"}, []bool{true, false, true, false}},
		{"after the window", time.Minute, []string{"a", "c"}, []bool{false, false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock.Advance(c.advance)
			got, err := s.EventsSeen(t.Context(), c.ids)
			if err != nil || fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("EventsSeen(%v) = %v, %v; want %v", c.ids, got, err, c.want)
			}
		})
	}
}

// TestTwoReplicasShareOneLedger is the reason for this package: a write
// recorded through one store instance is seen by another on the same Redis,
// and concurrent updates from both lose nothing.
func TestTwoReplicasShareOneLedger(t *testing.T) {
	clock := newFakeClock()
	prefix := redistest.Prefix(t)
	a := newTestStore(t, Options{Now: clock.Now, Prefix: prefix})
	b := newTestStore(t, Options{Now: clock.Now, Prefix: prefix})
	other := newTestStore(t, Options{Now: clock.Now}) // another prefix: another deployment
	k := ledger.Key{Provider: "hubspot", Object: "contacts", Record: "c1"}
	if err := a.RecordWrite(t.Context(), k, ledger.Write{Fields: []ledger.Field{f("email", 7)}, FP: 70, Nonce: 70, At: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := a.MarkEvent(t.Context(), "hubspot\x00e1"); err != nil {
		t.Fatal(err)
	}
	st, ok := mustGet(t, b, k)
	if !ok || len(st.Writes) != 1 || st.Writes[0].Nonce != 70 || !st.Holds([]ledger.Field{f("email", 7)}) {
		t.Fatalf("replica B sees %v %+v", ok, st)
	}
	if seen, err := b.EventSeen(t.Context(), "hubspot\x00e1"); !seen || err != nil {
		t.Fatalf("replica B: event not seen (%v)", err)
	}
	if _, ok := mustGet(t, other, k); ok {
		t.Fatal("a store with another prefix sees the record")
	}

	const workers, writes = 8, 40
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if w%2 == 1 {
				s = b
			}
			for i := range writes {
				h := uint64(w*1000 + i + 1)
				if err := s.Accept(t.Context(), k, ledger.Accept{Fields: []ledger.Field{f(fmt.Sprint("w", w), h)}, At: clock.Now()}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st, _ = mustGet(t, a, k)
	for w := range workers {
		// Every worker's field holds its last value: no update was lost.
		v, ok := st.AppValue(fmt.Sprint("w", w))
		if !ok || v.Hash != uint64(w*1000+writes) {
			t.Fatalf("field w%d = %+v (an update was lost)", w, v)
		}
	}
}

// TestKeysAreHashedAndExpire checks the key hygiene rules: every key is
// under the prefix, names no identifier, and has a TTL.
func TestKeysAreHashedAndExpire(t *testing.T) {
	clock := newFakeClock()
	s := newTestStore(t, Options{Now: clock.Now})
	k := ledger.Key{Provider: "hubspot", Object: "contacts", Record: "acct-4242-rec"}
	if err := s.RecordWrite(t.Context(), k, ledger.Write{Fields: []ledger.Field{f("a", 1)}, At: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.Accept(t.Context(), ledger.Key{Provider: "hubspot", Object: "contacts", Record: "acct-4242-seen"}, ledger.Accept{Fields: []ledger.Field{f("a", 1)}, At: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkEvent(t.Context(), "hubspot\x00acct-4242-evt"); err != nil {
		t.Fatal(err)
	}
	keys, err := s.Client().Keys(t.Context(), s.opts.Prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 {
		t.Fatalf("keys %v, want 3", keys)
	}
	wantTTL := map[string]time.Duration{recordSpace: DefaultSeenTTL, eventSpace: DefaultDedupWindow}
	for _, key := range keys {
		if strings.Contains(key, "4242") || strings.Contains(key, "hubspot") {
			t.Fatalf("key %q names an identifier", key)
		}
		ttl, err := s.Client().PTTL(t.Context(), key).Result()
		if err != nil || ttl <= 0 {
			t.Fatalf("key %q has TTL %v (%v), want one", key, ttl, err)
		}
		space := strings.TrimPrefix(key, s.opts.Prefix)[:2]
		if min := wantTTL[space]; ttl < min-time.Minute {
			t.Fatalf("key %q TTL %v, want about %v or more", key, ttl, min)
		}
	}
}

func TestNewOptions(t *testing.T) {
	url := redistest.URL(t)
	cases := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"no URL nor client", Options{}, "required"},
		{"negative timeout", Options{URL: url, Timeout: -1}, "must not be negative"},
		{"negative TTL", Options{URL: url, WriteTTL: -time.Second}, "must not be negative"},
		{"bad URL", Options{URL: "http://x"}, "unsupported scheme"},
		{"defaults", Options{URL: url}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(c.opts)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("New error %v, want containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			o := s.opts
			if o.Prefix != DefaultPrefix || o.Timeout != DefaultTimeout || o.WriteTTL != DefaultWriteTTL ||
				o.SeenTTL != DefaultSeenTTL || o.DedupWindow != DefaultDedupWindow || o.Now == nil {
				t.Fatalf("defaults not applied: %+v", o)
			}
			if !s.Healthy() {
				t.Fatal("a reachable Redis reads as unhealthy after New")
			}
			if st := s.Stats(); st != (ledger.Stats{}) {
				t.Fatalf("Stats = %+v", st)
			}
		})
	}
}

// TestSharedClient: a store given a client uses it and leaves it open.
func TestSharedClient(t *testing.T) {
	rdb, err := redisconn.NewClient(redistest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	s := newTestStore(t, Options{Client: rdb})
	if s.Client() != rdb {
		t.Fatal("store does not use the given client")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("store closed a client it does not own: %v", err)
	}
	if !errors.Is(s.Close(), nil) {
		t.Fatal("second Close failed")
	}
	var _ redis.UniversalClient = s.Client()
}
