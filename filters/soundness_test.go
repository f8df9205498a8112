package filters

import (
	"context"
	"github.com/loopguard/loopguard/configs"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/loopguard/loopguard/tagging"
)

// Issue 13, case 1 (decision level; the lab runs it through both proxies):
// a person's undo after our write is a change, and so is a return to a
// value the app wrote back without changing anything.
func TestUndoAfterOurWriteIsForwarded(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{})
	human := func(id, name string) Decision {
		h.clock.Advance(time.Second)
		evs, ds := h.deliver("/webhooks/generic", genericEvent(t, map[string]any{
			"id": id, "actor": "user_42", "record": rawJSON(`{"id":"c1","name":"` + name + `","email":"ada@example.com"}`),
		}), nil)
		h.accept(evs, ds)
		return ds[0]
	}
	wantDecision(t, human("e1", "g"), Forward, "fingerprint", ReasonNewValue)
	// The app writes back what it received (a write that changes nothing;
	// a strict API sends no event for it) …
	if w := h.write("PATCH", "/v1/contacts/c1", jsonCT, `{"name":"g","email":"ada@example.com"}`); !w.NoOp || w.Body != nil {
		t.Fatalf("write-back of the received state: NoOp %v, body %s; want a no-op without a sentinel", w.NoOp, w.Body)
	}
	// … then writes A; its echo is dropped.
	w := h.write("PATCH", "/v1/contacts/c1", jsonCT, `{"name":"A"}`)
	h.clock.Advance(time.Second)
	_, d := h.deliverOne(genericEvent(t, map[string]any{"id": "e2", "actor": nil, "record": echoRecord(t, w, "c1")}), nil)
	if d.Action != Drop {
		t.Fatalf("echo of A: %+v", d)
	}
	// The person sets g again: a change, not an echo of anything.
	wantDecision(t, human("e3", "g"), Forward, "fingerprint", ReasonNewValue)

	// Variant: a no-op write-back, then people move on and come back.
	h2 := newHarness(t, "generic", harnessOpts{})
	h = h2
	human("f1", "g")
	h.write("PATCH", "/v1/contacts/c1", jsonCT, `{"name":"g"}`) // no-op, no echo
	human("f2", "h")
	wantDecision(t, human("f3", "g"), Forward, "fingerprint", ReasonNewValue)
}

// Issue 13, case 2: a sentinel is evidence only for the record and write it
// was stamped for. Copied to another record (a CRM's "duplicate record"),
// typed by hand, or in the old unkeyed format, it proves nothing.
func TestCopiedSentinelIsNoEvidence(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{})
	w := h.write("PATCH", "/v1/contacts/c1", jsonCT, `{"name":"Ada","email":"ada@example.com"}`)
	s := sentinelOf(w)
	other := newHarness(t, "generic", harnessOpts{}) // another deployment: another key
	wo := other.write("PATCH", "/v1/contacts/c7", jsonCT, `{"name":"Ada","email":"ada@example.com"}`)
	cases := []struct {
		name, record, sentinel string
		want                   Reason
	}{
		{"copied to a record we never wrote", "c7", s, ReasonNone},
		{"another deployment's sentinel for this record's values", "c7", sentinelOf(wo), ReasonNone},
		{"typed by hand", "c7", testAgent + ":0123456789abcdef.0123456789abcdef", ReasonNone},
		{"the old unkeyed format", "c7", testAgent + ":0123456789ab", ReasonNone},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.clock.Advance(time.Second)
			evs, ds := h.deliver("/webhooks/generic", genericEvent(t, map[string]any{
				"id": "dup_" + c.name, "actor": "user_42",
				"record": rawJSON(`{"id":"` + c.record + `","name":"Ada","email":"ada@example.com","sync_source":"` + c.sentinel + `"}`),
			}), nil)
			wantDecision(t, ds[0], Forward, "fingerprint", ReasonNewValue)
			if v := h.verdicts(&evs[0])["sentinel"]; v.Kind != Abstain {
				t.Fatalf("sentinel verdict %+v, want an abstention", v)
			}
		})
	}
	// A sentinel bound to this record but whose write was settled is no
	// evidence either (the sentinel layer abstains; the history decides).
	h.clock.Advance(time.Second)
	_, d := h.deliverOne(genericEvent(t, map[string]any{"id": "echo", "actor": nil, "record": echoRecord(t, w, "c1")}), nil)
	wantDecision(t, d, Drop, "sentinel", ReasonSentinelMatch)
	evs, ds := h.deliver("/webhooks/generic", genericEvent(t, map[string]any{
		"id": "later", "actor": "user_42", "record": rawJSON(`{"id":"c1","name":"Grace","email":"ada@example.com","sync_source":"` + s + `"}`),
	}), nil)
	wantDecision(t, ds[0], Forward, "fingerprint", ReasonNewValue)
	if v := h.verdicts(&evs[0])["sentinel"]; v.Reason != ReasonSentinelUnbound {
		t.Fatalf("a settled write's sentinel: %+v", v)
	}
}

