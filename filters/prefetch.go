package filters

import (
	"context"

	"github.com/loopguard/loopguard/filters/ledger"
)

// BatchStore is a ledger that reads many records and event ids in one
// round trip each (the Redis store). With it, a delivery of N events costs
// one round trip per layer, not one per event per layer.
type BatchStore interface {
	GetMany(ctx context.Context, keys []ledger.Key, sts []ledger.State) ([]bool, error)
	EventsSeen(ctx context.Context, ids []string) ([]bool, error)
}

// prefetched is what Prefetch loaded for one event.
type prefetched struct {
	seenKnown bool // dedup answer loaded
	seen      bool
	seenErr   error         // the batch dedup read failed: the dedup layer abstains
	state     *ledger.State // nil: not loaded
	known     bool
	err       error // the batch read failed: layers abstain as for Get
}

// Prefetch loads, when the store is a BatchStore and there is more than one
// event, every event's dedup answer and ledger state in one round trip
// each; Decide then uses them instead of calling the store per event. A
// failed batch read is remembered as the store error of each event (the
// layers abstain: events are forwarded). It is a no-op otherwise.
func (e *Engine) Prefetch(ctx context.Context, evs []Event) {
	bs, ok := e.store.(BatchStore)
	if !ok || len(evs) < 2 {
		return
	}
	pre := make([]prefetched, len(evs))
	var ids []string
	var idOf []int
	keyAt := map[ledger.Key]int{}
	var keys []ledger.Key
	for i := range evs {
		ev := &evs[i]
		ev.pre = &pre[i]
		if ev.dedupable() && ev.Source != SourcePull {
			ids = append(ids, ev.dedupKey())
			idOf = append(idOf, i)
		}
		if ev.Record != "" {
			k := ev.Key()
			if _, ok := keyAt[k]; !ok {
				keyAt[k] = len(keys)
				keys = append(keys, k)
			}
		}
	}
	if len(ids) > 0 {
		seen, err := bs.EventsSeen(ctx, ids)
		for j, i := range idOf {
			if err != nil {
				pre[i].seenErr = err
				continue
			}
			pre[i].seenKnown, pre[i].seen = true, seen[j]
		}
	}
	if len(keys) == 0 {
		return
	}
	sts := make([]ledger.State, len(keys))
	oks, err := bs.GetMany(ctx, keys, sts)
	for i := range evs {
		ev := &evs[i]
		if ev.Record == "" {
			continue
		}
		j := keyAt[ev.Key()]
		p := &pre[i]
		p.state = &sts[j]
		if oks == nil {
			p.err = err
			continue
		}
		p.known = oks[j]
	}
}

// ClearPrefetch forgets what Prefetch loaded for the event (to decide it
// again later, e.g. in a benchmark).
func (e *Event) ClearPrefetch() { e.pre = nil }

// BatchWriter is a ledger that records a delivery's acceptance in one round
// trip per kind (the Redis store).
type BatchWriter interface {
	AcceptMany(ctx context.Context, keys []ledger.Key, accs []ledger.Accept) error
	MarkEvents(ctx context.Context, ids []string) error
}
