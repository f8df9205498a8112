package filters

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/tagging"
)

// Layer is one echo test. Check returns Echo only on positive evidence;
// when it cannot evaluate it abstains. Layers never log: the proxy logs one
// line per decision.
type Layer interface {
	Name() string
	Check(ctx context.Context, ev *Event, lk *lookup) Verdict
}

// Deps are what layers need from outside.
type Deps struct {
	Store ledger.Store
	Now   func() time.Time
	// Key is the deployment key sentinels are keyed with.
	Key *tagging.Key
	// Secret is the deployment key itself (account keys).
	Secret []byte
	// offers are the values being handed to the app (no-op writes).
	offers *offers
}

type layerCtor func(p *Provider, d Deps) (Layer, error)

// layerCtors maps layer names to constructors: the chain is data.
var layerCtors = map[string]layerCtor{
	"dedup":    func(p *Provider, d Deps) (Layer, error) { return &dedupLayer{store: d.Store, provider: p.Name}, nil },
	"actor":    func(p *Provider, d Deps) (Layer, error) { return &actorLayer{users: p.users}, nil },
	"marker":   func(p *Provider, d Deps) (Layer, error) { return markerLayer{}, nil },
	"sentinel": func(p *Provider, d Deps) (Layer, error) { return &sentinelLayer{agent: p.agent, key: d.Key}, nil },
	"fingerprint": func(p *Provider, d Deps) (Layer, error) {
		// The per-field explanations are built once, not per event.
		l := fingerprintLayer{newValue: map[string]string{}, unknown: map[string]string{}}
		for _, f := range p.Profile.TrackedFields {
			l.newValue[f] = "field " + f + " has a new value"
			l.unknown[f] = unknownDetail(f)
		}
		return l, nil
	},
	"skinny": func(p *Provider, d Deps) (Layer, error) {
		return &skinnyLayer{window: p.Profile.SkinnyWindow.D(), now: d.Now}, nil
	},
}

func newLayer(name string, p *Provider, d Deps) (Layer, error) {
	c, ok := layerCtors[name]
	if !ok {
		return nil, fmt.Errorf("unknown layer %q", name)
	}
	if d.Store == nil {
		return nil, fmt.Errorf("layer %s: no store", name)
	}
	return c(p, d)
}

var (
	_ Layer = (*dedupLayer)(nil)
	_ Layer = (*actorLayer)(nil)
	_ Layer = markerLayer{}
	_ Layer = (*sentinelLayer)(nil)
	_ Layer = fingerprintLayer{}
	_ Layer = (*skinnyLayer)(nil)
)

func abstain(r Reason, detail string) Verdict {
	return Verdict{Kind: Abstain, Reason: r, Detail: detail}
}
func echo(r Reason, detail string) Verdict { return Verdict{Kind: Echo, Reason: r, Detail: detail} }
func pass(r Reason, detail string) Verdict { return Verdict{Reason: r, Detail: detail} }

// dedupLayer drops redeliveries of an event already forwarded and accepted.
type dedupLayer struct {
	store    ledger.Store
	provider string
}

func (l *dedupLayer) Name() string { return "dedup" }

func (l *dedupLayer) Check(ctx context.Context, ev *Event, _ *lookup) Verdict {
	if !ev.dedupable() {
		return abstain(ReasonNone, "no event id")
	}
	if ev.pre != nil && ev.pre.seenErr != nil {
		return abstain(ReasonStoreError, ev.pre.seenErr.Error())
	}
	if ev.pre != nil && ev.pre.seenKnown {
		if ev.pre.seen {
			return echo(ReasonRedelivery, "event id already delivered")
		}
		return pass(ReasonNone, "")
	}
	seen, err := l.store.EventSeen(ctx, ev.dedupKey())
	if err != nil {
		return abstain(ReasonStoreError, err.Error())
	}
	if seen {
		return echo(ReasonRedelivery, "event id already delivered")
	}
	return pass(ReasonNone, "")
}

// DedupKey is the store key of an event id.
func DedupKey(provider, id string) string { return provider + "\x00" + id }

// actorLayer drops events made by the integration user.
type actorLayer struct{ users map[string]bool }

func (l *actorLayer) Name() string { return "actor" }

func (l *actorLayer) Check(_ context.Context, ev *Event, _ *lookup) Verdict {
	if ev.Actor == "" || len(l.users) == 0 {
		return abstain(ReasonNone, "no actor or no integration user configured")
	}
	if l.users[ev.Actor] {
		return echo(ReasonIntegrationUser, "actor "+ev.Actor)
	}
	return pass(ReasonNone, "")
}

// markerLayer drops events carrying our change-agent / origin marker.
type markerLayer struct{}

func (markerLayer) Name() string { return "marker" }

