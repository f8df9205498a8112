// Package filters turns deliveries into events and decides, layer by layer,
// whether each event is an echo of our own write or a genuine change. It
// knows nothing of networking: the proxy hands it bytes and headers and acts
// on its decisions.
package filters

import (
	"strconv"
	"time"

	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/tagging"
)

// Source says where an event came from.
type Source string

// Sources.
const (
	SourceWebhook Source = "webhook"
	SourcePull    Source = "pull"
)

// Event is one change that reaches the app, pushed or pulled. Missing pieces
// are allowed: each layer uses what it has.
type Event struct {
	Source   Source
	Provider string
	Account  string
	Object   string
	Record   string
	// ID is the event id (composite where the provider's id is not unique).
	ID         string
	Actor      string
	OccurredAt time.Time
	// ProviderAt orders the event among the record's states: the
	// provider's sequence number, else OccurredAt in Unix ns (0: unknown).
	ProviderAt int64
	// Fields are the tracked values present in the event, sorted by name.
	Fields []ledger.Field
	// Partial: Fields are only the changed fields, not the whole record
	// (the route's records hold only them, a change list names them, or
	// nulls mean "unchanged"): a write that changed nothing cannot be its
	// echo.
	Partial bool
	// Unordered: the provider may deliver the record's events out of
	// order (the route's unordered).
	Unordered bool
	// EveryWrite: the provider sends an event for every write, in order
	// (the route's every_write): no-op writes of ours have echoes too.
	EveryWrite bool
	// Untouched: the event names the record's tracked fields, all null on
	// a route whose nulls mean "unchanged": no tracked field changed.
	Untouched bool
	// Sentinel is the sentinel field's value, when present.
	Sentinel string
	// SentinelChange: the event is a change of the sentinel property itself
	// (per-property providers).
	SentinelChange bool
	// Marks are the values found for the route's markers, by index.
	Marks []string
	// Start and End are the event's byte span in the delivery body.
	Start, End int
	// Verified: the delivery's signature was checked and is valid.
	Verified bool

	route *WebhookRoute
	// inForm: the event came from a form field's JSON (its span is not in
	// the delivery body), so its delivery is never rewritten.
	inForm bool
	dedup  string // DedupKey(Provider, ID), built once on first use
	pre    *prefetched
	// earlier are the echoes of our writes that earlier events of the
	// same delivery and record were (see After), applied in order to the
	// record's state before this event is judged.
	earlier []ledger.Accept
}

// After tells the events of a delivery that follow evs[i] what its
// decision d settled: they are later states of the provider, so a later
// event of the same record can no longer be the echo of a write that
// evs[i] already answered (a person's return to an earlier write's state
// after our next write, delivered in one batch). Callers deciding a
// delivery call it after each decision.
func After(evs []Event, i int, d *Decision) {
	if d.Settle == 0 || !d.WouldDrop() || evs[i].Record == "" {
		return
	}
	k := evs[i].Key()
	a := ledger.Accept{Fields: evs[i].Fields, ProviderAt: evs[i].ProviderAt, Settle: d.Settle}
	for j := i + 1; j < len(evs); j++ {
		if evs[j].Record != "" && evs[j].Key() == k {
			evs[j].earlier = append(evs[j].earlier, a)
		}
	}
}

// dedupable reports whether the event has a dedup key: an event id, or,
// for an event without one, a provider time, a record and tracked values
// (see dedupKey).
func (e *Event) dedupable() bool {
	return e.ID != "" || (e.ProviderAt != 0 && e.Record != "" && len(e.Fields) > 0)
}

// dedupKey is the event's dedup store key, built once (dedup layer, then
// Accepted). An event without an id is known by its record, its provider
// time and its tracked values: the same state of the record at the same
// time is the same event, resent (simulator seeds 130639, 156298: a resend
// without id, batched after our next write, was forwarded and written
// back). Another event with that very state and time carries nothing the
// first did not.
func (e *Event) dedupKey() string {
	if e.dedup == "" {
		if e.ID != "" {
			e.dedup = DedupKey(e.Provider, e.ID)
			return e.dedup
		}
		// DedupKey(provider, "state:object/record@time#hash") built in one
		// buffer: one allocation for the key.
		var fsa [16]tagging.FieldHash
		fs := fsa[:0]
		for _, f := range e.Fields {
			fs = append(fs, tagging.FieldHash(f))
		}
		var ba [128]byte
		b := append(ba[:0], e.Provider...)
		b = append(b, "\x00state:"...)
		b = append(b, e.Object...)
		b = append(b, '/')
		b = append(b, e.Record...)
		b = append(b, '@')
		b = strconv.AppendInt(b, e.ProviderAt, 10)
		b = append(b, '#')
		b = strconv.AppendUint(b, tagging.Combine(fs), 16)
		e.dedup = string(b)
	}
	return e.dedup
}

// Skinny reports an event that carries no values, no actor and no marker.
func (e *Event) Skinny() bool {
	if len(e.Fields) > 0 || e.Untouched || e.Actor != "" || e.Sentinel != "" {
		return false
	}
	for _, m := range e.Marks {
		if m != "" {
			return false
		}
	}
	return true
}

// Key is the ledger key of the event's record.
func (e *Event) Key() ledger.Key {
	return ledger.Key{Provider: e.Provider, Object: e.Object, Record: e.Record}
}

// match is the index of the unsettled write e is the echo of, or -1 (see
// ledger.State.Match): an event of changed fields only is never a no-op
// write's echo.
func (e *Event) match(st *ledger.State, since time.Time) int {
	return st.MatchWith(e.Fields, e.ProviderAt, since, e.matchOpts())
}

// matchOpts is what the event's route says of its provider's events.
func (e *Event) matchOpts() ledger.MatchOpts {
	return ledger.MatchOpts{Changes: e.Partial, Unordered: e.Unordered, EveryWrite: e.EveryWrite}
}