// Issue 13, case 3: the app PATCHes one field of a record loopguard has not
// seen; the webhook carries the whole record. With our sentinel (proof the
// event is our write's state), or once loopguard knows what the app holds
// of the other fields, the echo is dropped. On values alone it is not: the
// write's response shows a person's change made just before our write as
// well as the untouched rest, and the person's own event then carries
// exactly these values (the simulator's seed 2554) — it is forwarded, and
// counted as showing our write.
func TestPartialWriteEchoIsDropped(t *testing.T) {
	for _, sentinel := range []bool{true, false} {
		t.Run(map[bool]string{true: "with sentinel", false: "fingerprint only"}[sentinel], func(t *testing.T) {
			h := newHarness(t, "generic", harnessOpts{})
			r, ps, _ := h.p.MatchWrite("PATCH", "/v1/contacts/c9")
			w := h.p.Tag(context.Background(), r, &ps, "a", http.Header{"Content-Type": {jsonCT}}, []byte(`{"name":"Ada"}`), "")
			resp := `{"id":"c9","name":"Ada","email":"ada@example.com","phone":"+1 555","updated_at":"x"}`
			if err := h.eng.RecordWrite(context.Background(), w, []byte(resp)); err != nil {
				t.Fatal(err)
			}
			rec := `{"id":"c9","name":"Ada","email":"ada@example.com","phone":"+1 555","updated_at":"y"`
			if sentinel {
				rec += `,"sync_source":"` + sentinelOf(w) + `"`
			}
			h.clock.Advance(time.Second)
			_, d := h.deliverOne(genericEvent(t, map[string]any{"id": "e1", "actor": nil, "record": rawJSON(rec + "}")}), nil)
			switch {
			case sentinel && (d.Action != Drop || d.Reason != ReasonSentinelMatch):
				t.Fatalf("echo of a partial write with our sentinel: %+v", d)
			case !sentinel && (d.Action != Forward || !d.Reflects):
				t.Fatalf("echo of a partial write of an unseen record, on values alone: %+v", d)
			}
			// Once the app is known to hold the other fields, values alone
			// are proof.
			if !sentinel {
				h.accept(h.deliver("/webhooks/generic", genericEvent(t, map[string]any{"id": "e2", "actor": nil, "record": rawJSON(rec + "}")}), nil))
				w := h.p.Tag(context.Background(), r, &ps, "a", http.Header{"Content-Type": {jsonCT}}, []byte(`{"name":"Ada L."}`), "")
				resp := `{"id":"c9","name":"Ada L.","email":"ada@example.com","phone":"+1 555","updated_at":"z"}`
				if err := h.eng.RecordWrite(context.Background(), w, []byte(resp)); err != nil {
					t.Fatal(err)
				}
				h.clock.Advance(time.Second)
				_, d = h.deliverOne(genericEvent(t, map[string]any{"id": "e3", "actor": nil, "record": rawJSON(`{"id":"c9","name":"Ada L.","email":"ada@example.com","phone":"+1 555"}`)}), nil)
				wantDecision(t, d, Drop, "fingerprint", ReasonPendingWrite)
			}
			// Without the record in the response, the other fields cannot be
			// vouched for: the event is forwarded and counted as showing our
			// write (the loop detector bounds what follows).
			h2 := newHarness(t, "generic", harnessOpts{})
			w2 := h2.p.Tag(context.Background(), r, &ps, "a", http.Header{"Content-Type": {jsonCT}}, []byte(`{"name":"Ada"}`), "")
			if err := h2.eng.RecordWrite(context.Background(), w2, []byte(`{"ok":true}`)); err != nil {
				t.Fatal(err)
			}
			_, d = h2.deliverOne(genericEvent(t, map[string]any{"id": "e1", "actor": nil, "record": rawJSON(`{"id":"c9","name":"Ada","email":"ada@example.com"}`)}), nil)
			if d.Action != Forward || !d.Reflects {
				t.Fatalf("echo of a partial write without the response record: %+v", d)
			}
		})
	}
}

