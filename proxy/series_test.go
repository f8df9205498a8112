package proxy

import (
	"testing"
	"time"
)

// TestSeriesSteps: each sample closes a step with what it added; the
// running step is reported as partial; only the last keep steps are kept.
func TestSeriesSteps(t *testing.T) {
	t.Parallel()
	m := NewMetrics(nil)
	now := time.Unix(1000, 0)
	s := newSeries(m, func() time.Time { return now })
	s.keep = 3
	step := func(forwarded, echoes int, drops, forwards int) {
		m.Deliveries.WithLabelValues("crm", "forwarded").Add(float64(forwarded))
		m.Deliveries.WithLabelValues("crm", "all_echoes").Add(float64(echoes))
		m.Decisions.WithLabelValues("crm", "webhook", "marker", "change_agent", "drop").Add(float64(drops))
		m.Decisions.WithLabelValues("crm", "webhook", "chain", "no_evidence", "forward").Add(float64(forwards))
		now = now.Add(10 * time.Second)
		s.sample()
	}
	step(3, 1, 1, 3)
	step(0, 0, 0, 0)
	pts := s.snapshot()
	if len(pts) != 3 || pts[0].Deliveries["forwarded"] != 3 || pts[0].Deliveries["all_echoes"] != 1 ||
		*pts[0].EchoRate != 0.25 || pts[0].Seconds != 10 || len(pts[1].Deliveries) != 0 || pts[1].EchoRate != nil || !pts[2].Partial {
		t.Fatalf("points: %+v", pts)
	}
	m.Deliveries.WithLabelValues("crm", "forwarded").Inc()
	now = now.Add(4 * time.Second)
	if p := s.snapshot()[2]; p.Deliveries["forwarded"] != 1 || p.Seconds != 4 {
		t.Fatalf("running step: %+v", p)
	}
	step(0, 2, 2, 0)
	step(1, 0, 0, 1)
	pts = s.snapshot()
	if len(pts) != 4 || pts[0].Deliveries["forwarded"] != 0 || pts[1].Deliveries["forwarded"] != 1 || *pts[1].EchoRate != 1 ||
		pts[1].Seconds != 14 {
		t.Fatalf("kept points: %+v", pts)
	}
}
