package filters

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/spool"
)

// trackerWebhook is cmd/loopbench's realistic delivery (~1 KB): change seq
// of issue seq%records, a 500-character description, no event id.
func trackerWebhook(seq, records int) []byte {
	at := time.UnixMilli(1795773600000 + int64(seq)).UTC().Format("2006-01-02T15:04:05.000Z07:00")
	desc := strings.Repeat(`- The sync writes the change back and the webhook comes again.\n`, 8)[:460]
	return fmt.Appendf(nil, `{"action":"update","type":"Issue","createdAt":%q,`+
		`"actor":{"id":"user_3f9c2a","type":"user","name":"Ada Lovelace","email":"ada@example.com"},`+
		`"data":{"id":"i%d","title":"Sync drops the change of ENG-%d","description":"Steps (revision %015d): %s",`+
		`"priority":%d,"stateId":"state_%d","assigneeId":"user_%d","updatedAt":%q},`+
		`"url":"https://linear.app/acme/issue/ENG-%d","organizationId":"org_8d1e5b","webhookTimestamp":%d,`+
		`"webhookId":"8f2a6c1e-3b7d-4e9a-9c1f-2d5b7a0e4c63"}`,
		at, seq%records, seq, seq, desc, seq%5, seq%4, seq%7, at, seq%records, 1795773600000+int64(seq))
}

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
		bodies[i] = trackerWebhook(i, records)
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
				bodies[k] = trackerWebhook(i+k, records)
			}
			b.StartTimer()
		}
	}
}