// Issue 13, case 4: a write that changes nothing gets no sentinel, so it
// does not become a change on an API that stores unknown fields.
func TestNoOpWriteGetsNoSentinel(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{})
	evs, ds := h.deliver("/webhooks/generic", genericEvent(t, map[string]any{"id": "e1", "record.name": "Grace"}), nil)
	h.accept(evs, ds)
	cur := `{"name":"Grace","email":"ada@example.com"}`
	w := h.write("PATCH", "/v1/contacts/c1", jsonCT, cur)
	if !w.NoOp || w.Body != nil || w.Nonce != 0 {
		t.Fatalf("write-back of the current state: NoOp %v nonce %x body %s", w.NoOp, w.Nonce, w.Body)
	}
	w = h.write("PATCH", "/v1/contacts/c1", jsonCT, `{"name":"Grace H."}`)
	if w.NoOp || w.Body == nil {
		t.Fatalf("a real change: NoOp %v body %s", w.NoOp, w.Body)
	}
	if _, _, ok := tagging.ParseSentinel(sentinelOf(w), testAgent); !ok {
		t.Fatalf("a real change carries no sentinel: %s", w.Body)
	}
}

// Issue 13, case 6: the rule for polls (README "Pull-side filtering"). A
// polled record is removed only on proof that its state is a write of ours
// that changed something; a record equal to what the app already holds —
// the app's write-back of a state it received included — stays.
func TestPolledWriteBackRule(t *testing.T) {
	page := readFixture(t, "pull/generic_page.json")
	h := newPullHarness(t, "generic")
	evs, ds := h.deliver("/webhooks/generic", genericEvent(t, map[string]any{
		"id": "evt_c4", "actor": "u_human", "record": rawJSON(`{"id":"c4","name":"Di","email":"di@example.com"}`),
	}), nil)
	h.accept(evs, ds)
	h.clock.Advance(time.Second)
	_, _, ds = h.pull("GET", "/v1/contacts", page)
	wantDecision(t, ds[3], Forward, "fingerprint", ReasonNoChange)
	// The app writes back what it received (no-op): still not proof.
	h.write("PATCH", "/v1/contacts/c4", jsonCT, `{"name":"Di","email":"di@example.com"}`)
	h.clock.Advance(time.Second)
	_, _, ds = h.pull("GET", "/v1/contacts", page)
	wantDecision(t, ds[3], Forward, "fingerprint", ReasonNoChange)
	// Our write of a new state is.
	h.write("PATCH", "/v1/contacts/c2", jsonCT, `{"name":"Bo","email":"bo@example.com"}`)
	h.clock.Advance(time.Second)
	_, _, ds = h.pull("GET", "/v1/contacts", page)
	wantDecision(t, ds[1], Drop, "actor", ReasonIntegrationUser)
}

