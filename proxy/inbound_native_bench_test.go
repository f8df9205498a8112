package proxy

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/loopguard/loopguard/filters/benchload"
)

// BenchmarkInboundRealistic sends cmd/loopbench's realistic delivery through
// the inbound listener (as configured: fasthttp by default) to a real app
// on 127.0.0.1, over one keep-alive connection: every delivery a distinct
// genuine change, judged, forwarded and recorded. Allocations include the
// client's and the app's; profile with -memprofile and focus on proxy.
func BenchmarkInboundRealistic(b *testing.B) {
	s := benchSidecar(b, "testdata/bench_tracker.yaml", func(app string) *strings.Replacer { return strings.NewReplacer("{{app}}", app) })
	url := "http://" + s.Addr("inbound") + "/webhooks/tracker"
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1}}
	const records = 1000
	bodies := make([][]byte, 4*records)
	for i := range bodies {
		bodies[i] = benchload.TrackerWebhook(i, records)
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Post(url, "application/json", bytes.NewReader(bodies[i%len(bodies)]))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("delivery %d: status %d", i, resp.StatusCode)
		}
		i++
		if i%len(bodies) == 0 {
			b.StopTimer() // provider times only move forward: the next changes are later
			for k := range bodies {
				bodies[k] = benchload.TrackerWebhook(i+k, records)
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	if last := s.Ring.Last(1); len(last) != 1 || last[0].WouldDrop() {
		b.Fatalf("last decision %+v: want one forwarded event", last)
	}
}
