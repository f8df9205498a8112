package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/rs/zerolog"
)

// trackerDelivery is cmd/loopbench's realistic delivery (~1 KB): change seq
// of issue seq%records, a 500-character description, no event id.
func trackerDelivery(seq, records int) []byte {
	at := time.UnixMilli(1795773600000 + int64(seq)).UTC().Format("2006-01-02T15:04:05.000Z07:00")
	desc := strings.Repeat(`- The sync writes the change back and the webhook comes again.\n`, 8)[:460]
	return fmt.Appendf(nil, `{"action":"update","type":"Issue","createdAt":%q,`+
		`"actor":{"id":"user_3f9c2a","type":"user","name":"Ada Lovelace","email":"ada@example.com"},`+
		`"data":{"id":"i%d","title":"Sync drops the change of ENG-%d","description":"Steps (revision %015d): %s",`+
		`"priority":%d,"stateId":"state_%d","assigneeId":"user_%d","updatedAt":%q},`+
		`"url":"https://linear.app/acme/issue/ENG-%d","organizationId":"org_8d1e5b","webhookTimestamp":%d}`,
		at, seq%records, seq, seq, desc, seq%5, seq%4, seq%7, at, seq%records, 1795773600000+int64(seq))
}

// BenchmarkInboundRealistic sends cmd/loopbench's realistic delivery through
// the inbound listener (as configured: fasthttp by default) to a real app
// on 127.0.0.1, over one keep-alive connection: every delivery a distinct
// genuine change, judged, forwarded and recorded. Allocations include the
// client's and the app's; profile with -memprofile and focus on proxy.
func BenchmarkInboundRealistic(b *testing.B) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	b.Cleanup(app.Close)
	raw, err := os.ReadFile("testdata/bench_tracker.yaml")
	if err != nil {
		b.Fatal(err)
	}
	l, err := configs.LoadBytes("bench_tracker.yaml", bytes.ReplaceAll(raw, []byte("{{app}}"), []byte(app.URL)), inboundServerEnv)
	if err != nil {
		b.Fatal(err)
	}
	l.Config.Listen.Outbound, l.Config.Listen.Inbound, l.Config.Listen.Admin = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	l.Config.CA.Dir = filepath.Join(b.TempDir(), "ca")
	l.Config.Spool.Dir = filepath.Join(b.TempDir(), "spool")
	s, err := New(l, zerolog.New(io.Discard))
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	url := "http://" + s.Addr("inbound") + "/webhooks/tracker"
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1}}
	const records = 1000
	bodies := make([][]byte, 4*records)
	for i := range bodies {
		bodies[i] = trackerDelivery(i, records)
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
				bodies[k] = trackerDelivery(i+k, records)
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	if last := s.Ring.Last(1); len(last) != 1 || last[0].WouldDrop() {
		b.Fatalf("last decision %+v: want one forwarded event", last)
	}
}
