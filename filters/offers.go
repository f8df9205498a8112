package filters

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/loopguard/loopguard/filters/ledger"
)

// offers remembers, per record, the values of the events just handed to
// the app (for offerTTL, answered or not): an app that writes an event
// back — from its webhook handler before it answers, or right after — writes
// values it holds already, including fields loopguard never saw (an event
// with null for unchanged fields carries only the changed ones): a write
// that changes nothing, which must get no sentinel and never be matched as
// an echo. In process and short-lived (offerTTL); bounded
// (offerMax records, then it starts over: a forgotten offer only costs a
// sentinel).
type offers struct {
	mu  sync.Mutex
	m   map[ledger.Key]offer
	now func() time.Time
}

type offer struct {
	fields []ledger.Field
	at     time.Time
}

const (
	offerTTL = 30 * time.Second
	offerMax = 10000
	// offerFresh is how long after an event was handed to the app a write
	// carrying fields loopguard never saw is still taken for its
	// write-back (those fields then the app's unchanged copy): an app
	// writes an event back inside its handler or right after answering; a
	// write seconds later is an edit (simulator seeds 3905, 12146).
	offerFresh = 5 * time.Second
)

func newOffers(now func() time.Time) *offers {
	return &offers{m: map[ledger.Key]offer{}, now: now}
}

// add records what an event hands to the app (merged with earlier offers
// of the record).
func (o *offers) add(k ledger.Key, fs []ledger.Field) {
	if o == nil || k.Record == "" || len(fs) == 0 {
		return
	}
	now := o.now()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.m) >= offerMax {
		clear(o.m)
	}
	cur := o.m[k]
	if now.Sub(cur.at) > offerTTL {
		cur.fields = nil
	}
	merged := make([]ledger.Field, len(cur.fields), len(cur.fields)+len(fs)) // one allocation for the inserts below
	copy(merged, cur.fields)
	for _, f := range fs {
		i, ok := findField(merged, f.Name)
		if ok {
			merged[i] = f
			continue
		}
		merged = slices.Insert(merged, i, f)
	}
	o.m[k] = offer{fields: merged, at: now}
}

// supersede forgets what the record's offer says of the fields fs writes
// with another value: the app's own write of a field is newer than what an
// earlier event handed it, so the offer no longer says what the app holds
// (simulator seed 13022: a person's value offered seconds before the app's
// own PUT overwrote it made the app's later write of that value look like
// a no-op write-back).
func (o *offers) supersede(k ledger.Key, fs []ledger.Field) {
	if o == nil || k.Record == "" || len(fs) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	cur, ok := o.m[k]
	if !ok {
		return
	}
	kept := cur.fields[:0:0]
	for _, f := range cur.fields {
		if i, wrote := findField(fs, f.Name); wrote && fs[i].Hash != f.Hash {
			continue
		}
		kept = append(kept, f)
	}
	if len(kept) == 0 {
		delete(o.m, k)
		return
	}
	cur.fields = kept
	o.m[k] = cur
}

// getFresh returns the record's current offer (nil: none) and whether it
// is fresh (see offerFresh).
func (o *offers) getFresh(k ledger.Key) ([]ledger.Field, bool) {
	if o == nil {
		return nil, false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	cur, ok := o.m[k]
	age := o.now().Sub(cur.at)
	if !ok || age > offerTTL {
		return nil, false
	}
	return cur.fields, age <= offerFresh
}

func findField(fs []ledger.Field, name string) (int, bool) {
	return slices.BinarySearchFunc(fs, name, func(f ledger.Field, n string) int { return strings.Compare(f.Name, n) })
}
