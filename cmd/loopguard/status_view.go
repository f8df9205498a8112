package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// overview is what loopguard status shows. Rows keep the admin API's own
// field names, so --json reads like the endpoints it comes from.
type overview struct {
	Admin       string             `json:"admin"`
	Time        time.Time          `json:"time"`
	Store       storeHealth        `json:"store"`
	Deliveries  map[string]float64 `json:"deliveries"` // by outcome, since the sidecar started
	Breakers    []breakerRow       `json:"breakers"`
	Quarantined []quarantineRow    `json:"quarantined"`
	Spool       spoolView          `json:"spool"`
	DeadLetters *deadLetters       `json:"dead_letters"` // null: this loopguard has no /spool/dead
	Decisions   decisionSummary    `json:"decisions"`
}

type storeHealth struct {
	Status string `json:"status"` // ready, degraded or not ready
	Detail string `json:"detail,omitempty"`
}

// breakerRow is one entry of GET /breakers.
type breakerRow struct {
	Key            breakerKey
	State          string
	Reason         string
	Detail         string
	Limit          int64
	Remaining      int64
	UsedFraction   float64
	Reset          time.Time
	OpenUntil      time.Time
	CallsPerMin    float64
	BaselinePerMin float64
	Since          time.Time
}

type breakerKey struct{ Provider, Account string }

func (k breakerKey) String() string { return k.Provider + "/" + k.Account }

// quarantineRow is one entry of GET /quarantine.
type quarantineRow struct {
	Key     string `json:"key"`
	Release string `json:"release"`
	// Record is the key's parts ("Key" in the admin API, next to "key").
	Record struct{ Provider, Account, Object, Record string } `json:"Key"`
	Since  time.Time
	Until  time.Time
	Count  int
	Reason string
}

// queueRow is one queue of GET /spool.
type queueRow struct {
	Queue  string    `json:"queue"`
	Count  int       `json:"items"`
	Bytes  int64     `json:"bytes"`
	Oldest time.Time `json:"oldest"`
}

type spoolView struct {
	Items         int        `json:"items"`
	Bytes         int64      `json:"bytes"`
	CapacityItems int64      `json:"capacity_items"` // -1: unknown
	CapacityBytes int64      `json:"capacity_bytes"` // -1: unknown
	Queues        []queueRow `json:"queues"`
}

type deadLetters struct {
	Total      int            `json:"total"`
	ByProvider map[string]int `json:"by_provider"`
}

// decisionRow is one entry of GET /decisions.
type decisionRow struct {
	Action string `json:"action"`
	Layer  string `json:"layer"`
	Reason string `json:"reason"`
}

type reasonCount struct {
	Count  int    `json:"count"`
	Action string `json:"action"`
	Layer  string `json:"layer"`
	Reason string `json:"reason"`
}

type decisionSummary struct {
	Considered int            `json:"considered"`
	ByAction   map[string]int `json:"by_action"`
	Top        []reasonCount  `json:"top"`
}

// topReasons counts the decisions by (action, layer, reason), most first.
func topReasons(ds []decisionRow, top int) decisionSummary {
	s := decisionSummary{Considered: len(ds), ByAction: map[string]int{}}
	idx := map[[3]string]int{}
	for _, d := range ds {
		s.ByAction[d.Action]++
		k := [3]string{d.Action, d.Layer, d.Reason}
		if i, ok := idx[k]; ok {
			s.Top[i].Count++
			continue
		}
		idx[k] = len(s.Top)
		s.Top = append(s.Top, reasonCount{Count: 1, Action: d.Action, Layer: d.Layer, Reason: d.Reason})
	}
	sort.SliceStable(s.Top, func(i, j int) bool { return s.Top[i].Count > s.Top[j].Count })
	if len(s.Top) > top {
		s.Top = s.Top[:top]
	}
	return s
}

