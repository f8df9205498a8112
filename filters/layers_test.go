package filters

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/tagging"
	"github.com/tidwall/sjson"
)

const jsonCT = "application/json"

// adaWrite is the app's write of c1 used by most layer cases.
const adaWrite = `{"name":"Ada","email":"Ada@Example.com "}`

func TestLayersEchoAndGenuine(t *testing.T) {
	cases := []struct {
		name string
		// setup runs before the delivery (writes, accepted deliveries).
		setup func(h *harness) *Write
		// event builds the delivery's changes to the fixture.
		event  func(t *testing.T, w *Write) map[string]any
		header http.Header
		action Action
		layer  string
		reason Reason
		// layerWant optionally pins one layer's own verdict.
		layerWant map[string]Verdict
	}{
		{
			name: "dedup: a redelivered event id is dropped",
			setup: func(h *harness) *Write {
				evs, ds := h.deliver("/webhooks/generic", genericEvent(h.t, map[string]any{"record.name": "Grace"}), nil)
				h.accept(evs, ds)
				return nil
			},
			event:  func(t *testing.T, _ *Write) map[string]any { return map[string]any{"record.name": "Grace"} },
			action: Drop, layer: "dedup", reason: ReasonRedelivery,
		},
		{
			name: "dedup: a new event id with a new value is forwarded",
			setup: func(h *harness) *Write {
				evs, ds := h.deliver("/webhooks/generic", genericEvent(h.t, map[string]any{"record.name": "Grace"}), nil)
				h.accept(evs, ds)
				return nil
			},
			event: func(t *testing.T, _ *Write) map[string]any {
				return map[string]any{"id": "evt_2", "record.name": "Linus"}
			},
			action: Forward, layer: "fingerprint", reason: ReasonNewValue,
			layerWant: map[string]Verdict{"dedup": {}},
		},
		{
			name:   "actor: the integration user's change is dropped",
			event:  func(t *testing.T, _ *Write) map[string]any { return map[string]any{"actor": "u_integration"} },
			action: Drop, layer: "actor", reason: ReasonIntegrationUser,
		},
		{
			name:   "actor: another user's change is forwarded",
			event:  func(t *testing.T, _ *Write) map[string]any { return map[string]any{"actor": "user_42"} },
			action: Forward, layer: "fingerprint", reason: ReasonNewValue,
			layerWant: map[string]Verdict{"actor": {}},
		},
		{
			name:   "marker: our change agent in the body is dropped",
			event:  func(t *testing.T, _ *Write) map[string]any { return map[string]any{"change_agent": testAgent} },
			action: Drop, layer: "marker", reason: ReasonChangeAgent,
		},
		{
			name:   "marker: our change agent in a header is dropped",
			event:  func(t *testing.T, _ *Write) map[string]any { return nil },
			header: http.Header{"X-Change-Agent": {testAgent}},
			action: Drop, layer: "marker", reason: ReasonChangeAgent,
		},
		{
			name:   "marker: another agent is forwarded",
			event:  func(t *testing.T, _ *Write) map[string]any { return map[string]any{"change_agent": "salesforce-sync"} },
			header: http.Header{"X-Change-Agent": {"loopguard-other"}},
			action: Forward, layer: "fingerprint", reason: ReasonNewValue,
			layerWant: map[string]Verdict{"marker": {}},
		},
		{
			name:  "sentinel: our write's echo is dropped by its sentinel",
			setup: func(h *harness) *Write { return h.write("PATCH", "/v1/contacts/c1", jsonCT, adaWrite) },
			event: func(t *testing.T, w *Write) map[string]any {
				return map[string]any{"actor": nil, "record": echoRecord(t, w, "c1")}
			},
			action: Drop, layer: "sentinel", reason: ReasonSentinelMatch,
		},
		{
			name:  "sentinel: a stale sentinel with changed values is forwarded",
			setup: func(h *harness) *Write { return h.write("PATCH", "/v1/contacts/c1", jsonCT, adaWrite) },
			event: func(t *testing.T, w *Write) map[string]any {
				return map[string]any{"record": rawJSON(`{"id":"c1","name":"Grace","email":"ada@example.com","sync_source":"` +
					sentinelOf(w) + `"}`)}
			},
			action: Forward, layer: "fingerprint", reason: ReasonNewValue,
			layerWant: map[string]Verdict{"sentinel": {Reason: ReasonSentinelStale}, "fingerprint": {Reason: ReasonNewValue}},
		},
		{
			name:  "sentinel: another agent's sentinel is not ours",
			setup: func(h *harness) *Write { return h.write("PATCH", "/v1/contacts/c1", jsonCT, adaWrite) },
			event: func(t *testing.T, w *Write) map[string]any {
				return map[string]any{"record": rawJSON(`{"id":"c1","name":"Grace","sync_source":"other:` + strings.TrimPrefix(sentinelOf(w), testAgent+":") + `"}`)}
			},
			action: Forward, layer: "fingerprint", reason: ReasonNewValue,
			layerWant: map[string]Verdict{"sentinel": {Kind: Abstain}},
		},
		{
			name:  "fingerprint: values equal to our pending write are dropped",
			setup: func(h *harness) *Write { return h.write("PATCH", "/v1/contacts/c1", jsonCT, adaWrite) },
			event: func(t *testing.T, _ *Write) map[string]any {
				// No sentinel, the email normalised differently by the provider.
				return map[string]any{"actor": nil, "record": rawJSON(`{"id":"c1","name":"Ada","email":"ada@example.com","updated_at":"x"}`)}
			},
			action: Drop, layer: "fingerprint", reason: ReasonPendingWrite,
		},
		{
			name:  "fingerprint: a changed value is forwarded",
			setup: func(h *harness) *Write { return h.write("PATCH", "/v1/contacts/c1", jsonCT, adaWrite) },
			event: func(t *testing.T, _ *Write) map[string]any {
				return map[string]any{"record": rawJSON(`{"id":"c1","name":"Ada","email":"ada@analytical.engine"}`)}
			},
			action: Forward, layer: "fingerprint", reason: ReasonNewValue,
		},
		{
			name: "fingerprint: no net change since the last genuine state is dropped",
			setup: func(h *harness) *Write {
				evs, ds := h.deliver("/webhooks/generic", genericEvent(h.t, map[string]any{"record.name": "Grace"}), nil)
				h.accept(evs, ds)
				return nil
			},
			event: func(t *testing.T, _ *Write) map[string]any {
				// Only an untracked field changed.
				return map[string]any{"id": "evt_2", "record": rawJSON(`{"id":"c1","name":"Grace","email":"ada@example.com","updated_at":"later"}`)}
			},
			action: Drop, layer: "fingerprint", reason: ReasonNoChange,
		},
		{
			name:   "fingerprint: a record never seen is forwarded",
			event:  func(t *testing.T, _ *Write) map[string]any { return nil },
			action: Forward, layer: "fingerprint", reason: ReasonNewValue,
		},
		{
			name:  "fingerprint: another record of ours is not an echo",
			setup: func(h *harness) *Write { return h.write("PATCH", "/v1/contacts/c2", jsonCT, adaWrite) },
			event: func(t *testing.T, _ *Write) map[string]any {
				return map[string]any{"actor": nil, "record": rawJSON(`{"id":"c1","name":"Ada","email":"ada@example.com"}`)}
			},
			action: Forward, layer: "fingerprint", reason: ReasonNewValue,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, "generic", harnessOpts{})
			var w *Write
			if c.setup != nil {
				w = c.setup(h)
			}
			h.clock.Advance(time.Second)
			ev, d := h.deliverOne(genericEvent(t, c.event(t, w)), c.header)
			wantDecision(t, d, c.action, c.layer, c.reason)
			vs := h.verdicts(&ev)
			for layer, want := range c.layerWant {
				got := vs[layer]
				if got.Kind != want.Kind || got.Reason != want.Reason {
					t.Fatalf("layer %s verdict = %+v, want %+v", layer, got, want)
				}
			}
			// A forward has no echo verdict at all; a drop is decided by the
			// first layer in chain order that says echo.
			chain := h.p.ForAccount(ev.Account).Chain()
			at := slices.Index(chain, c.layer)
			for i, layer := range chain {
				v := vs[layer]
				switch {
				case c.action == Forward && v.Kind == Echo:
					t.Fatalf("layer %s says echo (%s) but the event was forwarded", layer, v.Reason)
				case c.action == Drop && i < at && v.Kind == Echo:
					t.Fatalf("layer %s before %s says echo", layer, c.layer)
				case c.action == Drop && i == at && v.Kind != Echo:
					t.Fatalf("deciding layer %s verdict %+v is not an echo", layer, v)
				}
			}
		})
	}
}

