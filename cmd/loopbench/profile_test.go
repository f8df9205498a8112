package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/proxy"
	"github.com/rs/zerolog"
)

// The benchmarks below run loopguard in-process so that -cpuprofile and
// -memprofile see its hot paths (the admin listener has no pprof):
//
//	go test ./cmd/loopbench -run '^$' -bench 'Proxy/inbound' -cpuprofile cpu.out
//	go tool pprof -top -focus 'loopguard/(proxy|filters|tagging)|goproxy' cpu.out
//
// The profile also holds the in-process load generator and fake servers;
// -focus narrows it to loopguard's frames.

// profileParallelism × GOMAXPROCS goroutines send concurrently.
const profileParallelism = 16

// profileEnv is an in-process loopguard with the harness's config, warm
// ledger and fake servers.
type profileEnv struct {
	w    *workload
	real *realWorkload
	srv  *servers
	lg   *sidecar
}

func newProfileEnv(b *testing.B) *profileEnv {
	b.Helper()
	o := tinyOptions()
	o.WarmRecords, o.RealRecords = defaultWarmRecords, defaultRealRecords
	srv, err := startServers(sentinelField, b.Logf)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.close)
	dir := b.TempDir()
	ports, err := freeAddrs(4)
	if err != nil {
		b.Fatal(err)
	}
	a := sidecarAddrs{outbound: ports[0], inbound: ports[1], admin: ports[2], gateway: ports[3]}
	if err := os.WriteFile(filepath.Join(dir, "upstream.pem"), srv.certPEM, 0o644); err != nil {
		b.Fatal(err)
	}
	l, err := configs.LoadBytes("loopguard.yaml", []byte(renderConfig(dir, a, srv)), nil)
	if err != nil {
		b.Fatal(err)
	}
	s, err := proxy.New(l, zerolog.New(io.Discard).Level(zerolog.WarnLevel))
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	lg := &sidecar{addrs: a, caPEM: s.CA.CertPEM(), client: &http.Client{Timeout: clientTimeout}}
	if err := warmLedger(context.Background(), o, srv, lg); err != nil {
		b.Fatal(err)
	}
	return &profileEnv{w: newWorkload(o, srv.api.sentinelOf), real: newRealWorkload(o), srv: srv, lg: lg}
}

// BenchmarkProxy sends requests through in-process loopguard, one case per
// sub-benchmark (ns/op is wall time per request at saturation).
func BenchmarkProxy(b *testing.B) {
	e := newProfileEnv(b)
	out := &url.URL{Scheme: "http", Host: e.lg.addrs.outbound}
	lgRoots := newPool(e.lg.caPEM)
	for _, c := range []struct {
		name   string
		client *http.Client
		next   requestFunc
	}{
		{"inbound", newClient(profileParallelism*2, nil, nil), e.w.webhookRequests("http://" + e.lg.addrs.inbound)},
		{"batch", newClient(profileParallelism*2, nil, nil), e.w.batchRequests("http://" + e.lg.addrs.inbound)},
		{"mitm", newClient(profileParallelism*2, out, lgRoots), e.w.writeRequests("https://" + e.srv.apiAddr)},
		{"gateway", newClient(profileParallelism*2, nil, nil), e.w.writeRequests("http://" + e.lg.addrs.gateway + gatewayPath)},
		{"connect", newClient(profileParallelism*2, out, e.srv.certPool), e.w.writeRequests("https://" + e.srv.tunnelAddr)},
		{"inbound_real", newClient(profileParallelism*2, nil, nil), e.real.webhookRequests("http://" + e.lg.addrs.inbound)},
		{"mitm_real_partial", newClient(profileParallelism*2, out, lgRoots), e.real.writeRequests("https://"+e.srv.trackerAddr, false, defaultOutboundRecords)},
		{"gateway_real_full", newClient(profileParallelism*2, nil, nil), e.real.writeRequests("http://"+e.lg.addrs.gateway+realGatewayPath, true, defaultOutboundRecords)},
	} {
		b.Run(c.name, func(b *testing.B) {
			t := loadTarget{client: c.client, next: c.next, seq: new(atomic.Uint64)}
			ctx := context.Background()
			closedLoop(ctx, t, profileParallelism, 200*time.Millisecond)
			var fails atomic.Int64
			var errs errorSink
			b.SetParallelism(profileParallelism)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if !t.send(ctx, &errs) {
						fails.Add(1)
					}
				}
			})
			b.StopTimer()
			if n := fails.Load(); n > 0 {
				b.Fatalf("%d failed requests, first: %s", n, errs.first)
			}
			c.client.CloseIdleConnections()
		})
	}
}

// TestProfileEnvConfig keeps the benchmark's config loadable without
// running the benchmark.
func TestProfileEnvConfig(t *testing.T) {
	srv := &servers{appAddr: "127.0.0.1:1", apiAddr: "127.0.0.1:2", tunnelAddr: "127.0.0.1:7", trackerAddr: "127.0.0.1:8"}
	cfg := renderConfig(t.TempDir(), sidecarAddrs{"127.0.0.1:3", "127.0.0.1:4", "127.0.0.1:5", "127.0.0.1:6"}, srv)
	if strings.Contains(cfg, "{{") {
		t.Fatalf("unreplaced placeholder in\n%s", cfg)
	}
	if _, err := configs.LoadBytes("loopguard.yaml", []byte(cfg), nil); err != nil {
		t.Fatal(err)
	}
}
