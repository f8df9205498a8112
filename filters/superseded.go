package filters

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/loopguard/loopguard/filters/ledger"
)

// Held events can be overtaken by the record itself: while a record's
// events wait (quarantine, open breaker), a later event of the record that
// is decided without waiting — dropped as our echo, or as values the app
// already holds — shows a newer whole state of the record that the app
// holds. Replaying the older, held state after it would hand the app a
// state the record has left, and its write-back would start the
// ping-pong again (simulator seed 2203). newerStates remembers, for
// records with held events only, the newest such state; Judge.Superseded
// asks it before a held delivery is replayed.

// maxNewer bounds the records remembered; past it the memory is dropped
// (held deliveries are then replayed as they are: a bounded loop at
// worst, never a lost change).
const maxNewer = 1 << 14

type newerStates struct {
	mu sync.Mutex
	m  map[ledger.Key]newerState
}

type newerState struct {
	at         time.Time // when it was decided (the engine's clock)
	providerAt int64     // its provider time or sequence (0: unknown)
}

func (n *newerStates) note(k ledger.Key, at time.Time, providerAt int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil || len(n.m) >= maxNewer {
		n.m = make(map[ledger.Key]newerState)
	}
	n.m[k] = newerState{at: at, providerAt: providerAt}
}

// forget drops what is remembered of k: an event of k is being held now,
// and a state noted before it says nothing of it (it may be newer).
func (n *newerStates) forget(k ledger.Key) {
	n.mu.Lock()
	delete(n.m, k)
	n.mu.Unlock()
}

// after reports whether a newer whole state of k was decided after a
// delivery held at heldAt whose event has provider time providerAt: not
// before it by the engine's clock (a hold after the note erased it: see
// forget) and, where the held event has a provider time, later by the
// provider's too (events reordered within a delivery window).
func (n *newerStates) after(k ledger.Key, heldAt time.Time, providerAt int64) bool {
	n.mu.Lock()
	s, ok := n.m[k]
	n.mu.Unlock()
	if !ok || s.at.Before(heldAt) {
		return false
	}
	if providerAt != 0 {
		return s.providerAt > providerAt
	}
	return true
}

// noteNewer remembers the events of a judged delivery that show a newer
// whole state of a record with held events (see newerStates).
func (jg *Judge) noteNewer(evs []Event, ds []Decision) {
	if jg.guard == nil || jg.backlog == nil || jg.backlog.Idle() {
		return
	}
	for i := range evs {
		ev, d := &evs[i], &ds[i]
		if d.Action != Drop || d.Observed || ev.Partial || ev.Record == "" || len(ev.Fields) == 0 ||
			d.Reason == ReasonRedelivery || d.Reason == ReasonStale {
			continue
		}
		if _, behind := jg.backlog.Behind(jg.guard.queuesFor(ev)...); behind {
			jg.newer.note(ev.Key(), d.Time, ev.ProviderAt)
		}
	}
}

// Superseded reports whether a held delivery need not be replayed: every
// event it carries is a whole state of its record (not a change list)
// that a newer whole state replaced — one decided after the delivery was
// held at heldAt (the app holds it), or one in a delivery held after it
// in the same queue (later; replayed next, so the app gets the newest
// state, not each older one in turn, whose write-backs would restart the
// loop the hold stopped: simulator seed 11098). An untrusted delivery
// never is (it is replayed as it came); one that cannot be split into
// events never is.
//
// When it is, the events' ids are marked for dedup, as for a dropped echo:
// a redelivery of a replaced state must not hand the app that older state
// later.
//
// Only a quarantined record's queue is coalesced: what a loop held back is
// states of one record bouncing; deliveries held while the app was down or
// an account's breaker was open are replayed as they came, every one, in
// order (the app may want each event: a create before its updates).
func (jg *Judge) Superseded(ctx context.Context, queue string, d Delivery, heldAt time.Time, later ...Delivery) bool {
	if !strings.HasPrefix(queue, QueueRecord+":") || !d.Verification.Trusted() || heldAt.IsZero() {
		return false
	}
	evs := heldEvents(d)
	if len(evs) == 0 {
		return false
	}
	var newer []Event
	for _, l := range later {
		if l.Verification.Trusted() {
			newer = append(newer, heldEvents(l)...)
		}
	}
	for i := range evs {
		ev := &evs[i]
		if ev.Partial || ev.Record == "" || len(ev.Fields) == 0 {
			return false
		}
		if !jg.newer.after(ev.Key(), heldAt, ev.ProviderAt) && !jg.replacedBy(ctx, ev, newer) {
			return false
		}
	}
	for i := range evs {
		if evs[i].dedupable() {
			// Best effort: a failed mark only lets a redelivery be judged
			// again.
			_ = jg.engine.store.MarkEvent(ctx, evs[i].dedupKey())
		}
	}
	return true
}

// heldEvents extracts a held delivery's events (none when it cannot be
// split).
func heldEvents(d Delivery) []Event {
	d.Source = SourceWebhook
	j := &Judgement{d: d, ex: d.Provider}
	evs, err := j.extract(d.Route, d.Body)
	if err != nil {
		return nil
	}
	return evs
}

// replacedBy reports whether a later held event is a newer whole state of
// ev's record: newer by the provider's times where both have one, else by
// hold order on a provider that delivers in order. A later event with ev's
// own id, or one whose id was already handled (accepted, dropped, or
// replaced — a redelivery of an older event), says nothing of order
// (simulator seed 3237).
func (jg *Judge) replacedBy(ctx context.Context, ev *Event, later []Event) bool {
	k := ev.Key()
	for i := range later {
		l := &later[i]
		if l.Partial || len(l.Fields) == 0 || l.Key() != k {
			continue
		}
		if ev.ProviderAt != 0 && l.ProviderAt != 0 {
			if l.ProviderAt > ev.ProviderAt {
				return true
			}
			continue
		}
		if ev.Unordered || ev.ProviderAt != 0 || l.ProviderAt != 0 {
			continue
		}
		if l.ID != "" {
			if l.ID == ev.ID {
				continue
			}
			if seen, err := jg.engine.store.EventSeen(ctx, l.dedupKey()); err != nil || seen {
				continue
			}
		}
		return true
	}
	return false
}