func TestChainOrderAndDefaults(t *testing.T) {
	cases := []struct {
		provider string
		chain    string
	}{
		{"generic", "dedup,actor,marker,sentinel,fingerprint"},
		{"generic_skinny", "dedup,actor,marker,sentinel,fingerprint,skinny"},
		{"hubspotlike", "dedup,actor,marker,sentinel,fingerprint"},
	}
	for _, c := range cases {
		t.Run(c.provider, func(t *testing.T) {
			h := newHarness(t, c.provider, harnessOpts{})
			got := ""
			for i, n := range h.p.Chain() {
				if i > 0 {
					got += ","
				}
				got += n
			}
			if got != c.chain {
				t.Fatalf("chain = %s, want %s", got, c.chain)
			}
		})
	}
}

func TestRevertABA(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{})
	w := h.write("PATCH", "/v1/contacts/c1", jsonCT, `{"name":"A"}`)
	sentinel := sentinelOf(w)
	h.clock.Advance(time.Second)

	// 1. The echo of our write A is dropped.
	evs, ds := h.deliver("/webhooks/generic", genericEvent(t, map[string]any{
		"id": "evt_1", "actor": nil, "record": echoRecord(t, w, "c1"),
	}), nil)
	wantDecision(t, ds[0], Drop, "sentinel", ReasonSentinelMatch)
	h.accept(evs, ds)
	h.clock.Advance(time.Second)

	// 2. A human sets B: forwarded and accepted.
	evs, ds = h.deliver("/webhooks/generic", genericEvent(t, map[string]any{
		"id": "evt_2", "actor": "user_42",
		"record": rawJSON(`{"id":"c1","name":"B","sync_source":"` + sentinel + `"}`),
	}), nil)
	wantDecision(t, ds[0], Forward, "fingerprint", ReasonNewValue)
	if v := h.verdicts(&evs[0])["sentinel"]; v.Reason != ReasonSentinelUnbound || v.Kind != Abstain {
		t.Fatalf("B: sentinel verdict %+v, want abstain sentinel_unbound (the echo settled the write)", v)
	}
	h.accept(evs, ds)
	h.clock.Advance(time.Second)

	// 3. The human sets A again. The record still carries our sentinel for
	// A, whose values match again: the sentinel layer must see that it
	// names no unsettled write (the echo settled it), and the fingerprint
	// layer that A is new relative to B, which the app holds.
	evs, ds = h.deliver("/webhooks/generic", genericEvent(t, map[string]any{
		"id": "evt_3", "actor": "user_42",
		"record": rawJSON(`{"id":"c1","name":"A","sync_source":"` + sentinel + `"}`),
	}), nil)
	wantDecision(t, ds[0], Forward, "fingerprint", ReasonNewValue)
	vs := h.verdicts(&evs[0])
	if v := vs["sentinel"]; v.Kind != Abstain || v.Reason != ReasonSentinelUnbound || v.Reason.String() != "sentinel_unbound" {
		t.Fatalf("A again: sentinel verdict %+v, want abstain sentinel_unbound", v)
	}
	if v := vs["fingerprint"]; v.Kind != Pass || v.Reason != ReasonNewValue || v.Reason.String() != "new_value" {
		t.Fatalf("A again: fingerprint verdict %+v, want pass new_value", v)
	}
	h.accept(evs, ds)

	// 4. Our next write of the record is recognised again.
	h.clock.Advance(time.Second)
	w2 := h.write("PATCH", "/v1/contacts/c1", jsonCT, `{"name":"C"}`)
	h.clock.Advance(time.Second)
	_, d := h.deliverOne(genericEvent(t, map[string]any{"id": "evt_4", "actor": nil, "record": echoRecord(t, w2, "c1")}), nil)
	wantDecision(t, d, Drop, "sentinel", ReasonSentinelMatch)
}

