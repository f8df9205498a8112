package filters

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/tagging"
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
	offers    *offers
	// echoWindow: see Options.EchoWindow.
	echoWindow time.Duration
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
	// EchoWindow is how long after a write its echo is expected (see
	// configs.Ledger.EchoWindow); 0: until the write expires.
	EchoWindow time.Duration
	// JSONMaxDepth bounds the nesting of every JSON body the providers
	// parse (see LimitJSONDepth); 0: jsonlimit's default.
	JSONMaxDepth int
	// Secret is the deployment key: sentinels are keyed with it (and
	// verify only where it is shared). Default: a random key for this
	// engine alone.
	Secret []byte
}

// New compiles the providers of a loaded configuration.
func New(providers []*configs.Provider, store ledger.Store, opts Options) (*Engine, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if len(opts.Secret) == 0 {
		opts.Secret = make([]byte, 32)
		if _, err := rand.Read(opts.Secret); err != nil {
			return nil, fmt.Errorf("engine: random key: %w", err)
		}
	}
	e := &Engine{agent: opts.Agent, observe: opts.Observe, store: store, now: opts.Now, byName: map[string]*Provider{}, echoWindow: opts.EchoWindow}
	e.lookups.New = func() any { return new(lookup) }
	key := tagging.NewKey(opts.Secret)
	e.offers = newOffers(opts.Now)
	for _, cp := range providers {
		p, err := NewProvider(cp, opts.Agent, Deps{Store: store, Now: opts.Now, Key: key, Secret: opts.Secret, offers: e.offers})
		if err != nil {
			return nil, fmt.Errorf("provider %s: %w", cp.Name, err)
		}
		e.providers = append(e.providers, p)
		e.byName[p.Name] = p
	}
	if opts.JSONMaxDepth != 0 {
		e.LimitJSONDepth(opts.JSONMaxDepth)
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
	lk.earlier = ev.earlier
	if e.echoWindow > 0 {
		lk.since = d.Time.Add(-e.echoWindow)
	}
	if pre := ev.pre; pre != nil && pre.state != nil {
		// Borrow the batch's state (layers only read it); the pooled
		// lookup must not keep its slices, or a later decode would write
		// into them.
		lk.loaded, lk.known, lk.err = true, pre.known, pre.err
		lk.st = *pre.state
		if len(ev.earlier) > 0 && pre.err == nil {
			lk.st.Writes, lk.st.App = slices.Clone(lk.st.Writes), slices.Clone(lk.st.App)
			lk.applyEarlier()
		}
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
		d.addStep(l.Name(), v)
		if v.Shows != 0 && !pull {
			d.Shows = v.Shows
		}
		if pull {
			if v = pullVerdict(ctx, v, ev, lk); v.Reason == ReasonUnaccounted && overruledBy == "" {
				overruled, overruledBy = v, l.Name()
				continue
			}
		}
		if v.Kind == Echo {
			d.Action, d.Layer, d.Reason, d.Detail, d.Settle = Drop, l.Name(), v.Reason, v.Detail, v.Settle
			if d.Settle == 0 && !pull && v.Reason != ReasonRedelivery {
				// An echo recognised by its actor or marker settles the
				// write it echoes too: left unsettled, a person's later
				// return to those values would look like its echo.
				d.Settle = settles(ctx, ev, lk)
			}
			if d.Settle == 0 && v.Reason != ReasonRedelivery {
				// No tracked change, but our sentinel: the write's echo.
				d.Settle = d.Shows
			}
			break
		}
		if v.Reason != ReasonNone && (v.Kind != Abstain || v.Reason == ReasonStoreError || d.Reason == ReasonNoEvidence) {
			d.Layer, d.Reason, d.Detail = l.Name(), v.Reason, v.Detail
		}
	}
	if d.Action == Forward && !pull && ev.Record != "" {
		if st, known, err := lk.state(ctx); err == nil {
			// Writes recorded from now on (the app's write-back of this
			// event, even before it answers) are not superseded by it.
			d.Upto = 1
			if known {
				d.Upto = st.NextSeq + 1
				// Whatever layers are on: does the event show one of our
				// writes applied (an unproven echo the loop detector
				// counts)?
				d.Reflects = len(ev.Fields) > 0 && st.Reflects(ev.Fields) >= 0
			}
		}
	}
	if overruledBy != "" && d.Action == Forward {
		// Say why the record stayed despite the evidence (a doubt).
		d.Layer, d.Reason, d.Detail = overruledBy, overruled.Reason, overruled.Detail
	}
	if d.Action == Drop && (e.observe || ap.observe) {
		d.Action, d.Observed = Forward, true
	}
	return d
}

// settles is the sequence number of the unsettled write whose expected
// state an echo carries (0: none, or unknown).
func settles(ctx context.Context, ev *Event, lk *lookup) uint32 {
	if len(ev.Fields) == 0 && !(ev.Untouched && ev.EveryWrite && !ev.Unordered) {
		return 0
	}
	st, known, err := lk.state(ctx)
	if err != nil || !known {
		return 0
	}
	if len(ev.Fields) == 0 {
		// An echo that changed nothing, on a provider with an event for
		// every write, in order: the echo of our oldest unsettled write,
		// which changed nothing there (left unsettled, a write that changed
		// nothing for the app would match a person's later one-field
		// change; seeds 170910, 480, 39355).
		if len(st.Writes) > 0 && !st.Writes[0].At.Before(lk.since) {
			return st.Writes[0].Seq
		}
		return 0
	}
	if i := ev.match(st, lk.since); i >= 0 {
		return st.Writes[i].Seq
	}
	// A certain echo of a write whose state loopguard only partly knew
	// (a partial write of a record it had not seen): the newest write it
	// shows applied.
	if i := st.Reflects(ev.Fields); i >= 0 {
		return st.Writes[i].Seq
	}
	return 0
}

// Unverified is the decision for every event of a delivery whose signature
// did not verify: forwarded untouched, never dropped.
func (e *Engine) Unverified(p *Provider, ev *Event, why string) Decision {
	d := Decision{
		Time: e.now(), Source: ev.Source, Action: Forward, Layer: "signature", Reason: ReasonUnverified, Detail: why,
		Provider: p.Name, Account: ev.Account, Object: ev.Object, Record: ev.Record, EventID: ev.ID,
	}
	return d
}

// Whole is a decision about a delivery that was not split into events
// (malformed, oversize, handshake, breaker): always forward or hold.
func (e *Engine) Whole(provider string, a Action, layer string, r Reason, detail string) Decision {
	d := Decision{Time: e.now(), Source: SourceWebhook, Action: a, Layer: layer, Reason: r, Detail: detail, Provider: provider}
	return d
}

// Settle records, right after a delivery was decided, what its forwarded
// events are handing to the app (a write-back made before the app answers
// is then known to change nothing), and in the ledger the writes its
// echoes settle: each dropped (or, in observe mode, would-be
// dropped) event that echoed write k settles k and every earlier write of
// its record, so a later event with those values is judged afresh. All
// events of a delivery are decided before any write is settled.
func (e *Engine) Settle(ctx context.Context, evs []Event, ds []Decision) error {
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	var dropped []string
	for i := range evs {
		if ds[i].Action == Forward && ds[i].Source != SourcePull && ds[i].Reason != ReasonUnverified {
			e.offers.add(evs[i].Key(), evs[i].Fields)
		}
		// A dropped event's redelivery is the same event: dropped by dedup,
		// it cannot come back as news once its write is settled.
		if ds[i].Action == Drop && ds[i].Layer != "dedup" && evs[i].dedupable() && ds[i].Source != SourcePull {
			dropped = append(dropped, evs[i].dedupKey())
		}
	}
	if bw, ok := e.store.(BatchWriter); ok && len(dropped) > 1 {
		keep(bw.MarkEvents(ctx, dropped)) // one round trip for the delivery
	} else {
		for _, id := range dropped {
			keep(e.store.MarkEvent(ctx, id))
		}
	}
	if err := e.apply(ctx, evs, ds, func(d *Decision) bool {
		// A poll shows a record again and again: it settles nothing.
		return d.Settle != 0 && d.WouldDrop() && d.Source != SourcePull
	}, false); err != nil {
		keep(err)
	}
	return firstErr
}

// Accepted records, after the app answered 2xx, what it now knows: the ids
// of forwarded events (for dedup) and their records' state as what the app
// holds (ledger.State.ApplyAccept). Events only observed as would-be drops
// are not recorded as genuine, and events of unverified deliveries are not
// recorded at all.
func (e *Engine) Accepted(ctx context.Context, p *Provider, evs []Event, ds []Decision) error {
	return e.apply(ctx, evs, ds, func(d *Decision) bool {
		return d.Action == Forward && d.Reason != ReasonUnverified
	}, true)
}

// apply records the events whose decision sel selects: as settling echoes
// (genuine false) or as genuine states the app accepted (genuine true, with
// their event ids marked for dedup). A delivery of several events costs one
// round trip per kind on a BatchWriter store.
func (e *Engine) apply(ctx context.Context, evs []Event, ds []Decision, sel func(*Decision) bool, genuine bool) error {
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	at := e.now()
	bw, batch := e.store.(BatchWriter)
	batch = batch && len(evs) > 1
	var ids []string
	var keys []ledger.Key
	var accs []ledger.Accept
	for i := range evs {
		d := &ds[i]
		if !sel(d) {
			continue
		}
		ev := &evs[i]
		if genuine && ev.dedupable() {
			// An unverified delivery never gets here: a forged event id
			// must not make the genuine event a "redelivery".
			if batch {
				ids = append(ids, ev.dedupKey())
			} else {
				keep(e.store.MarkEvent(ctx, ev.dedupKey()))
			}
		}
		if ev.Record == "" || (genuine && (d.Observed || len(ev.Fields) == 0)) {
			continue
		}
		a := ledger.Accept{Fields: ev.Fields, At: at, ProviderAt: ev.ProviderAt, Upto: d.Upto, EveryWrite: ev.EveryWrite && !ev.Unordered}
		if !d.Time.IsZero() && d.Time.Before(at) {
			a.At = d.Time // when the event was decided
		}
		if !genuine {
			a.Settle = d.Settle
		} else {
			a.Shows = d.Shows
		}
		if batch {
			keys, accs = append(keys, ev.Key()), append(accs, a)
		} else {
			keep(e.store.Accept(ctx, ev.Key(), a))
		}
	}
	if batch {
		if len(ids) > 0 {
			keep(bw.MarkEvents(ctx, ids))
		}
		if len(keys) > 0 {
			keep(bw.AcceptMany(ctx, keys, accs))
		}
	}
	return firstErr
}