func (markerLayer) Check(_ context.Context, ev *Event, _ *lookup) Verdict {
	if ev.route == nil || len(ev.route.markers) == 0 {
		return abstain(ReasonNone, "no markers")
	}
	found := false
	for i, m := range ev.route.markers {
		v := ev.Marks[i]
		if v == "" {
			continue
		}
		found = true
		if m.matches(v) {
			return echo(ReasonChangeAgent, "marker "+m.match+" "+m.value)
		}
	}
	if !found {
		return abstain(ReasonNone, "no marker value in event")
	}
	return pass(ReasonNone, "")
}

// matches reports whether got carries the marker. An empty expected value
// never matches: it would make every event an echo.
func (m *marker) matches(got string) bool {
	want := m.value
	if want == "" {
		return false
	}
	switch m.match {
	case "contains":
		return strings.Contains(got, want)
	case "prefix":
		return strings.HasPrefix(got, want)
	case "list":
		sep := m.sep
		if sep == "" {
			sep = ","
		}
		for part := range strings.SplitSeq(got, sep) {
			if strings.TrimSpace(part) == want {
				return true
			}
		}
		return false
	}
	return got == want
}

// sentinelLayer recognises our keyed sentinel. It is evidence only when it
// verifies with the deployment key for this very record and names one of
// our unsettled writes in the ledger, and then only for an event whose
// values are that write's expected state: a sentinel stays on a record
// after later edits, and a copied or typed one proves nothing.
type sentinelLayer struct {
	agent string
	key   *tagging.Key
}

func (l *sentinelLayer) Name() string { return "sentinel" }

func (l *sentinelLayer) Check(ctx context.Context, ev *Event, lk *lookup) Verdict {
	nonce, mac, ok := tagging.ParseSentinel(ev.Sentinel, l.agent)
	if !ok {
		if ev.SentinelChange {
			return abstain(ReasonNone, "sentinel property not ours")
		}
		return abstain(ReasonNone, "no sentinel of ours")
	}
	st, known, err := lk.state(ctx)
	if err != nil {
		return abstain(ReasonStoreError, err.Error())
	}
	i := -1
	if known {
		i = st.SentinelWrite(nonce)
	}
	if i < 0 {
		if ev.SentinelChange {
			// A change of the sentinel property alone (per-property
			// providers) carries no tracked value: dropping it loses
			// nothing the app syncs, whoever made it.
			return echo(ReasonSentinelChange, "change of our sentinel property (not a tracked field)")
		}
		return abstain(ReasonSentinelUnbound, "the sentinel names no unsettled write of this record: no evidence")
	}
	w := &st.Writes[i]
	rec := ev.Record
	if w.Created {
		rec = ""
	}
	if !l.key.Verify(tagging.Binding{Provider: ev.Provider, Object: ev.Object, Record: rec, Nonce: nonce, FP: w.FP}, mac) {
		if ev.SentinelChange {
			return echo(ReasonSentinelChange, "change of our sentinel property (not a tracked field)")
		}
		return abstain(ReasonSentinelForged, "the sentinel does not verify for this record: no evidence")
	}
	if ev.SentinelChange {
		v := echo(ReasonSentinelChange, "change of our sentinel property, written to this record by our unsettled write")
		v.Settle = w.Seq
		return v
	}
	// From here the event is known to be a state at or after w (it
	// carries w's sentinel): whatever is decided, w's echo is behind it.
	if len(ev.Fields) == 0 {
		v := abstain(ReasonNone, "no tracked values")
		v.Shows = w.Seq
		return v
	}
	if !w.Expects(ev.Fields) {
		v := pass(ReasonSentinelStale, "values changed since the write that stamped the sentinel")
		v.Shows = w.Seq
		return v
	}
	if st.Unplaced(i, ev.Fields, ev.ProviderAt, ev.matchOpts()) {
		v := abstain(ReasonSentinelStale, "the event's provider time or order does not place it at the write that stamped the sentinel")
		v.Shows = w.Seq
		return v
	}
	if w.At.Before(lk.since) {
		// A stored sentinel rides along on every later event of the
		// record: past the echo window it says who wrote the field, not
		// who made this change.
		v := abstain(ReasonSentinelStale, "the write that stamped the sentinel is older than the echo window")
		v.Shows = w.Seq
		return v
	}
	v := echo(ReasonSentinelMatch, "our sentinel, and the values our write left")
	v.Settle = w.Seq
	return v
}

// fingerprintLayer judges an event against the record's ordered history
// (ledger.State): it is our echo when its values are the expected state of
// one of our unsettled writes, the oldest that fits (settling it and every
// earlier write); it is no news when the app already holds every value, or
// when a newer state of every field already reached the app (provider
// times). Anything else is a change. A pulled record is removed only on
// proof of our write: the poll keeps records the app already holds, and
// writes that changed nothing are not proof.
type fingerprintLayer struct {
	newValue map[string]string // field → "field X has a new value"
	unknown  map[string]string // field → unknownDetail(X)
}