func TestTwoWritesInFlight(t *testing.T) {
	for _, withSentinel := range []bool{true, false} {
		name := map[bool]string{true: "by sentinel", false: "by fingerprint"}[withSentinel]
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, "generic", harnessOpts{})
			w1 := h.write("PATCH", "/v1/contacts/c1", jsonCT, `{"name":"Ada","email":"ada@example.com"}`)
			h.clock.Advance(100 * time.Millisecond)
			w2 := h.write("PATCH", "/v1/contacts/c1", jsonCT, `{"name":"Grace","email":"ada@example.com"}`)
			h.clock.Advance(time.Second)
			want, reason := "sentinel", ReasonSentinelMatch
			if !withSentinel {
				want, reason = "fingerprint", ReasonPendingWrite
			}
			for i, w := range []*Write{w1, w2} {
				rec := echoRecord(t, w, "c1")
				if !withSentinel {
					rec = rawJSON(deletePath(t, string(rec), "sync_source"))
				}
				evs, ds := h.deliver("/webhooks/generic", genericEvent(t, map[string]any{
					"id": "evt_echo_" + string(rune('1'+i)), "actor": nil, "record": rec,
				}), nil)
				wantDecision(t, ds[0], Drop, want, reason)
				h.accept(evs, ds)
			}
			// A genuine change after both echoes is still forwarded.
			_, d := h.deliverOne(genericEvent(t, map[string]any{
				"id": "evt_human", "record": rawJSON(`{"id":"c1","name":"Linus","email":"ada@example.com"}`),
			}), nil)
			wantDecision(t, d, Forward, "fingerprint", ReasonNewValue)
		})
	}
}

