package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/tidwall/gjson"
)

// realProvider is the tracker provider of the harness's config.
func realProvider(t *testing.T) (*filters.Engine, *filters.Provider) {
	t.Helper()
	srv := &servers{appAddr: "127.0.0.1:1", apiAddr: "127.0.0.1:2", tunnelAddr: "127.0.0.1:7", trackerAddr: "127.0.0.1:8"}
	cfg := renderConfig(t.TempDir(), sidecarAddrs{"127.0.0.1:3", "127.0.0.1:4", "127.0.0.1:5", "127.0.0.1:6"}, srv)
	l, err := configs.LoadBytes("loopguard.yaml", []byte(cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	store, err := ledger.NewMemory(ledger.Options{MaxSizeMB: 16, Shards: 16})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	eng, err := filters.New(l.Providers, store, filters.Options{Agent: l.Config.Agent})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := eng.Provider("tracker")
	if !ok {
		t.Fatal("no tracker provider in the harness config")
	}
	return eng, p
}

// TestRealWebhookShape: ~1 KB, an actor object, six record fields (five
// tracked) with a 500-character description, no event id, and a provider
// time that moves forward.
func TestRealWebhookShape(t *testing.T) {
	o := defaultOptions()
	w := newRealWorkload(o)
	var last string
	for _, seq := range []uint64{1, 2, 9_999, 10_001, 1 << 30} {
		b := w.webhook(seq)
		if !gjson.ValidBytes(b) {
			t.Fatalf("webhook %d is not JSON: %s", seq, b)
		}
		if n := len(b); n < 900 || n > 1200 {
			t.Errorf("webhook %d is %d bytes, want ~1 KB", seq, n)
		}
		data := gjson.GetBytes(b, "data")
		fields := 0
		data.ForEach(func(k, _ gjson.Result) bool {
			if k.String() != "id" {
				fields++
			}
			return true
		})
		if fields != 6 {
			t.Errorf("webhook %d: record has %d fields besides its id, want 6: %s", seq, fields, data.Raw)
		}
		if n := len(data.Get("description").String()); n != realDescriptionChars {
			t.Errorf("webhook %d: description of %d characters, want %d", seq, n, realDescriptionChars)
		}
		if !gjson.GetBytes(b, "actor").IsObject() {
			t.Errorf("webhook %d: actor is not an object", seq)
		}
		if gjson.GetBytes(b, "id").Exists() {
			t.Errorf("webhook %d has an event id", seq)
		}
		at := data.Get("updatedAt").String()
		if at <= last {
			t.Errorf("webhook %d: updatedAt %s does not move forward from %s", seq, at, last)
		}
		last = at
	}
}

// TestRealWritesShape: ~1 KB bodies with 2 (partial) or all 5 (full)
// tracked fields, each write distinct.
func TestRealWritesShape(t *testing.T) {
	w := newRealWorkload(defaultOptions())
	for _, full := range []bool{false, true} {
		want := 2
		if full {
			want = len(realFields)
		}
		a, b := w.write(7, full), w.write(8, full)
		for _, body := range [][]byte{a, b} {
			if !gjson.ValidBytes(body) {
				t.Fatalf("write is not JSON: %s", body)
			}
			if n := len(body); n < payloadBytes-32 || n > payloadBytes+32 {
				t.Errorf("full=%v: body of %d bytes, want ~%d", full, n, payloadBytes)
			}
			got := 0
			for _, v := range gjson.GetManyBytes(body, realFields[:]...) {
				if v.Exists() {
					got++
				}
			}
			if got != want {
				t.Errorf("full=%v: %d tracked fields written, want %d", full, got, want)
			}
		}
		if gjson.GetBytes(a, "title").String() == gjson.GetBytes(b, "title").String() {
			t.Errorf("full=%v: two writes with the same title", full)
		}
	}
}

// TestRealAPIAnswersRecord: the fake API answers a partial PATCH with the
// whole record (written fields over the ones it holds) and an updatedAt
// that moves forward.
func TestRealAPIAnswersRecord(t *testing.T) {
	api := &fakeAPI{sentinel: sentinelField}
	w := newRealWorkload(defaultOptions())
	var last string
	for seq := range uint64(3) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPatch, realWritePath+"p1", strings.NewReader(string(w.write(seq, false))))
		api.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		body := rec.Body.Bytes()
		if got := gjson.GetBytes(body, "id").String(); got != "p1" {
			t.Errorf("id = %q, want p1", got)
		}
		if got, want := gjson.GetBytes(body, "title").String(), gjson.GetBytes(w.write(seq, false), "title").String(); got != want {
			t.Errorf("title = %q, want the written %q", got, want)
		}
		if got := gjson.GetBytes(body, "stateId").Raw; got != realDefaultState {
			t.Errorf("stateId = %s, want the held %s", got, realDefaultState)
		}
		at := gjson.GetBytes(body, "updatedAt").String()
		if at <= last {
			t.Errorf("updatedAt %s does not move forward from %s", at, last)
		}
		last = at
	}
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest(http.MethodPatch, realWritePath+"p1", strings.NewReader("{")))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("invalid JSON: status %d, want 400", rec.Code)
	}
}

// TestRealChangesAreGenuine runs the inbound changes through the tracker
// provider's extraction and decision, accepting each as the app would:
// every one, first sight of an issue or a later change of it, is forwarded
// as news.
func TestRealChangesAreGenuine(t *testing.T) {
	eng, p := realProvider(t)
	o := defaultOptions()
	o.RealRecords = 10
	w := newRealWorkload(o)
	route, ok := p.MatchWebhook(http.MethodPost, realWebhookPath)
	if !ok {
		t.Fatalf("no tracker webhook route %s", realWebhookPath)
	}
	ctx := context.Background()
	for range 5 * o.RealRecords {
		evs, err := p.Extract(route, w.webhook(w.clock.Add(1)), nil, nil)
		if err != nil || len(evs) != 1 {
			t.Fatalf("extract: %d events, %v", len(evs), err)
		}
		ev := &evs[0]
		if len(ev.Fields) != 5 || ev.Record == "" || ev.OccurredAt.IsZero() || ev.ID != "" {
			t.Fatalf("event: %d fields, record %q, at %v, id %q", len(ev.Fields), ev.Record, ev.OccurredAt, ev.ID)
		}
		d := eng.Decide(ctx, p, ev)
		if d.Action != filters.Forward || d.Reason != filters.ReasonNewValue {
			t.Fatalf("change of %s at %v: %s by %s (%s), want forward as new_value", ev.Record, ev.OccurredAt, d.Action.String(), d.Layer, d.Reason.String())
		}
		if err := eng.Accepted(ctx, p, evs, []filters.Decision{d}); err != nil {
			t.Fatal(err)
		}
	}
}