// renderOverview writes the terminal view.
func renderOverview(w io.Writer, ov *overview) {
	now := ov.Time
	fmt.Fprintf(w, "loopguard status  %s  %s\n\n", ov.Admin, now.Local().Format(time.DateTime))
	store := ov.Store.Status
	if ov.Store.Detail != "" {
		store += ": " + ov.Store.Detail
	}
	fmt.Fprintf(w, "Store       %s\n", store)
	fmt.Fprintf(w, "Deliveries  %s\n", countsLine(ov.Deliveries))

	fmt.Fprintf(w, "\nBreakers (%d, %d not closed)\n", len(ov.Breakers), notClosed(ov.Breakers))
	if len(ov.Breakers) == 0 {
		fmt.Fprintln(w, "  none yet (an account appears with its first API call)")
	} else {
		tw := table(w)
		fmt.Fprintln(tw, "  PROVIDER\tACCOUNT\tSTATE\tREASON\tQUOTA USED\tREMAINING\tRESETS\tOPEN UNTIL\tCALLS/MIN\tBASELINE")
		for _, b := range ov.Breakers {
			reason := b.Reason
			if reason == "" || reason == "none" {
				reason = "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%.1f\n", b.Key.Provider, b.Key.Account, b.State, reason,
				percent(b.UsedFraction), quota(b.Remaining, b.Limit), until(b.Reset, now), until(b.OpenUntil, now), b.CallsPerMin, b.BaselinePerMin)
		}
		_ = tw.Flush()
	}

	fmt.Fprintf(w, "\nQuarantined records (%d)\n", len(ov.Quarantined))
	if len(ov.Quarantined) == 0 {
		fmt.Fprintln(w, "  none")
	} else {
		tw := table(w)
		fmt.Fprintln(tw, "  RECORD\tROUND TRIPS\tSINCE\tENDS\tREASON\tRELEASE")
		for _, q := range ov.Quarantined {
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\tPOST %s\n", q.Key, q.Count, ago(q.Since, now), until(q.Until, now), q.Reason, q.Release)
		}
		_ = tw.Flush()
	}

	fmt.Fprintf(w, "\nSpool  %d items, %s%s\n", ov.Spool.Items, size(ov.Spool.Bytes), fill(ov.Spool))
	if len(ov.Spool.Queues) > 0 {
		tw := table(w)
		fmt.Fprintln(tw, "  QUEUE\tITEMS\tBYTES\tOLDEST")
		for _, q := range ov.Spool.Queues {
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\n", q.Queue, q.Count, size(q.Bytes), ago(q.Oldest, now))
		}
		_ = tw.Flush()
	}

	if ov.DeadLetters == nil {
		fmt.Fprintln(w, "\nDead letters  n/a (this loopguard has no /spool/dead)")
	} else {
		fmt.Fprintf(w, "\nDead letters  %d", ov.DeadLetters.Total)
		if len(ov.DeadLetters.ByProvider) > 0 {
			fmt.Fprintf(w, "  (%s)", countsLine(toFloat(ov.DeadLetters.ByProvider)))
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintf(w, "\nTop reasons (last %d decisions: %s)\n", ov.Decisions.Considered, countsLine(toFloat(ov.Decisions.ByAction)))
	if len(ov.Decisions.Top) == 0 {
		fmt.Fprintln(w, "  none yet")
		return
	}
	tw := table(w)
	fmt.Fprintln(tw, "  COUNT\tACTION\tLAYER\tREASON")
	for _, r := range ov.Decisions.Top {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", r.Count, r.Action, r.Layer, r.Reason)
	}
	_ = tw.Flush()
}

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

func notClosed(bs []breakerRow) int {
	n := 0
	for _, b := range bs {
		if b.State != "closed" {
			n++
		}
	}
	return n
}

// countsLine is "a 3 · b 1", largest first ("none" when empty).
func countsLine(m map[string]float64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %g", k, m[k])
	}
	return strings.Join(parts, " · ")
}

func toFloat(m map[string]int) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = float64(v)
	}
	return out
}

func percent(f float64) string {
	if f < 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.0f%%", f*100)
}

func quota(remaining, limit int64) string {
	switch {
	case remaining < 0 && limit < 0:
		return "unknown"
	case limit < 0:
		return fmt.Sprintf("%d/?", remaining)
	case remaining < 0:
		return fmt.Sprintf("?/%d", limit)
	}
	return fmt.Sprintf("%d/%d", remaining, limit)
}

// until is "in 4m10s" ("-" for a zero time, "passed" once past).
func until(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := t.Sub(now).Round(time.Second)
	if d <= 0 {
		return "passed"
	}
	return "in " + d.String()
}

// ago is "4m10s ago" ("-" for a zero time).
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return max(now.Sub(t).Round(time.Second), 0).String() + " ago"
}

func size(b int64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := int64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}

// fill is the spool's fill against its bounds, when /metrics gave them.
func fill(s spoolView) string {
	var parts []string
	if s.CapacityBytes > 0 {
		parts = append(parts, fmt.Sprintf("%.1f%% of %s", 100*float64(s.Bytes)/float64(s.CapacityBytes), size(s.CapacityBytes)))
	}
	if s.CapacityItems > 0 {
		parts = append(parts, fmt.Sprintf("%.1f%% of %d items", 100*float64(s.Items)/float64(s.CapacityItems), s.CapacityItems))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
