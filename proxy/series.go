package proxy

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The overview's time series: one point per seriesStep, the last
// seriesPoints of them (10 minutes).
const (
	seriesStep   = 10 * time.Second
	seriesPoints = 60
)

// series samples the delivery and decision counters every step and keeps
// what each step added, for the console's overview ("the last minutes")
// without a Prometheus server.
type series struct {
	m    *Metrics
	step time.Duration
	keep int
	now  func() time.Time

	mu     sync.Mutex
	points []seriesPoint      // oldest first
	last   map[string]float64 // counters at lastAt ("d/" outcome, "a/" action)
	lastAt time.Time

	stop context.CancelFunc
	done chan struct{}
}

// seriesPoint is what one step added.
type seriesPoint struct {
	At time.Time `json:"at"` // end of the step
	// Seconds is the step's length (the last, partial point is shorter).
	Seconds float64 `json:"seconds"`
	// Deliveries are webhook deliveries by outcome.
	Deliveries map[string]float64 `json:"deliveries"`
	// Decisions are event decisions by action (forward, drop, would_drop,
	// hold).
	Decisions map[string]float64 `json:"decisions"`
	// EchoRate is the share of decisions that dropped (or would have
	// dropped) an echo; nil when there was no decision.
	EchoRate *float64 `json:"echo_rate"`
	// Partial marks the step still running.
	Partial bool `json:"partial,omitempty"`
}

func newSeries(m *Metrics, now func() time.Time) *series {
	return &series{m: m, step: seriesStep, keep: seriesPoints, now: now, last: map[string]float64{}, lastAt: now()}
}

// start samples every step until close.
func (s *series) start() {
	if s.stop != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.step)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
}

func (s *series) close() {
	if s.stop != nil {
		s.stop()
		<-s.done
	}
}

// sample closes the running step.
func (s *series) sample() {
	now, cur := s.now(), s.counters()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.points = append(s.points, s.delta(now, cur))
	if len(s.points) > s.keep {
		s.points = append(s.points[:0], s.points[len(s.points)-s.keep:]...)
	}
	s.last, s.lastAt = cur, now
}

// snapshot returns the kept points and the running step, oldest first.
func (s *series) snapshot() []seriesPoint {
	now, cur := s.now(), s.counters()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append(make([]seriesPoint, 0, len(s.points)+1), s.points...)
	p := s.delta(now, cur)
	p.Partial = true
	return append(out, p)
}

// delta is the point from s.last to cur (s.mu held).
func (s *series) delta(now time.Time, cur map[string]float64) seriesPoint {
	p := seriesPoint{At: now, Seconds: now.Sub(s.lastAt).Seconds(), Deliveries: map[string]float64{}, Decisions: map[string]float64{}}
	var all, echoes float64
	for k, v := range cur {
		d := v - s.last[k]
		if d <= 0 {
			continue
		}
		switch kind, name := k[:2], k[2:]; kind {
		case "d/":
			p.Deliveries[name] = d
		case "a/":
			p.Decisions[name] = d
			all += d
			if name == "drop" || name == "would_drop" {
				echoes += d
			}
		}
	}
	if all > 0 {
		r := echoes / all
		p.EchoRate = &r
	}
	return p
}

// counters reads the cumulative counters, summed over the other labels.
func (s *series) counters() map[string]float64 {
	out := map[string]float64{}
	sumBy(s.m.Deliveries, "outcome", "d/", out)
	sumBy(s.m.Decisions, "action", "a/", out)
	return out
}

// sumBy adds each counter of c to out[prefix+value of label].
func sumBy(c prometheus.Collector, label, prefix string, out map[string]float64) {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	for m := range ch {
		var pb dto.Metric
		if m.Write(&pb) != nil || pb.Counter == nil {
			continue
		}
		for _, lp := range pb.Label {
			if lp.GetName() == label {
				out[prefix+lp.GetValue()] += pb.Counter.GetValue()
			}
		}
	}
}
