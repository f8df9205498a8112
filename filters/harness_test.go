package filters

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

const testAgent = "loopguard"

// fakeClock is a settable clock shared by the engine and the ledger.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// loadProviders loads testdata/loopguard.yaml.
func loadProviders(t testing.TB) []*configs.Provider {
	t.Helper()
	data := readFixture(t, "loopguard.yaml")
	l, err := configs.LoadBytes("testdata/loopguard.yaml", data, nil)
	if err != nil {
		t.Fatalf("load test config: %v", err)
	}
	return l.Providers
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

// harness is one provider of the test config with an engine, a real
// in-memory ledger and a fake clock.
type harness struct {
	t     testing.TB
	clock *fakeClock
	store ledger.Store
	eng   *Engine
	p     *Provider
	// before are the layer verdicts of the last delivery's events, by
	// byte span, taken before the delivery settled any write.
	before map[[2]int]map[string]Verdict
}

type harnessOpts struct {
	observe bool
	store   ledger.Store // default: a fresh ledger.Memory on the clock
	// mutate edits the loaded providers before the engine compiles them.
	mutate func(t testing.TB, ps []*configs.Provider)
}

func newHarness(t testing.TB, provider string, o harnessOpts) *harness {
	t.Helper()
	clock := newFakeClock()
	store := o.store
	if store == nil {
		m, err := ledger.NewMemory(ledger.Options{Shards: 16, MaxSizeMB: 16, Now: clock.Now})
		if err != nil {
			t.Fatalf("ledger: %v", err)
		}
		t.Cleanup(func() { _ = m.Close() })
		store = m
	}
	ps := loadProviders(t)
	if o.mutate != nil {
		o.mutate(t, ps)
	}
	eng, err := New(ps, store, Options{Agent: testAgent, Observe: o.observe, Now: clock.Now})
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	p, ok := eng.Provider(provider)
	if !ok {
		t.Fatalf("no provider %q in the test config", provider)
	}
	return &harness{t: t, clock: clock, store: store, eng: eng, p: p}
}

// write runs an outbound write through MatchWrite, Tag and RecordWrite as
// the proxy does after a 2xx, and returns it.
func (h *harness) write(method, path, contentType, body string) *Write {
	h.t.Helper()
	r, ps, ok := h.p.MatchWrite(method, path)
	if !ok {
		h.t.Fatalf("no write route for %s %s", method, path)
	}
	hdr := http.Header{"Content-Type": {contentType}, "Authorization": {"Bearer secret-token"}}
	u := &url.URL{Path: path}
	w := h.p.Tag(context.Background(), r, &ps, h.p.AccountOf("api.example.com", u, hdr, &ps), hdr, []byte(body), "")
	if w.Untagged != "" {
		h.t.Fatalf("write %s %s left untagged: %s", method, path, w.Untagged)
	}
	if err := h.eng.RecordWrite(context.Background(), w, nil); err != nil {
		h.t.Fatalf("RecordWrite: %v", err)
	}
	return w
}

// deliver extracts a delivery and decides each event.
func (h *harness) deliver(path string, body []byte, hdr http.Header) ([]Event, []Decision) {
	h.t.Helper()
	r, ok := h.p.MatchWebhook("POST", path)
	if !ok {
		h.t.Fatalf("no webhook route for %s", path)
	}
	evs, err := h.p.Extract(r, body, hdr, nil)
	if err != nil {
		h.t.Fatalf("Extract: %v", err)
	}
	ds := make([]Decision, len(evs))
	h.before = map[[2]int]map[string]Verdict{}
	for i := range evs {
		h.before[[2]int{evs[i].Start, evs[i].End}] = h.layerVerdicts(&evs[i])
		ds[i] = h.eng.Decide(context.Background(), h.p, &evs[i])
		After(evs, i, &ds[i])
	}
	// As the proxy does: echoes settle their writes once the whole
	// delivery is decided.
	if err := h.eng.Settle(context.Background(), evs, ds); err != nil && !errors.Is(err, errStoreDown) {
		h.t.Fatalf("Settle: %v", err)
	}
	return evs, ds
}

// deliverOne delivers a single-event delivery and returns its decision.
func (h *harness) deliverOne(body []byte, hdr http.Header) (Event, Decision) {
	h.t.Helper()
	evs, ds := h.deliver("/webhooks/generic", body, hdr)
	if len(evs) != 1 {
		h.t.Fatalf("got %d events, want 1", len(evs))
	}
	return evs[0], ds[0]
}

// accept tells the engine the app answered 2xx.
func (h *harness) accept(evs []Event, ds []Decision) {
	h.t.Helper()
	if err := h.eng.Accepted(context.Background(), h.p, evs, ds); err != nil {
		h.t.Fatalf("Accepted: %v", err)
	}
}

// verdicts returns, by layer name, what every layer of the event's chain
// said of it on its own when it was delivered (before its delivery settled
// any write).
func (h *harness) verdicts(ev *Event) map[string]Verdict {
	if vs, ok := h.before[[2]int{ev.Start, ev.End}]; ok {
		return vs
	}
	return h.layerVerdicts(ev)
}

// layerVerdicts runs every layer of the event's chain on its own, now.
func (h *harness) layerVerdicts(ev *Event) map[string]Verdict {
	out := map[string]Verdict{}
	lk := lookup{store: h.store, key: ev.Key()}
	for _, l := range h.p.ForAccount(ev.Account).chain {
		out[l.Name()] = l.Check(context.Background(), ev, &lk)
	}
	return out
}

// genericEvent builds a generic-profile delivery from the fixture: sets
// maps top-level paths to raw JSON values; a nil value deletes the path.
func genericEvent(t testing.TB, sets map[string]any) []byte {
	t.Helper()
	b := readFixture(t, "generic_event.json")
	for path, v := range sets {
		var err error
		switch v := v.(type) {
		case nil:
			b, err = sjson.DeleteBytes(b, path)
		case rawJSON:
			b, err = sjson.SetRawBytes(b, path, []byte(v))
		default:
			b, err = sjson.SetBytes(b, path, v)
		}
		if err != nil {
			t.Fatalf("build event: %v", err)
		}
	}
	return b
}

// rawJSON is a raw JSON value for genericEvent.
type rawJSON string

// echoRecord is what the provider reports after our write: the tagged
// write body plus the record id and a volatile field.
func echoRecord(t testing.TB, w *Write, id string) rawJSON {
	t.Helper()
	b, err := sjson.SetBytes(w.Body, "id", id)
	if err == nil {
		b, err = sjson.SetBytes(b, "updated_at", "2026-11-27T10:00:05Z")
	}
	if err != nil {
		t.Fatalf("echo record: %v", err)
	}
	return rawJSON(b)
}

// failingStore answers every call with an error.
type failingStore struct{}

var errStoreDown = errors.New("store down")

func (failingStore) RecordWrite(context.Context, ledger.Key, ledger.Write) error { return errStoreDown }
func (failingStore) Accept(context.Context, ledger.Key, ledger.Accept) error     { return errStoreDown }
func (failingStore) Get(context.Context, ledger.Key, *ledger.State) (bool, error) {
	return false, errStoreDown
}
func (failingStore) EventSeen(context.Context, string) (bool, error) { return false, errStoreDown }
func (failingStore) MarkEvent(context.Context, string) error         { return errStoreDown }
func (failingStore) Stats() ledger.Stats                             { return ledger.Stats{} }
func (failingStore) Close() error                                    { return nil }

// wantDecision checks a decision's action, layer and reason.
func wantDecision(t testing.TB, d Decision, action Action, layer string, reason Reason) {
	t.Helper()
	if d.Action != action || d.Layer != layer || d.Reason != reason {
		t.Fatalf("decision = %s by %s (%s: %s), want %s by %s (%s)", d.Action, d.Layer, d.Reason, d.Detail, action, layer, reason)
	}
	// The JSON (GET /decisions, explain) names them from the values.
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if a, r := gjson.GetBytes(b, "action").String(), gjson.GetBytes(b, "reason").String(); a != action.String() || r != reason.String() {
		t.Fatalf("decision JSON names %q/%q, want %s/%s: %s", a, r, action, reason, b)
	}
}

// sentinelOf is the sentinel a write stamped (generic profile).
func sentinelOf(w *Write) string { return gjson.GetBytes(w.Body, "sync_source").String() }
