package filters

import (
	"context"
	"net/http"
	"testing"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/benchload"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/spool"
)

// BenchmarkJudgeRealistic judges and accepts one realistic delivery per
// operation, as the inbound proxy does for the path most deliveries take:
// every one a distinct genuine change, forwarded and recorded.
func BenchmarkJudgeRealistic(b *testing.B) {
	const records = 1000
	l, err := configs.LoadBytes("testdata/bench_tracker.yaml", readFixture(b, "bench_tracker.yaml"), nil)
	if err != nil {
		b.Fatal(err)
	}
	store, err := ledger.NewMemory(ledger.Options{Shards: 16, MaxSizeMB: 64})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	eng, err := New(l.Providers, store, Options{Agent: testAgent})
	if err != nil {
		b.Fatal(err)
	}
	p, _ := eng.Provider("tracker")
	route, ok := p.MatchWebhook("POST", "/webhooks/tracker")
	if !ok {
		b.Fatal("no tracker webhook route")
	}
	jg := NewJudge(eng, JudgeOptions{})
	bodies := make([][]byte, 4*records)
	for i := range bodies {
		bodies[i] = benchload.TrackerWebhook(i, records)
	}
	hdr := http.Header{"Content-Type": {"application/json"}, "User-Agent": {"Linear-Webhook"}}
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		j := jg.Judge(ctx, Delivery{Provider: p, Route: route, Body: bodies[i%len(bodies)], Header: hdr, ID: "d", Verification: spool.Unsigned})
		if j.Err != nil || j.Kept() != 1 || !j.Trusted() {
			b.Fatalf("delivery %d: kept %d, trusted %v, err %v", i, j.Kept(), j.Trusted(), j.Err)
		}
		if err := jg.Accept(ctx, j); err != nil {
			b.Fatal(err)
		}
		i++
		if i%len(bodies) == 0 {
			// Provider times only move forward: the next changes are later.
			b.StopTimer()
			for k := range bodies {
				bodies[k] = benchload.TrackerWebhook(i+k, records)
			}
			b.StartTimer()
		}
	}
}
