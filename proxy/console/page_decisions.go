package console

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

// decisionFilter is the decisions page's filter, passed to GET /decisions
// as it is.
type decisionFilter struct {
	Provider, Source, Action, Layer, Record string
}

func (f decisionFilter) query(limit int) string {
	q := url.Values{}
	q.Set("limit", strconv.Itoa(limit))
	for k, v := range map[string]string{"provider": f.Provider, "source": f.Source, "action": f.Action, "layer": f.Layer, "record": f.Record} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q.Encode()
}

type decisionsPage struct {
	Filter    decisionFilter
	API       string // what the page's script polls
	Decisions []decision
	Total     uint64
	Providers []string
	Sources   []string
	Actions   []string
	Layers    []string
}

// listLimit is how many decisions the list shows.
const listLimit = 100

// knownLayers are the layer names a decision can carry, for the filter's
// suggestions.
var knownLayers = []string{"signature", "dedup", "actor", "marker", "sentinel", "fingerprint", "skinny", "chain", "response", "loop", "breaker", "hold"}

func (c *Console) loadDecisions(v *view, r *http.Request) error {
	q := r.URL.Query()
	p := decisionsPage{
		Filter:  decisionFilter{Provider: q.Get("provider"), Source: q.Get("source"), Action: q.Get("action"), Layer: q.Get("layer"), Record: q.Get("record")},
		Sources: []string{"webhook", "pull"}, Actions: []string{"forward", "drop", "would_drop", "hold"}, Layers: knownLayers,
	}
	p.API = "/decisions?" + p.Filter.query(listLimit)
	var list decisionList
	if err := c.get(r, p.API, &list); err != nil {
		return err
	}
	p.Decisions, p.Total = list.Decisions, list.Total
	var o overview
	if err := c.get(r, "/overview", &o); err == nil {
		for _, pr := range o.Providers {
			p.Providers = append(p.Providers, pr.Name)
		}
	}
	v.Data = p
	return nil
}

// decisionPage is one decision's explanation.
type decisionPage struct {
	D decision
	// Other are fields of the decision this console does not know, as JSON.
	Other map[string]string
	// Record is the ledger's and the loop detector's view of the record;
	// RecordErr says why it is missing.
	Record    *record
	RecordKey string
	RecordErr string
	// Delivery are the decisions of the same delivery, in chain order.
	Delivery []decision
}

// knownDecisionFields are shown in their own places on the page.
var knownDecisionFields = []string{"seq", "time", "source", "action", "observed", "layer", "reason", "detail", "provider",
	"account", "object", "record", "event_id", "delivery", "trace"}

func (c *Console) loadDecision(v *view, r *http.Request) error {
	seq := r.PathValue("seq")
	if _, err := strconv.ParseUint(seq, 10, 64); err != nil {
		return &apiError{Status: http.StatusBadRequest, Msg: "decision number: " + err.Error()}
	}
	var raw json.RawMessage
	if err := c.get(r, "/decisions/"+seq, &raw); err != nil {
		return err
	}
	p := decisionPage{Other: map[string]string{}}
	if err := json.Unmarshal(raw, &p.D); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	_ = json.Unmarshal(raw, &all)
	for k, val := range all {
		if !slices.Contains(knownDecisionFields, k) {
			var b bytes.Buffer
			if json.Indent(&b, val, "", "  ") == nil {
				p.Other[k] = b.String()
			}
		}
	}
	v.Title = "Decision " + seq
	if p.D.Record != "" {
		p.RecordKey = recordKey(p.D.Provider, "", p.D.Object, p.D.Record)
		var rec record
		switch err := c.get(r, "/records/"+url.PathEscape(p.RecordKey), &rec); {
		case statusOf(err) == http.StatusUnauthorized || statusOf(err) == http.StatusForbidden:
			return err
		case err != nil:
			p.RecordErr = err.Error()
		default:
			p.Record = &rec
		}
	}
	if p.D.Delivery != "" {
		var list decisionList
		if err := c.get(r, "/decisions?limit=0", &list); err == nil {
			for _, d := range list.Decisions {
				if d.Delivery == p.D.Delivery {
					p.Delivery = append(p.Delivery, d)
				}
			}
			slices.Reverse(p.Delivery)
		}
	}
	v.Data = p
	return nil
}

// reasonText explains reason codes in words.
var reasonText = map[string]string{
	"redelivery":           "the provider sent this event id before, and the app accepted it",
	"integration_user":     "the event names our integration user as the actor",
	"change_agent":         "the event carries the change-agent marker of our write",
	"sentinel_match":       "the record carries the keyed sentinel of an unsettled write of ours and every tracked value is what it left",
	"sentinel_stale":       "the sentinel is ours but belongs to an older write",
	"sentinel_unbound":     "a sentinel of ours that names no unsettled write of this record (copied, or already settled): no evidence",
	"sentinel_change":      "the sentinel is ours but a tracked value differs from what our write left",
	"sentinel_forged":      "a sentinel in our format that does not verify with the deployment key",
	"matches_our_write":    "every tracked value is the state an unsettled write of ours left",
	"app_holds_values":     "the app already holds every value of the event (nothing changed)",
	"stale_event":          "the event is older than the state the app holds of every one of its fields",
	"new_value":            "a tracked value is new: a genuine change",
	"skinny_recent_write":  "a skinny notification (no values) about a record we wrote recently",
	"no_evidence":          "no layer recognised the event as ours: forwarded as genuine",
	"skinny":               "a skinny notification (no values): forwarded, never dropped blindly",
	"unverified_signature": "the signature did not verify: forwarded untouched, never dropped, never recorded",
	"malformed":            "the event could not be read: forwarded untouched",
	"store_error":          "the state store did not answer: the layer abstained and the event was forwarded",
	"oversize":             "the delivery is larger than the inbound limit: forwarded untouched",
	"handshake":            "a webhook handshake: passed through",
	"breaker_open":         "the account's quota breaker is open: held in the spool until it closes",
	"quarantined":          "the loop detector quarantined the record: held until released",
	"app_unavailable":      "the app did not answer: held for replay",
	"behind_held":          "an older event of the record or account is held: this one waits behind it",
	"unsupported_encoding": "the response's content coding cannot be decoded: passed untouched",
	"unaccounted_values":   "last modified by the integration user but holding a value we did not write: kept",
}

func explainReason(reason string) string { return reasonText[reason] }
