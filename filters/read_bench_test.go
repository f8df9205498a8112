package filters

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// genericPage builds a read response of n records: the even ones hold the
// values BenchmarkPullPage100 wrote, the odd ones a human's new name.
func genericPage(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"total":` + fmt.Sprint(n) + `,"results":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		name := fmt.Sprintf("Name %d", i)
		if i%2 == 1 {
			name = fmt.Sprintf("Human %d", i)
		}
		fmt.Fprintf(&b, `{"id":"c%d","name":%q,"email":"user%d@example.com","phone":"+1555%04d","updated_at":"2026-11-27T10:00:05Z","notes":"an untracked field of the record, %d"}`, i, name, i, i, i)
	}
	b.WriteString(`],"paging":{"next":{"after":"c99"}}}`)
	return []byte(b.String())
}

// BenchmarkPullPage100 filters one 100-record page, half of it our own
// writes, as the proxy does: extract, decide every record, rewrite.
func BenchmarkPullPage100(b *testing.B) {
	const n = 100
	h := newPullHarness(b, "generic")
	for i := 0; i < n; i++ {
		h.write("PATCH", fmt.Sprintf("/v1/contacts/c%d", i), jsonCT,
			fmt.Sprintf(`{"name":"Name %d","email":"user%d@example.com","phone":"+1555%04d"}`, i, i, i))
	}
	h.clock.Advance(time.Second)
	body := genericPage(n)
	r, ps, _ := h.p.MatchRead("GET", "/v1/contacts")
	ctx := context.Background()
	evs := make([]Event, 0, n)
	keep := make([]bool, n)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var err error
		evs, err = h.p.ExtractRead(r, &ps, pullAccount, body, nil, evs[:0])
		if err != nil || len(evs) != n {
			b.Fatalf("extract: %d records, %v", len(evs), err)
		}
		removed := 0
		for i := range evs {
			d := h.eng.Decide(ctx, h.p, &evs[i])
			keep[i] = d.Action == Forward
			if !keep[i] {
				removed++
			}
		}
		if removed != n/2 {
			b.Fatalf("removed %d records, want %d", removed, n/2)
		}
		if _, err := h.p.Rewrite(r, body, evs, keep); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}
