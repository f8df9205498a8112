package proxy

import (
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// histSamples is the sample count of one histogram child (0 if absent).
func histSamples(t *testing.T, r *prometheus.Registry, name string, labels map[string]string) uint64 {
	t.Helper()
	mfs, err := r.Gather()
	must(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			n := 0
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v == lp.GetValue() {
					n++
				}
			}
			if n == len(labels) {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

// TestLatencyHistograms drives real deliveries and writes through a
// sidecar and expects one latency sample per request, labelled with the
// delivery's outcome or the call's kind.
func TestLatencyHistograms(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, false)
	reg := e.s.Metrics.Registry
	in := "loopguard_inbound_duration_seconds"
	out := "loopguard_outbound_duration_seconds"

	e.appWrite(t, "r1", `{"name":"Ada"}`)
	if n := histSamples(t, reg, out, map[string]string{"provider": "crm", "kind": "write_tagged"}); n != 1 {
		t.Fatalf("outbound write samples = %d, want 1", n)
	}
	resp, _ := mustDo(t, e.c, http.MethodGet, e.up.URL+"/v1/contacts/r1", "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("read: %d", resp.StatusCode)
	}
	if n := histSamples(t, reg, out, map[string]string{"provider": "crm", "kind": "passthrough"}); n != 1 {
		t.Fatalf("outbound read samples = %d, want 1", n)
	}

	cases := []struct {
		body, outcome string
	}{
		{`{"id":"e1","object":"contacts","actor":"u_integration","record":{"id":"r1","name":"Ada"}}`, "all_echoes"},
		{`{"id":"g1","object":"contacts","actor":"u_human","record":{"id":"r1","name":"Bo"}}`, "forwarded"},
		{`not json`, "malformed"},
	}
	for _, c := range cases {
		if status, _ := e.deliver(t, "/webhooks/generic", c.body); status != 200 {
			t.Fatalf("%s delivery: %d", c.outcome, status)
		}
		if n := histSamples(t, reg, in, map[string]string{"provider": "crm", "outcome": c.outcome}); n != 1 {
			t.Errorf("inbound %s samples = %d, want 1", c.outcome, n)
		}
	}
	// The app rejects the next one: its latency counts under app_rejected,
	// the delivery's last outcome.
	e.app.setRespond(func(w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(http.StatusBadRequest) })
	if status, _ := e.deliver(t, "/webhooks/generic", `{"id":"g2","object":"contacts","actor":"u_human","record":{"id":"r2","name":"Cy"}}`); status != 400 {
		t.Fatalf("rejected delivery: %d", status)
	}
	if n := histSamples(t, reg, in, map[string]string{"provider": "crm", "outcome": "app_rejected"}); n != 1 {
		t.Errorf("inbound app_rejected samples = %d, want 1", n)
	}
	if n := histSamples(t, reg, in, map[string]string{"provider": "crm", "outcome": "forwarded"}); n != 1 {
		t.Errorf("inbound forwarded samples = %d after a rejection, want still 1", n)
	}
}

// BenchmarkObserversCached measures the hot-path cost of one latency
// sample through the cache (no allocation).
func BenchmarkObserversCached(b *testing.B) {
	in, _ := newLatency()
	o := newObservers(in)
	b.ReportAllocs()
	for b.Loop() {
		o.observe("crm", "forwarded", 1500)
	}
}