// An app's edit made while an event's offer is still fresh is not a
// write-back of it: a field loopguard knows nothing of is taken for the
// app's copy only when the write carries every field of the event
// (simulator seed 3905: the edit was taken for a no-op, its echo looked
// new, and the app wrote it back).
func TestEditAfterOfferIsNotNoOp(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{})
	for _, id := range []string{"c1", "c2", "c3"} {
		evs, ds := h.deliver("/webhooks/generic", genericEvent(t, map[string]any{"id": "e-" + id, "record": rawJSON(`{"id":"` + id + `","name":"Grace"}`)}), nil)
		h.accept(evs, ds)
	}
	if w := h.write("PATCH", "/v1/contacts/c1", jsonCT, `{"email":"g@example.com"}`); w.NoOp {
		t.Fatal("an edit of a field the event did not carry was taken for a no-op write-back")
	}
	if w := h.write("PATCH", "/v1/contacts/c2", jsonCT, `{"name":"Grace","email":"g@example.com"}`); !w.NoOp {
		t.Fatal("the write-back of the event with the rest of the app's copy was not taken for a no-op")
	}
	// The same write seconds later is an edit (simulator seed 12146).
	h.clock.Advance(10 * time.Second)
	if w := h.write("PATCH", "/v1/contacts/c3", jsonCT, `{"name":"Grace","email":"g@example.com"}`); w.NoOp {
		t.Fatal("a write seconds after the event, with fields loopguard never saw, was taken for a no-op write-back")
	}
}

// An event's offer says what the app holds only until the app writes
// another value of that field: the app's later write of the offered value
// again is an edit, not a no-op write-back (simulator seed 13022: the app's
// PUT overwrote a person's offered value; its next PATCH back to that value
// was taken for a no-op, never matched, and the echo was written back in a
// ping-pong).
func TestOfferSupersededByAppWrite(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{})
	evs, ds := h.deliver("/webhooks/generic", genericEvent(t, map[string]any{"id": "e1", "record": rawJSON(`{"id":"c1","name":"Grace","email":"g@example.com"}`)}), nil)
	h.accept(evs, ds)
	if w := h.write("PATCH", "/v1/contacts/c1", jsonCT, `{"name":"Ada"}`); w.NoOp {
		t.Fatal("the app's change of an offered field was taken for a no-op")
	}
	h.clock.Advance(2 * time.Second)
	if w := h.write("PATCH", "/v1/contacts/c1", jsonCT, `{"name":"Grace"}`); w.NoOp {
		t.Fatal("the app's write back to the offered value, after its own change, was taken for a no-op write-back")
	}
	// The offer still speaks for the fields the app did not write.
	if w := h.write("PATCH", "/v1/contacts/c1", jsonCT, `{"email":"g@example.com"}`); !w.NoOp {
		t.Fatal("a write of the offered value of a field the app never rewrote was not taken for a no-op")
	}
}

// An echo judged earlier in the same delivery teaches the later events of
// its record what it settled and the provider time of the values it
// carried: a resent, older echo batched after the newer one is stale, not
// news (simulator seed 64546: it was forwarded and written back).
func TestBatchEarlierEchoTimesLaterEvents(t *testing.T) {
	h := newHarness(t, "hubspotlike", harnessOpts{})
	h.write("PATCH", "/crm/v3/objects/contacts/501", jsonCT, `{"properties":{"firstname":"Ada"}}`)
	h.clock.Advance(time.Second)
	h.write("PATCH", "/crm/v3/objects/contacts/501", jsonCT, `{"properties":{"firstname":"Bo"}}`)
	h.clock.Advance(time.Second)
	ev := func(id int, at int64, value string) string {
		return `{"eventId":` + strconv.Itoa(id) + `,"subscriptionId":1,"portalId":62515,"occurredAt":` + strconv.FormatInt(at, 10) +
			`,"subscriptionType":"contact.propertyChange","objectId":501,"propertyName":"firstname","propertyValue":"` + value + `"}`
	}
	body := []byte("[" + ev(21, 1764237602000, "Bo") + "," + ev(22, 1764237601000, "Ada") + "]")
	_, ds := h.deliver("/webhooks/hubspot", body, nil)
	wantDecision(t, ds[0], Drop, "fingerprint", ReasonPendingWrite)
	wantDecision(t, ds[1], Drop, "fingerprint", ReasonStale)
}