func TestSkinny(t *testing.T) {
	cases := []struct {
		name     string
		provider string
		write    bool
		wait     time.Duration
		action   Action
		layer    string
		reason   Reason
	}{
		{"off by default: forwarded after a recent write", "generic", true, time.Second, Forward, "chain", ReasonSkinny},
		{"off by default: forwarded without a write", "generic", false, 0, Forward, "chain", ReasonSkinny},
		{"on: dropped after a recent write", "generic_skinny", true, time.Second, Drop, "skinny", ReasonSkinnyRecentWrite},
		{"on: dropped at the window's edge", "generic_skinny", true, 5 * time.Second, Drop, "skinny", ReasonSkinnyRecentWrite},
		{"on: forwarded after the window", "generic_skinny", true, 6 * time.Second, Forward, "skinny", ReasonSkinny},
		{"on: forwarded without a write", "generic_skinny", false, 0, Forward, "skinny", ReasonSkinny},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.provider, harnessOpts{})
			if c.write {
				h.write("PATCH", "/v1/contacts/c1", jsonCT, adaWrite)
			}
			h.clock.Advance(c.wait)
			ev, d := h.deliverOne(readFixture(t, "generic_skinny.json"), nil)
			if !ev.Skinny() {
				t.Fatalf("fixture event is not skinny: %+v", ev)
			}
			wantDecision(t, d, c.action, c.layer, c.reason)
		})
	}
	t.Run("an event with values is never skinny", func(t *testing.T) {
		h := newHarness(t, "generic_skinny", harnessOpts{})
		h.write("PATCH", "/v1/contacts/c1", jsonCT, adaWrite)
		_, d := h.deliverOne(genericEvent(t, map[string]any{"actor": nil, "record": rawJSON(`{"id":"c1","name":"Grace"}`)}), nil)
		wantDecision(t, d, Forward, "fingerprint", ReasonNewValue)
	})
}

func TestObserve(t *testing.T) {
	cases := []struct {
		name     string
		provider string
		global   bool
	}{
		{"global observe option", "generic", true},
		{"provider observe flag", "generic_observe", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.provider, harnessOpts{observe: c.global})
			w := h.write("PATCH", "/v1/contacts/c1", jsonCT, adaWrite)
			h.clock.Advance(time.Second)
			evs, ds := h.deliver("/webhooks/generic", genericEvent(t, map[string]any{"actor": "u_integration", "record": echoRecord(t, w, "c1")}), nil)
			d := ds[0]
			if d.Action != Forward || !d.Observed || d.Layer != "actor" || d.Reason != ReasonIntegrationUser {
				t.Fatalf("observed decision = %+v", d)
			}
			if d.Action.String() != "forward" || !d.WouldDrop() {
				t.Fatalf("observed decision strings: action %q WouldDrop %v", d.Action.String(), d.WouldDrop())
			}
			// An observed would-be drop is forwarded; as our echo it settles
			// our write, but it never becomes a genuine state.
			h.accept(evs, ds)
			st := h.stateOf(t, "c1")
			if len(st.Writes) != 0 || !st.LastSeen.IsZero() {
				t.Fatalf("after an observed echo: state %+v, want the write settled and nothing genuine", st)
			}
			// A genuine event is forwarded and not marked observed.
			_, d = h.deliverOne(genericEvent(t, map[string]any{"id": "evt_2", "record.name": "Grace"}), nil)
			if d.Action != Forward || d.Observed || d.WouldDrop() {
				t.Fatalf("genuine decision in observe mode = %+v", d)
			}
		})
	}
	t.Run("observe off drops", func(t *testing.T) {
		h := newHarness(t, "generic", harnessOpts{})
		_, d := h.deliverOne(genericEvent(t, map[string]any{"actor": "u_integration"}), nil)
		if d.Action != Drop || d.Observed || d.Action.String() != "drop" {
			t.Fatalf("decision = %+v", d)
		}
	})
}

