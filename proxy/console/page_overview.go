package console

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// overviewPage is the overview's data.
type overviewPage struct {
	O     overview
	Chart chart
	// Window totals over the series.
	Minutes    float64
	Deliveries float64
	Decisions  map[string]float64
	EchoRate   float64 // -1: no decision in the window
}

// chart is an SVG bar chart of deliveries per second by outcome, with the
// echo rate as a line (0–100 % over the chart's height).
type chart struct {
	Width, Height int
	Bars          []bar
	Legend        []legendItem
	EchoLine      string
	EchoDots      []dot
	MaxPerSecond  float64
}

type dot struct{ X, Y int }

// chartSlots is the number of bars a full window shows: the API's 60 kept
// steps and the running one.
const chartSlots = 61

type bar struct {
	X, W  int
	Title string
	Segs  []seg
}

type seg struct {
	Y, H  int
	Class string
}

type legendItem struct {
	Name, Class string
	Total       float64
}

// outcomeClass groups delivery outcomes into a few colours.
func outcomeClass(outcome string) string {
	switch outcome {
	case "forwarded", "rewritten":
		return "s-ok"
	case "all_echoes":
		return "s-echo"
	case "held", "rejected_held", "behind_held":
		return "s-held"
	case "handshake", "passthrough":
		return "s-muted"
	}
	return "s-bad"
}

func (c *Console) loadOverview(v *view, r *http.Request) error {
	var p overviewPage
	if err := c.get(r, "/overview", &p.O); err != nil {
		return err
	}
	p.Decisions = map[string]float64{}
	var secs, echoes, all float64
	for _, pt := range p.O.Series.Points {
		secs += pt.Seconds
		for _, n := range pt.Deliveries {
			p.Deliveries += n
		}
		for a, n := range pt.Decisions {
			p.Decisions[a] += n
			all += n
			if a == "drop" || a == "would_drop" {
				echoes += n
			}
		}
	}
	p.Minutes = secs / 60
	p.EchoRate = -1
	if all > 0 {
		p.EchoRate = echoes / all
	}
	p.Chart = buildChart(p.O.Series.Points)
	v.Data = p
	return nil
}

// buildChart lays out the bars: one per point, heights in deliveries per
// second so the running (shorter) step compares with the others.
func buildChart(pts []seriesPoint) chart {
	ch := chart{Width: 600, Height: 120}
	totals := map[string]float64{}
	for _, pt := range pts {
		sum := 0.0
		for o, n := range pt.Deliveries {
			totals[o] += n
			sum += n
		}
		if pt.Seconds > 0 && sum/pt.Seconds > ch.MaxPerSecond {
			ch.MaxPerSecond = sum / pt.Seconds
		}
	}
	outcomes := make([]string, 0, len(totals))
	for o := range totals {
		outcomes = append(outcomes, o)
	}
	slices.Sort(outcomes)
	for _, o := range outcomes {
		ch.Legend = append(ch.Legend, legendItem{Name: o, Class: outcomeClass(o), Total: totals[o]})
	}
	// A full window has chartSlots points; fewer are drawn at its right
	// end, so time runs the same way whatever the history.
	slots := max(len(pts), chartSlots)
	w := ch.Width / slots
	ch.Width = w * slots // no gap after the last bar
	first := slots - len(pts)
	var line []string
	for i, pt := range pts {
		b := bar{X: (first + i) * w, W: max(w-2, 1)}
		var parts []string
		y := ch.Height
		for _, o := range outcomes {
			n := pt.Deliveries[o]
			if n == 0 {
				continue
			}
			parts = append(parts, fmt.Sprintf("%s %g", o, n))
			if ch.MaxPerSecond > 0 && pt.Seconds > 0 {
				h := int(float64(ch.Height) * (n / pt.Seconds) / ch.MaxPerSecond)
				h = max(h, 1)
				y -= h
				b.Segs = append(b.Segs, seg{Y: y, H: h, Class: outcomeClass(o)})
			}
		}
		b.Title = pt.At.Local().Format("15:04:05") + ": " + strings.Join(parts, ", ")
		if pt.EchoRate != nil {
			b.Title += "; echo rate " + percent(*pt.EchoRate)
			x, y := b.X+w/2, ch.Height-int(*pt.EchoRate*float64(ch.Height))
			line = append(line, strconv.Itoa(x)+","+strconv.Itoa(y))
			ch.EchoDots = append(ch.EchoDots, dot{X: x, Y: y})
		}
		if pt.Partial {
			b.Title += " (running)"
		}
		ch.Bars = append(ch.Bars, b)
	}
	ch.EchoLine = strings.Join(line, " ")
	return ch
}
