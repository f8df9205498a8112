package redisshare

import (
	"sync"
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/redisconn"
	"github.com/loopguard/loopguard/filters/redistest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newTestLoops(t *testing.T, url, prefix string, c *clock) *Loops {
	t.Helper()
	client, err := redisconn.NewClient(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	l, err := NewLoops(LoopOptions{Client: client, Prefix: prefix, Timeout: testTimeout, Now: c.Now,
		Config: breaker.LoopConfig{Threshold: 3, Window: time.Minute, Quarantine: 10 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestSharedLoopsAcrossReplicas: a loop going round through two replicas
// (writes through A, events at B) is counted as one; the quarantine holds
// on both; a dropped echo settles its write; a release on one frees both;
// a quarantine ends by itself.
func TestSharedLoopsAcrossReplicas(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	c := &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	a, b := newTestLoops(t, url, prefix, c), newTestLoops(t, url, prefix, c)
	var quarantinedOn []string
	a.OnQuarantine(func(breaker.QuarantineInfo) { quarantinedOn = append(quarantinedOn, "a") })
	b.OnQuarantine(func(breaker.QuarantineInfo) { quarantinedOn = append(quarantinedOn, "b") })
	k := breaker.RecordKey{Provider: "crm", Account: "h:1", Object: "contacts", Record: "r1"}

	// A settled echo is not a round trip.
	a.Wrote(k)
	b.Echoed(k)
	if q, n := b.Inbound(k); q || n != 0 {
		t.Fatalf("echoed write counted: %v %d", q, n)
	}
	steps := []struct {
		wantCount int
		wantQ     bool
	}{{1, false}, {2, false}, {3, true}}
	for i, s := range steps {
		c.add(time.Second)
		a.Wrote(k)
		q, n := b.Inbound(k)
		if q != s.wantQ || n != s.wantCount {
			t.Fatalf("round trip %d: quarantined %v count %d, want %v %d", i+1, q, n, s.wantQ, s.wantCount)
		}
	}
	if len(quarantinedOn) != 1 || quarantinedOn[0] != "b" {
		t.Fatalf("quarantine callbacks fired on %v, want once on b", quarantinedOn)
	}
	if q, info := a.Quarantined(k); !q || info.Count != 3 || info.Key != k {
		t.Fatalf("A does not see B's quarantine: %v %+v", q, info)
	}
	if list := a.List(); len(list) != 1 || list[0].Key != k {
		t.Fatalf("List on A: %+v", list)
	}
	if !a.Release(k) {
		t.Fatal("release on A failed")
	}
	if q, _ := b.Quarantined(k); q || len(b.List()) != 0 {
		t.Fatal("B still sees the released record")
	}
	// Quarantine again, then let it expire.
	for range 3 {
		c.add(time.Second)
		a.Wrote(k)
		b.Inbound(k)
	}
	if q, _ := a.Quarantined(k); !q {
		t.Fatal("not quarantined again")
	}
	c.add(11 * time.Minute)
	if q, _ := a.Quarantined(k); q {
		t.Fatal("quarantine did not end after its time")
	}
	if q, n := b.Inbound(k); q || n != 0 {
		t.Fatalf("after expiry: %v %d", q, n)
	}
}

// TestSharedLoopsRedisDown: with Redis unreachable nothing is counted or
// quarantined (events flow, writes pass), errors are reported, no panic.
func TestSharedLoopsRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	c := &clock{t: time.Now()}
	l := newTestLoops(t, srv.URL(), redistest.Prefix(t), c)
	var errs int
	l.onError = func(error) { errs++ }
	k := breaker.RecordKey{Provider: "crm", Record: "r"}
	srv.Stop(t)
	l.Wrote(k)
	if q, n := l.Inbound(k); q || n != 0 {
		t.Fatalf("Redis down: %v %d", q, n)
	}
	if q, _ := l.Quarantined(k); q || l.Release(k) || errs == 0 {
		t.Fatalf("Redis down: quarantined %v, errors %d", q, errs)
	}
}
