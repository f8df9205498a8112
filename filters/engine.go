package filters

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/ledger"
)

// Engine holds the compiled providers and the store, and decides events.
// It is immutable after New and safe for concurrent use.
type Engine struct {
	agent     string
	observe   bool
	store     ledger.Store
	now       func() time.Time
	providers []*Provider
	byName    map[string]*Provider
	// lookups are reused per decision, so the ledger state's slices are
	// decoded into memory that is already there.
	lookups sync.Pool
}

// Options configure an Engine.
type Options struct {
	// Agent is our change-agent name.
	Agent string
	// Observe forwards everything while reporting would-be drops.
	Observe bool
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// New compiles the providers of a loaded configuration.
func New(providers []*configs.Provider, store ledger.Store, opts Options) (*Engine, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Engine{agent: opts.Agent, observe: opts.Observe, store: store, now: opts.Now, byName: map[string]*Provider{}}
	e.lookups.New = func() any { return new(lookup) }
	for _, cp := range providers {
		p, err := NewProvider(cp, opts.Agent, Deps{Store: store, Now: opts.Now})
		if err != nil {
			return nil, fmt.Errorf("provider %s: %w", cp.Name, err)
		}
		e.providers = append(e.providers, p)
		e.byName[p.Name] = p
	}
	return e, nil
}

// Providers returns the compiled providers in configuration order.
func (e *Engine) Providers() []*Provider { return e.providers }

// Provider returns a provider by name.
func (e *Engine) Provider(name string) (*Provider, bool) {
	p, ok := e.byName[name]
	return p, ok
}

// Store returns the engine's store.
func (e *Engine) Store() ledger.Store { return e.store }

// Agent returns the change-agent name.
func (e *Engine) Agent() string { return e.agent }

// Now returns the engine clock's time.
func (e *Engine) Now() time.Time { return e.now() }

// Decide runs the event through its provider's (account's) chain. The first
// layer with positive echo evidence drops it; otherwise it is forwarded,
// explained by the most informative layer that passed. In observe mode a
// drop is reported as Observed and the event is forwarded.
// A pulled record (Source pull) skips dedup and skinny and is dropped only
// on proof that its state is our write (see pullVerdict); when the actor's
// evidence was overruled, the decision says so (unaccounted_values).
func (e *Engine) Decide(ctx context.Context, p *Provider, ev *Event) Decision {
	ap := p.ForAccount(ev.Account)
	d := Decision{
		Time: e.now(), Source: ev.Source, Action: Forward, Layer: "chain", Reason: ReasonNoEvidence,
		Provider: p.Name, Account: ev.Account, Object: ev.Object, Record: ev.Record, EventID: ev.ID,
	}
	if ev.Skinny() {
		d.Reason = ReasonSkinny
	}
	lk := e.lookups.Get().(*lookup)
	lk.reset(e.store, ev.Key())
	if pre := ev.pre; pre != nil && pre.state != nil {
		// Borrow the batch's state (layers only read it); the pooled
		// lookup must not keep its slices, or a later decode would write
		// into them.
		lk.loaded, lk.known, lk.err = true, pre.known, pre.err
		lk.st = *pre.state
		defer func() { lk.st = ledger.State{}; e.lookups.Put(lk) }()
	} else {
		defer e.lookups.Put(lk)
	}
	pull := ev.Source == SourcePull
	// overruled is a pull's echo evidence that did not cover the record,
	// by the layer overruledBy.
	var overruled Verdict
	var overruledBy string
	for _, l := range ap.chain {
		if pull && !appliesToPull(l.Name()) {
			continue
		}
		v := l.Check(ctx, ev, lk)
		if pull {
			if v = pullVerdict(ctx, v, ev, lk); v.Reason == ReasonUnaccounted && overruledBy == "" {
				overruled, overruledBy = v, l.Name()
				continue
			}
		}
		if v.Echo {
			d.Action, d.Layer, d.Reason, d.Detail = Drop, l.Name(), v.Reason, v.Detail
			break
		}
		if v.Reason != ReasonNone && (!v.Abstain || v.Reason == ReasonStoreError || d.Reason == ReasonNoEvidence) {
			d.Layer, d.Reason, d.Detail = l.Name(), v.Reason, v.Detail
		}
	}
	if overruledBy != "" && d.Action == Forward {
		// Say why the record stayed despite the evidence (a doubt).
		d.Layer, d.Reason, d.Detail = overruledBy, overruled.Reason, overruled.Detail
	}
	if d.Action == Drop && (e.observe || ap.observe) {
		d.Action, d.Observed = Forward, true
	}
	d.finish()
	return d
}

// Unverified is the decision for every event of a delivery whose signature
// did not verify: forwarded untouched, never dropped.
func (e *Engine) Unverified(p *Provider, ev *Event, why string) Decision {
	d := Decision{
		Time: e.now(), Source: ev.Source, Action: Forward, Layer: "signature", Reason: ReasonUnverified, Detail: why,
		Provider: p.Name, Account: ev.Account, Object: ev.Object, Record: ev.Record, EventID: ev.ID,
	}
	d.finish()
	return d
}

// Whole is a decision about a delivery that was not split into events
// (malformed, oversize, handshake, breaker): always forward or hold.
func (e *Engine) Whole(provider string, a Action, layer string, r Reason, detail string) Decision {
	d := Decision{Time: e.now(), Source: SourceWebhook, Action: a, Layer: layer, Reason: r, Detail: detail, Provider: provider}
	d.finish()
	return d
}

// Accepted records, after the app answered 2xx, what it now knows: the ids
// of forwarded events (for dedup) and their records' state as the last
// genuine state (so a write-back or redundant event is recognised). Events
// only observed as would-be drops are not recorded as genuine, and events of
// unverified deliveries are not recorded at all.
func (e *Engine) Accepted(ctx context.Context, p *Provider, evs []Event, ds []Decision) error {
	var firstErr error
	at := e.now()
	bw, batch := e.store.(BatchWriter)
	batch = batch && len(evs) > 1
	var ids []string
	var keys []ledger.Key
	var fields [][]ledger.Field
	for i := range evs {
		if ds[i].Action != Forward {
			continue
		}
		ev := &evs[i]
		if ds[i].Reason == ReasonUnverified {
			// An unverified delivery must not steer later decisions: a
			// forged event id would make the genuine event a "redelivery".
			continue
		}
		if ev.ID != "" {
			if batch {
				ids = append(ids, ev.dedupKey())
			} else if err := e.store.MarkEvent(ctx, ev.dedupKey()); err != nil && firstErr == nil {
				firstErr = err
			}
		}
		if ds[i].Observed || ev.Record == "" || len(ev.Fields) == 0 {
			continue
		}
		if batch {
			keys, fields = append(keys, ev.Key()), append(fields, ev.Fields)
		} else if err := e.store.RecordSeen(ctx, ev.Key(), ev.Fields, at); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if batch {
		// One round trip per kind for the whole delivery.
		if len(ids) > 0 {
			firstErr = bw.MarkEvents(ctx, ids)
		}
		if len(keys) > 0 {
			if err := bw.RecordSeenMany(ctx, keys, fields, at); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	return firstErr
}