func TestAccountOverride(t *testing.T) {
	cases := []struct {
		account, actor string
		action         Action
		layer          string
	}{
		{"acme", "u_acme_bot", Drop, "actor"},
		{"acme", "u_integration", Forward, "fingerprint"},
		{"globex", "u_integration", Drop, "actor"},
		{"globex", "u_acme_bot", Forward, "fingerprint"},
		{"", "u_integration", Drop, "actor"},
	}
	// "config" uses the accounts override exactly as loaded from
	// testdata/loopguard.yaml; "compiled" builds the same override by hand,
	// so the engine's per-account chains are tested even if loading breaks.
	sources := []struct {
		name   string
		mutate func(t testing.TB, ps []*configs.Provider)
	}{
		{"config", func(t testing.TB, ps []*configs.Provider) {
			acme, ok := ps[0].Accounts["acme"]
			if !ok {
				t.Fatal("test config: no acme account override")
			}
			if !slices.Equal(acme.IntegrationUsers, []string{"u_acme_bot"}) {
				t.Fatalf("configs did not apply the acme override: integration_users = %v", acme.IntegrationUsers)
			}
		}},
		{"compiled", func(t testing.TB, ps []*configs.Provider) {
			acme := ps[0].Profile
			acme.IntegrationUsers = []string{"u_acme_bot"}
			ps[0].Accounts = map[string]*configs.Profile{"acme": &acme}
		}},
	}
	for _, src := range sources {
		for _, c := range cases {
			t.Run(src.name+"/"+c.account+"/"+c.actor, func(t *testing.T) {
				h := newHarness(t, "generic", harnessOpts{mutate: src.mutate})
				_, d := h.deliverOne(genericEvent(t, map[string]any{"account": c.account, "actor": c.actor}), nil)
				if d.Action != c.action || d.Layer != c.layer || d.Account != c.account {
					t.Fatalf("decision = %s by %s for account %q, want %s by %s", d.Action, d.Layer, d.Account, c.action, c.layer)
				}
			})
		}
	}
}

func TestStoreErrorAbstains(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{store: failingStore{}})
	// With a working store this event would be dropped by its sentinel.
	r, ps, _ := h.p.MatchWrite("PATCH", "/v1/contacts/c1")
	w := h.p.Tag(context.Background(), r, &ps, "a", http.Header{"Content-Type": {jsonCT}}, []byte(adaWrite), "")
	if err := h.eng.RecordWrite(t.Context(), w, nil); err == nil {
		t.Fatal("RecordWrite on a failing store returned nil")
	}
	evs, ds := h.deliver("/webhooks/generic", genericEvent(t, map[string]any{"actor": nil, "record": echoRecord(t, w, "c1")}), nil)
	d := ds[0]
	wantDecision(t, d, Forward, "fingerprint", ReasonStoreError)
	if d.Detail == "" {
		t.Fatal("store error decision has no detail")
	}
	vs := h.verdicts(&evs[0])
	for _, layer := range []string{"dedup", "sentinel", "fingerprint"} {
		if v := vs[layer]; v.Kind != Abstain || v.Reason != ReasonStoreError {
			t.Fatalf("layer %s verdict %+v, want abstain store_error", layer, v)
		}
	}
	if err := h.eng.Accepted(t.Context(), h.p, evs, ds); err == nil {
		t.Fatal("Accepted on a failing store returned nil")
	}
	// Layers that need no store still drop.
	_, d = h.deliverOne(genericEvent(t, map[string]any{"actor": "u_integration"}), nil)
	wantDecision(t, d, Drop, "actor", ReasonIntegrationUser)
}