// A stored sentinel rides along on later states of the record: on a
// provider that delivers out of order, an event carrying it, with a time,
// after a timed genuine event was accepted past the write that stamped it
// (whose own time is unknown), may be a person's return to that write's
// state — the sentinel is no evidence then, as the values are not
// (simulator seed 141390: dropped as sentinel_match).
func TestStoredSentinelUnplacedOnUnorderedProvider(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{mutate: func(t testing.TB, ps []*configs.Provider) {
		for _, p := range ps {
			if p.Name == "generic" {
				p.Webhooks[0].Unordered = true
			}
		}
	}})
	event := func(id, at, rec string) []byte {
		return genericEvent(t, map[string]any{"id": id, "occurred_at": at, "record": rawJSON(rec)})
	}
	evs, ds := h.deliver("/webhooks/generic", event("e1", "2026-11-27T10:00:00Z", `{"id":"c1","name":"Ada","email":"a@example.com"}`), nil)
	h.accept(evs, ds)
	w := h.write("PATCH", "/v1/contacts/c1", jsonCT, `{"name":"Bo"}`)
	s := sentinelOf(w)
	if s == "" {
		t.Fatalf("the write carries no sentinel: %s", w.Body)
	}
	// A person's change, before or after the write: nothing says which.
	evs, ds = h.deliver("/webhooks/generic", event("e2", "2026-11-27T10:00:02Z", `{"id":"c1","name":"Ada","email":"c@example.com"}`), nil)
	wantDecision(t, ds[0], Forward, "fingerprint", ReasonNewValue)
	h.accept(evs, ds)
	// Another person's edit to the write's state, carrying the stored sentinel.
	_, ds = h.deliver("/webhooks/generic", event("e3", "2026-11-27T10:00:04Z", `{"id":"c1","name":"Bo","email":"c@example.com","sync_source":"`+s+`"}`), nil)
	if ds[0].Action == Drop {
		t.Fatalf("a timed event after the write's rebase was dropped on its stored sentinel: %+v", ds[0])
	}
}

// An event without an id is known by its record, provider time and values:
// a resend of a state already decided (dropped as our echo, or accepted) is
// a redelivery (simulator seeds 130639, 156298: a resend batched after our
// next write was forwarded and written back).
func TestResendWithoutIDIsRedelivery(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{})
	event := func(actor, at, rec string) []byte {
		return genericEvent(t, map[string]any{"id": nil, "actor": actor, "occurred_at": at, "record": rawJSON(rec)})
	}
	h.write("PATCH", "/v1/contacts/c1", jsonCT, `{"name":"Ada"}`)
	echo := event("u_integration", "2026-11-27T10:00:01Z", `{"id":"c1","name":"Ada"}`)
	evs, ds := h.deliver("/webhooks/generic", echo, nil)
	wantDecision(t, ds[0], Drop, "actor", ReasonIntegrationUser)
	h.accept(evs, ds)
	h.write("PATCH", "/v1/contacts/c1", jsonCT, `{"name":"Bo"}`)
	_, ds = h.deliver("/webhooks/generic", echo, nil)
	wantDecision(t, ds[0], Drop, "dedup", ReasonRedelivery)
	// A person's change to the same values at another time is another event.
	_, ds = h.deliver("/webhooks/generic", event("user_42", "2026-11-27T10:00:03Z", `{"id":"c1","name":"Ada"}`), nil)
	wantDecision(t, ds[0], Forward, "fingerprint", ReasonNewValue)
}