// unknownDetail explains a value the app is not known to hold: only our
// write's answer showed it (it may be a person's change made just before
// our write), or the app's own write of the field did not land.
func unknownDetail(f string) string {
	return "field " + f + ": the app is not known to hold this value (no event it accepted or write of its own showed it)"
}

func (fingerprintLayer) Name() string { return "fingerprint" }

func (l fingerprintLayer) Check(ctx context.Context, ev *Event, lk *lookup) Verdict {
	if ev.Untouched {
		if ev.Source == SourcePull {
			return pass(ReasonNoChange, "no tracked field changed: kept, no proof of our write")
		}
		return echo(ReasonNoChange, "no tracked field changed (every one is null: unchanged)")
	}
	if len(ev.Fields) == 0 {
		return abstain(ReasonNone, "no tracked values")
	}
	st, known, err := lk.state(ctx)
	if err != nil {
		return abstain(ReasonStoreError, err.Error())
	}
	if !known {
		return pass(ReasonNewValue, "nothing known of this record")
	}
	pull := ev.Source == SourcePull
	if i := ev.match(st, lk.since); i >= 0 {
		v := echo(ReasonPendingWrite, "every tracked value is the state our unsettled write left")
		if !pull {
			v.Settle = st.Writes[i].Seq
		}
		return v
	}
	if !pull && st.Stale(ev.Fields, ev.ProviderAt) {
		return echo(ReasonStale, "older than the state the app holds of every field")
	}
	if st.Holds(ev.Fields) {
		if pull {
			return pass(ReasonNoChange, "the app already holds every value: kept, no proof of our write")
		}
		return echo(ReasonNoChange, "the app already holds every value")
	}
	v := pass(ReasonNewValue, "")
	for _, f := range ev.Fields {
		h, held := st.AppValue(f.Name)
		if held && h.Hash == f.Hash {
			continue
		}
		detail, ok := l.newValue[f.Name]
		if !held {
			detail, ok = l.unknown[f.Name]
		}
		switch {
		case ok:
		case held:
			detail = "field " + f.Name + " has a new value"
		default:
			detail = unknownDetail(f.Name)
		}
		v.Detail = detail
		break
	}
	return v
}

// skinnyLayer (off by default, lossy) drops a valueless event for a record
// we wrote within a short window.
type skinnyLayer struct {
	window time.Duration
	now    func() time.Time
}

func (l *skinnyLayer) Name() string { return "skinny" }

func (l *skinnyLayer) Check(ctx context.Context, ev *Event, lk *lookup) Verdict {
	if !ev.Skinny() || ev.Record == "" {
		return abstain(ReasonNone, "not a skinny event")
	}
	st, known, err := lk.state(ctx)
	if err != nil {
		return abstain(ReasonStoreError, err.Error())
	}
	if known && !st.LastWrite.IsZero() && l.now().Sub(st.LastWrite) <= l.window {
		return echo(ReasonSkinnyRecentWrite, "we wrote this record within "+l.window.String())
	}
	return pass(ReasonSkinny, "")
}

// lookup loads the ledger state of an event's record once, on first use.
type lookup struct {
	store  ledger.Store
	key    ledger.Key
	st     ledger.State
	loaded bool
	known  bool
	err    error
	// earlier: echoes judged in the same delivery before this event (see
	// After), applied to the state when it is loaded.
	earlier []ledger.Accept
	// since is the start of the echo window: writes recorded before it
	// are no longer matched by their values (zero: no window).
	since time.Time
}

// applyEarlier applies the echoes judged before this event in its delivery:
// they settled our writes up to theirs, and the app's values they carried
// are at their provider time (simulator seed 64546: a resent, older echo
// batched after a newer one was not seen as stale).
func (l *lookup) applyEarlier() {
	for i := range l.earlier {
		l.st.ApplyAccept(&l.earlier[i])
	}
}

// reset prepares a pooled lookup for one event, keeping st's slices.
func (l *lookup) reset(store ledger.Store, key ledger.Key) {
	l.store, l.key, l.loaded, l.known, l.err, l.earlier, l.since = store, key, false, false, nil, nil, time.Time{}
}

func (l *lookup) state(ctx context.Context) (*ledger.State, bool, error) {
	if !l.loaded {
		l.loaded = true
		if l.key.Record == "" {
			return &l.st, false, nil
		}
		l.known, l.err = l.store.Get(ctx, l.key, &l.st)
		if l.err == nil {
			l.applyEarlier()
		}
	}
	return &l.st, l.known, l.err
}