func TestNewRequiresStore(t *testing.T) {
	if _, err := New(loadProviders(t), nil, Options{Agent: testAgent}); err == nil {
		t.Fatal("New without a store succeeded")
	}
}

func TestDecisionNamesLayerAndReason(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{})
	_, d := h.deliverOne(genericEvent(t, map[string]any{"actor": "u_integration"}), nil)
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"action":"drop"`, `"layer":"actor"`, `"reason":"integration_user"`, `"provider":"generic"`,
		`"record":"c1"`, `"event_id":"evt_1"`, `"object":"contacts"`, `"account":"globex"`, `"detail":"actor u_integration"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("decision JSON %s lacks %s", b, want)
		}
	}
	seen := map[string]bool{}
	for r := ReasonNone; r <= ReasonAppUnavailable; r++ {
		s := r.String()
		if s == "" || s == "unknown" || seen[s] {
			t.Fatalf("reason %d has name %q (empty, unknown or repeated)", r, s)
		}
		seen[s] = true
	}
	if got := Reason(250).String(); got != "unknown" {
		t.Fatalf("out of range reason = %q", got)
	}
	for a, want := range map[Action]string{Forward: "forward", Drop: "drop", Hold: "hold"} {
		if a.String() != want {
			t.Fatalf("Action %d = %q, want %q", a, a.String(), want)
		}
	}
	u := h.eng.Unverified(h.p, &Event{ID: "e"}, "bad signature")
	wantDecision(t, u, Forward, "signature", ReasonUnverified)
	wd := h.eng.Whole("generic", Forward, "extract", ReasonMalformed, "not JSON")
	wantDecision(t, wd, Forward, "extract", ReasonMalformed)
}

// stateOf loads the ledger state of a contacts record.
func (h *harness) stateOf(t *testing.T, record string) *ledger.State {
	t.Helper()
	var st ledger.State
	if _, err := h.store.Get(t.Context(), ledger.Key{Provider: h.p.Name, Object: "contacts", Record: record}, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

// deletePath removes a path from a JSON document.
func deletePath(t *testing.T, doc, path string) string {
	t.Helper()
	out, err := sjson.Delete(doc, path)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDedupKeyForm pins the id-less dedup key: replicas sharing a Redis
// ledger across an upgrade must render the same key for the same event.
func TestDedupKeyForm(t *testing.T) {
	fs := []ledger.Field{{Name: "status", Hash: 0x1234}, {Name: "title", Hash: 0xfeed}}
	hs := []tagging.FieldHash{{Name: "status", Hash: 0x1234}, {Name: "title", Hash: 0xfeed}}
	cases := []struct {
		ev   Event
		want string
	}{
		{Event{Provider: "jira", ID: "evt-1"}, "jira\x00evt-1"},
		{Event{Provider: "jira", Object: "issue", Record: "10001", ProviderAt: 1795773600123, Fields: fs},
			"jira\x00state:issue/10001@1795773600123#" + strconv.FormatUint(tagging.Combine(hs), 16)},
		{Event{Provider: "p", Object: "o", Record: "r", ProviderAt: -5},
			"p\x00state:o/r@-5#" + strconv.FormatUint(tagging.Combine(nil), 16)},
	}
	for _, c := range cases {
		if got := c.ev.dedupKey(); got != c.want {
			t.Errorf("dedupKey(%+v) = %q, want %q", c.ev, got, c.want)
		}
	}
	many := make([]ledger.Field, 40) // more than the stack buffer holds
	for i := range many {
		many[i] = ledger.Field{Name: "f" + strconv.Itoa(i), Hash: uint64(i)}
	}
	ev := Event{Provider: "p", Object: "o", Record: strings.Repeat("r", 300), Fields: many}
	hs = hs[:0]
	for _, f := range many {
		hs = append(hs, tagging.FieldHash(f))
	}
	if want := "p\x00state:o/" + ev.Record + "@0#" + strconv.FormatUint(tagging.Combine(hs), 16); ev.dedupKey() != want {
		t.Errorf("long event: dedupKey = %q, want %q", ev.dedupKey(), want)
	}
}
