package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/tidwall/gjson"
)

// Decision benchmark settings.
const (
	benchProvider   = "crm"
	benchEvents     = 1000
	benchTimeFlag   = "test.benchtime"
	decisionAPIHost = "api.loopbench.test"
)

// decisionResult is the in-process cost of the filter chain.
type decisionResult struct {
	NsPerEvent, AllocsPerEvent float64
	// BatchNsPerEvent is deciding 100 events of one delivery (Prefetch,
	// then Decide each), per event.
	BatchNsPerEvent float64
	// ExtractNsPerEvent is splitting the 100-event batch, per event.
	ExtractNsPerEvent float64
	// EchoFraction is the share of benchmark events the chain drops
	// (expected 0.1).
	EchoFraction float64
}

// benchDecision runs Engine.Decide on a warm production-sized ledger: the
// echo and genuine record sets written through Tag and RecordWrite as the
// forward proxy does, then single-event deliveries of the inbound workload
// (10% echoes) extracted and decided one per operation.
func benchDecision(l *configs.Loaded, o Options) (decisionResult, error) {
	c := l.Config
	store, err := ledger.NewMemory(ledger.Options{
		WriteTTL: c.Ledger.WriteTTL.D(), SeenTTL: c.Ledger.SeenTTL.D(), DedupWindow: c.Inbound.DedupWindow.D(),
		MaxSizeMB: c.Ledger.MaxSizeMB, Shards: c.Ledger.Shards,
	})
	if err != nil {
		return decisionResult{}, fmt.Errorf("decision benchmark: %w", err)
	}
	defer store.Close()
	return benchDecisionOn(l, o, store, o.WarmRecords)
}

// benchDecisionOn runs the decision benchmark on a given ledger.
func benchDecisionOn(l *configs.Loaded, o Options, store ledger.Store, warm int) (decisionResult, error) {
	var res decisionResult
	c := l.Config
	eng, err := filters.New(l.Providers, store, filters.Options{Agent: c.Agent})
	if err != nil {
		return res, fmt.Errorf("decision benchmark: engine: %w", err)
	}
	p, ok := eng.Provider(benchProvider)
	if !ok {
		return res, fmt.Errorf("decision benchmark: no provider %q", benchProvider)
	}
	sentinels, err := warmEngine(eng, p, warm)
	if err != nil {
		return res, err
	}
	w := newWorkload(o, func(id string) (string, bool) { s, ok := sentinels[id]; return s, ok })
	route, ok := p.MatchWebhook(http.MethodPost, webhookPath)
	if !ok {
		return res, fmt.Errorf("decision benchmark: no webhook route %s", webhookPath)
	}
	var evs []filters.Event
	for seq := range uint64(benchEvents) {
		if evs, err = p.Extract(route, w.webhook(seq), nil, evs); err != nil {
			return res, fmt.Errorf("decision benchmark: extract: %w", err)
		}
	}
	ctx := context.Background()
	drops := 0
	for i := range evs {
		if eng.Decide(ctx, p, &evs[i]).Action == filters.Drop {
			drops++
		}
	}
	res.EchoFraction = float64(drops) / float64(len(evs))
	var br testing.BenchmarkResult
	withBenchTime(o.BenchTime, func() {
		br = testing.Benchmark(func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				eng.Decide(ctx, p, &evs[i%len(evs)])
				i++
			}
		})
	})
	res.NsPerEvent = float64(br.T.Nanoseconds()) / float64(max(br.N, 1))
	res.AllocsPerEvent = float64(br.MemAllocs) / float64(max(br.N, 1))
	// Batched as the inbound proxy decides a delivery: Prefetch (one round
	// trip per layer with a batching store) then Decide per event.
	withBenchTime(o.BenchTime, func() {
		br = testing.Benchmark(func(b *testing.B) {
			i := 0
			for b.Loop() {
				part := evs[i%(len(evs)/batchEvents)*batchEvents:][:batchEvents]
				for j := range part {
					part[j].ClearPrefetch()
				}
				eng.Prefetch(ctx, part)
				for j := range part {
					eng.Decide(ctx, p, &part[j])
				}
				i++
			}
		})
	})
	res.BatchNsPerEvent = float64(br.T.Nanoseconds()) / float64(max(br.N, 1)*batchEvents)
	batchRoute, ok := p.MatchWebhook(http.MethodPost, batchPath)
	if !ok {
		return res, fmt.Errorf("decision benchmark: no webhook route %s", batchPath)
	}
	body := w.batch(1)
	withBenchTime(o.BenchTime, func() {
		br = testing.Benchmark(func(b *testing.B) {
			dst := make([]filters.Event, 0, batchEvents)
			for b.Loop() {
				if dst, err = p.Extract(batchRoute, body, nil, dst[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	if err != nil {
		return res, fmt.Errorf("decision benchmark: extract batch: %w", err)
	}
	res.ExtractNsPerEvent = float64(br.T.Nanoseconds()) / float64(max(br.N, 1)*batchEvents)
	return res, nil
}

// warmEngine writes the echo (c…) and genuine (h…) record sets as the
// forward proxy would and returns the sentinels stamped on the echo set.
func warmEngine(eng *filters.Engine, p *filters.Provider, records int) (map[string]string, error) {
	ctx := context.Background()
	sentinels := make(map[string]string, records)
	for _, prefix := range []string{"c", "h"} {
		for i := range records {
			id := prefix + strconv.Itoa(i)
			path := writePath + id
			route, ps, ok := p.MatchWrite(http.MethodPatch, path)
			if !ok {
				return nil, fmt.Errorf("decision benchmark: no write route for %s", path)
			}
			hdr := http.Header{"Content-Type": {"application/json"}, "Authorization": {benchToken}}
			account := p.AccountOf(decisionAPIHost, &url.URL{Path: path}, hdr, &ps)
			wr := p.Tag(ctx, route, &ps, account, hdr, warmBody(i), "")
			if wr.Untagged != "" {
				return nil, fmt.Errorf("decision benchmark: write %s untagged: %s", path, wr.Untagged)
			}
			if err := eng.RecordWrite(ctx, wr, nil); err != nil {
				return nil, fmt.Errorf("decision benchmark: record write: %w", err)
			}
			if prefix == "c" {
				sentinels[id] = gjson.GetBytes(wr.Body, sentinelField).String()
			}
		}
	}
	return sentinels, nil
}

// withBenchTime runs f with testing's -test.benchtime set to d, restoring
// the previous value (a test binary may run benchmarks afterwards).
func withBenchTime(d time.Duration, f func()) {
	testing.Init()
	fl := flag.Lookup(benchTimeFlag)
	if fl == nil {
		f()
		return
	}
	old := fl.Value.String()
	_ = fl.Value.Set(d.String())
	defer func() { _ = fl.Value.Set(old) }()
	f()
}
