package proxy

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/loopguard/loopguard/filters"
)

// numbered is a decision as the admin API shows it: with its sequence
// number, which GET /decisions/{seq} takes.
type numbered struct {
	Seq uint64 `json:"seq"`
	filters.Decision
}

// MarshalJSON is the decision's JSON (with its trace) led by "seq" (the
// embedded decision's own MarshalJSON would otherwise leave it out).
func (n numbered) MarshalJSON() ([]byte, error) {
	b, err := n.Decision.MarshalJSON()
	if err != nil || len(b) < 2 {
		return b, err
	}
	head := `{"seq":` + strconv.FormatUint(n.Seq, 10)
	if string(b) == "{}" {
		return []byte(head + "}"), nil
	}
	return append([]byte(head+","), b[1:]...), nil
}

// decisionFilter selects decisions by the query of GET /decisions; an empty
// field matches everything.
type decisionFilter struct {
	provider, source, action, layer, record string
}

func parseDecisionFilter(q url.Values) decisionFilter {
	return decisionFilter{provider: q.Get("provider"), source: q.Get("source"), action: q.Get("action"),
		layer: q.Get("layer"), record: q.Get("record")}
}

// match reports whether d passes the filter. Action "would_drop" selects
// the drops observe mode only reported.
func (f decisionFilter) match(d *filters.Decision) bool {
	switch {
	case f.provider != "" && d.Provider != f.provider,
		f.source != "" && string(d.Source) != f.source,
		f.layer != "" && d.Layer != f.layer,
		f.record != "" && d.Record != f.record:
		return false
	case f.action == "would_drop":
		return d.Observed
	case f.action != "" && d.Action.String() != f.action:
		return false
	}
	return true
}

// maxDecisionsLimit bounds ?limit= (the ring is bounded too; this bounds
// the work of one request on a large ring).
const maxDecisionsLimit = 10000

// serveDecisions is GET /decisions?limit=N&provider=&source=&action=&layer=&record=:
// the last N matching decisions, newest first (N <= 0: every match).
func serveDecisions(ring *DecisionRing) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		n, _ := strconv.Atoi(q.Get("limit"))
		if n <= 0 || n > maxDecisionsLimit {
			n = maxDecisionsLimit
		}
		f := parseDecisionFilter(q)
		ds, newest := ring.Numbered(0)
		out := make([]numbered, 0, min(n, len(ds)))
		for i := range ds {
			if len(out) == n {
				break
			}
			if f.match(&ds[i]) {
				out = append(out, numbered{Seq: newest - uint64(i), Decision: ds[i]})
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"decisions": out, "total": newest})
	})
}

// serveDecision is GET /decisions/{seq}: one decision, while the ring
// still holds it.
func serveDecision(ring *DecisionRing) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "decision number: " + err.Error()})
			return
		}
		d, ok := ring.At(seq)
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "decision " + strconv.FormatUint(seq, 10) + " is no longer (or not yet) kept"})
			return
		}
		writeJSON(w, http.StatusOK, numbered{Seq: seq, Decision: d})
	})
}
