package filters

import (
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/breaker"
)

// TestQueueNamesParseBack: queue names survive a restart (the spool keeps
// them), escaped keys included, and Guard.Ready reads them back.
func TestQueueNamesParseBack(t *testing.T) {
	rk := breaker.RecordKey{Provider: "hub/spot", Object: "con tacts", Record: "a:b/c"}
	bk := breaker.Key{Provider: "crm", Account: "acct:1"}
	for _, c := range []struct {
		queue, kind string
		want        breaker.RecordKey
	}{
		{RecordQueue(rk), QueueRecord, rk},
		{BreakerQueue(bk), QueueBreaker, breaker.RecordKey{Provider: "crm", Account: "acct:1", Record: "*"}},
		{AppQueue("github"), QueueApp, breaker.RecordKey{Provider: "github", Record: "*"}},
	} {
		kind, k, err := ParseQueue(c.queue)
		if err != nil || kind != c.kind || k != c.want {
			t.Errorf("ParseQueue(%q) = %s %+v %v, want %s %+v", c.queue, kind, k, err, c.kind, c.want)
		}
	}
	if _, _, err := ParseQueue("nokind"); err == nil {
		t.Error("a queue name without a kind parsed")
	}
}

func TestGuardReady(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	b, err := breaker.New(breaker.Config{}, clock)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGuard(GuardOptions{Breakers: b, Loop: breaker.LoopConfig{Threshold: 1, Window: time.Minute, Quarantine: time.Minute}, Now: clock, TripAccount: -1})
	if err != nil {
		t.Fatal(err)
	}
	rk := breaker.RecordKey{Provider: "crm", Object: "contacts", Record: "r1"}
	bk := breaker.Key{Provider: "crm", Account: "a"}
	g.Loops().Wrote(rk)
	g.Loops().Inbound(rk)
	b.Trip(bk, breaker.Manual, "test", now.Add(time.Minute))
	for _, c := range []struct {
		queue string
		ready bool
	}{
		{RecordQueue(rk), false},
		{RecordQueue(breaker.RecordKey{Provider: "crm", Object: "contacts", Record: "r2"}), true},
		{BreakerQueue(bk), false},
		{BreakerQueue(breaker.Key{Provider: "crm", Account: "b"}), true},
		{AppQueue("crm"), true},
		{"garbage", true}, // unknown: delivered rather than kept forever
	} {
		if got := g.Ready(c.queue); got != c.ready {
			t.Errorf("Ready(%q) = %v, want %v", c.queue, got, c.ready)
		}
	}
}
