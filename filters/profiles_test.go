package filters

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/signature"
	"github.com/loopguard/loopguard/tagging"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
	"go.yaml.in/yaml/v3"
)

// profilesDir holds one folder per profile case: loopguard.yaml (a
// deployment using the profile), case.yaml (profileCase) and the payloads
// it names, all written by the project after each provider's documented
// shapes (SOURCES.md cites the pages).
const profilesDir = "testdata/profiles"

// sharedPayloads is where real public payloads live, outside the project
// (their origins and licences: SOURCES.md there), relative to the module
// root; LOOPGUARD_SHARED_PAYLOADS overrides it.
const sharedPayloads = "../shared/fixtures/payloads"

// profileCase describes one profile's end-to-end case: the app's write as
// the forward proxy sees it, and the deliveries that follow.
type profileCase struct {
	Write struct {
		Method      string            `yaml:"method"`
		Host        string            `yaml:"host"`
		Path        string            `yaml:"path"`
		ContentType string            `yaml:"content_type"`
		Headers     map[string]string `yaml:"headers"`
		Body        string            `yaml:"body"`
		// Response is the upstream's answer to a create, for its id.
		Response string `yaml:"response"`
		Object   string `yaml:"object"`
		Record   string `yaml:"record"`
		// Sentinel: the tagged body must carry our sentinel.
		Sentinel bool `yaml:"sentinel"`
		// TagOnly: headers only; nothing recorded.
		TagOnly bool `yaml:"tag_only"`
		// TaggedHeaders must be set after tagging; a value ending in "*"
		// is a prefix.
		TaggedHeaders map[string]string `yaml:"tagged_headers"`
	} `yaml:"write"`
	Webhook struct {
		Path string `yaml:"path"`
		// URI is the public URI the provider calls (HubSpot signs it).
		URI string `yaml:"uri"`
	} `yaml:"webhook"`
	// Echo deliveries come back from our write: every event is dropped.
	Echo []profileDelivery `yaml:"echo"`
	// Genuine deliveries are someone else's changes: every event is
	// forwarded. The first is also redelivered and forged.
	Genuine []profileDelivery `yaml:"genuine"`
	// Mixed deliveries hold echoes and genuine changes (decisions name the
	// action of each): the echoes are removed and the rest kept byte for
	// byte, re-signed where the provider signs.
	Mixed []profileDelivery `yaml:"mixed"`
	// Redelivery says how the provider's retry differs from the original.
	Redelivery struct {
		Set     map[string]any    `yaml:"set"`
		Headers map[string]string `yaml:"headers"`
	} `yaml:"redelivery"`
	// Handshake is a verification request's headers.
	Handshake map[string]string `yaml:"handshake"`
}

type profileDelivery struct {
	Body    string            `yaml:"body"`
	Headers map[string]string `yaml:"headers"`
	// Path is the delivery path, when not the case's webhook path.
	Path string `yaml:"path"`
	// Read evaluates the body as the response to this poll, "METHOD
	// /path" (a reads: route), instead of a webhook delivery.
	Read      string `yaml:"read"`
	Decisions []struct {
		// Action is forward or drop, for mixed deliveries.
		Action string `yaml:"action"`
		Layer  string `yaml:"layer"`
		Reason string `yaml:"reason"`
	} `yaml:"decisions"`
	// Rewritten names the body a mixed delivery must become.
	Rewritten string `yaml:"rewritten"`
	// Ack: an echo delivery is answered with its route's ack, which holds
	// this text.
	Ack string `yaml:"ack"`
	// Record and Object, when set, pin the first event's.
	Record string `yaml:"record"`
	Object string `yaml:"object"`
}

// profileRun is one case's engine, ledger and provider.
type profileRun struct {
	t      *testing.T
	dir    string
	c      profileCase
	clock  *fakeClock
	eng    *Engine
	p      *Provider
	scheme signature.Scheme // nil when the provider does not sign
	// fills replace {{name}} placeholders in payloads.
	fills map[string]string
}

func TestBuiltinProfilesHaveCases(t *testing.T) {
	names := configs.Builtins()
	if len(names) < 9 {
		t.Fatalf("built-in profiles: %v, want generic and the eight provider profiles", names)
	}
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(profilesDir, n, "case.yaml")); err != nil {
			t.Errorf("built-in profile %s has no test case: %v", n, err)
		}
	}
}

func TestProfiles(t *testing.T) {
	dirs, err := os.ReadDir(profilesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		t.Run(d.Name(), func(t *testing.T) {
			r := newProfileRun(t, filepath.Join(profilesDir, d.Name()))
			r.write()
			r.clock.Advance(time.Second)
			for i, dl := range r.c.Echo {
				t.Run("echo/"+dl.Body, func(t *testing.T) { r.deliver(t, i, dl, Drop) })
			}
			for _, dl := range r.c.Mixed {
				t.Run("mixed/"+dl.Body, func(t *testing.T) { r.mixed(t, dl) })
			}
			if len(r.c.Genuine) == 0 {
				t.Fatal("case has no genuine delivery")
			}
			if r.scheme != nil {
				t.Run("bad signature", r.forged)
			} else if r.p.Profile.Signature.Scheme != "" {
				t.Fatal("the profile signs deliveries but the case configures no secret")
			}
			for i, dl := range r.c.Genuine {
				t.Run("genuine/"+dl.Body, func(t *testing.T) { r.deliver(t, i, dl, Forward) })
			}
			t.Run("redelivery", r.redeliver)
			if r.c.Handshake != nil {
				t.Run("handshake", r.handshake)
			}
		})
	}
}

func newProfileRun(t *testing.T, dir string) *profileRun {
	t.Helper()
	r := &profileRun{t: t, dir: dir, clock: newFakeClock(), fills: map[string]string{}}
	if err := yaml.Unmarshal(r.read("case.yaml"), &r.c); err != nil {
		t.Fatalf("%s/case.yaml: %v", dir, err)
	}
	l, err := configs.LoadBytes(filepath.Join(dir, "loopguard.yaml"), r.read("loopguard.yaml"), nil)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if len(l.Providers) != 1 {
		t.Fatalf("%d providers, want 1", len(l.Providers))
	}
	store, err := ledger.NewMemory(ledger.Options{Shards: 16, MaxSizeMB: 16, Now: r.clock.Now})
	if err != nil {
		t.Fatalf("ledger: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	r.eng, err = New(l.Providers, store, Options{Agent: l.Config.Agent, Now: r.clock.Now})
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	r.p = r.eng.Providers()[0]
	if sig := r.p.Profile.Signature; sig.Scheme != "" && sig.Secret.Value() != "" {
		r.scheme, err = signature.New(sigConfig(sig, sig.Secret.Value()))
		if err != nil {
			t.Fatalf("signature: %v", err)
		}
	}
	return r
}

func sigConfig(s configs.SignatureSpec, secret string) signature.Config {
	return signature.Config{
		Scheme: s.Scheme, Secret: secret, Header: s.Header, Encoding: s.Encoding, Prefix: s.Prefix,
		TimestampHeader: s.TimestampHeader, Payload: s.Payload, Tolerance: s.Tolerance.D(),
	}
}

func (r *profileRun) read(name string) []byte {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, name))
	if err != nil {
		r.t.Fatalf("read fixture: %v", err)
	}
	return b
}

// write runs the app's write through MatchWrite, AccountOf, Tag and (after
// the upstream's 2xx) RecordWrite, as proxy/write.go does.
func (r *profileRun) write() {
	t, cw := r.t, r.c.Write
	route, ps, ok := r.p.MatchWrite(cw.Method, cw.Path)
	if !ok {
		t.Fatalf("no write route for %s %s", cw.Method, cw.Path)
	}
	hdr := http.Header{"Content-Type": {cw.ContentType}}
	for k, v := range cw.Headers {
		hdr.Set(k, v)
	}
	account := r.p.AccountOf(cw.Host, &url.URL{Path: cw.Path}, hdr, &ps)
	body := r.read(cw.Body)
	if route.Multi() {
		r.writeMulti(route, &ps, account, hdr, body)
		return
	}
	w := r.p.ForAccount(account).Tag(context.Background(), route, &ps, account, hdr, body, "")
	if w.Untagged != "" {
		t.Fatalf("write left untagged: %s", w.Untagged)
	}
	for k, want := range cw.TaggedHeaders {
		got := hdr.Get(k)
		if p, ok := strings.CutSuffix(want, "*"); ok && strings.HasPrefix(got, p) && len(got) > len(p) {
			continue
		}
		if got != want {
			t.Fatalf("tagged header %s = %q, want %q", k, got, want)
		}
	}
	if ik := r.p.Profile.Tagging.IdempotencyKey.Header; ik != "" {
		r.fills["idempotency_key"] = hdr.Get(ik)
	}
	if cw.TagOnly {
		if w.Body != nil || len(w.Fields) != 0 || w.Record != "" {
			t.Fatalf("tag-only write touched the body or has a record: %+v", w)
		}
		if err := r.eng.RecordWrite(context.Background(), w, nil); err != nil {
			t.Fatalf("RecordWrite: %v", err)
		}
		return
	}
	if len(w.Fields) == 0 {
		t.Fatal("write has no tracked fields: the fixture writes none of the profile's tracked_fields")
	}
	got := bodySentinel(w.Body, cw.ContentType, route.Fields, r.p.Profile.Tagging.SentinelField)
	nonce, _, ours := tagging.ParseSentinel(got, r.eng.Agent())
	if ours = ours && nonce == w.Nonce; cw.Sentinel != ours {
		t.Fatalf("sentinel in body = %q, want ours: %v (body %s)", got, cw.Sentinel, w.Body)
	}
	r.fills["sentinel"] = got
	if cw.Response != "" {
		if w.Record != "" {
			t.Fatalf("a create has record %q before the response", w.Record)
		}
		w.Record = w.CreatedID(r.read(cw.Response))
	}
	if w.Object != cw.Object || w.Record != cw.Record {
		t.Fatalf("write object/record = %q/%q, want %q/%q", w.Object, w.Record, cw.Object, cw.Record)
	}
	if err := r.eng.RecordWrite(context.Background(), w, nil); err != nil {
		t.Fatalf("RecordWrite: %v", err)
	}
	var st ledger.State
	if ok, err := r.eng.Store().Get(context.Background(), w.Key(), &st); err != nil || !ok {
		t.Fatalf("write not recorded: %v %v", ok, err)
	}
}

// writeMulti runs a batch or GraphQL write as proxy/write_batch.go does:
// TagBatch or TagGraphQL, then (after the upstream's answer, the case's
// response) RecordMulti; the case's record must be among those recorded.
func (r *profileRun) writeMulti(route *WriteRoute, ps *Params, account string, hdr http.Header, body []byte) {
	t, cw := r.t, r.c.Write
	ctx := context.Background()
	ap := r.p.ForAccount(account)
	var m *Multi
	if route.GraphQL() {
		var err error
		if m, err = ap.TagGraphQL(ctx, cw.Method, cw.Path, account, hdr, body); err != nil {
			t.Fatalf("TagGraphQL: %v", err)
		}
	} else {
		m = ap.TagBatch(ctx, route, ps, account, &url.URL{Path: cw.Path}, hdr, body, "")
	}
	if m.Untagged != "" {
		t.Fatalf("write left untagged: %s", m.Untagged)
	}
	if cw.Response == "" {
		t.Fatal("a batch or GraphQL write needs the upstream's response (write.response)")
	}
	out := r.eng.RecordMulti(ctx, m, r.read(cw.Response))
	for _, w := range out.Recorded {
		if w.Object == cw.Object && w.Record == cw.Record {
			return
		}
	}
	t.Fatalf("%s/%s not recorded: %+v", cw.Object, cw.Record, out)
}

// bodySentinel reads the sentinel field from a tagged JSON or form body.
func bodySentinel(body []byte, contentType, fields, field string) string {
	if body == nil || field == "" {
		return ""
	}
	if contentType == "application/x-www-form-urlencoded" {
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return ""
		}
		return vals.Get(tagging.FormKey(field))
	}
	return gjson.GetBytes(body, tagging.JoinPath(fields, field)).String()
}

// payload reads a delivery body and fills its placeholders.
func (r *profileRun) payload(t *testing.T, name string) []byte {
	t.Helper()
	b := r.read(name)
	for k, v := range r.fills {
		b = bytes.ReplaceAll(b, []byte("{{"+k+"}}"), []byte(v))
	}
	if i := bytes.Index(b, []byte("{{")); i >= 0 {
		t.Fatalf("%s: unfilled placeholder at %q", name, b[i:min(len(b), i+20)])
	}
	return b
}

func (r *profileRun) request(hdr http.Header) signature.Request {
	uri := r.c.Webhook.URI
	if uri == "" {
		uri = "https://hooks.example.com" + r.c.Webhook.Path
	}
	return signature.Request{Method: http.MethodPost, URI: uri, Header: hdr}
}

// signed returns the delivery headers, signed with the provider's secret
// (verified, as the inbound proxy would) when the provider signs.
func (r *profileRun) signed(t *testing.T, dl profileDelivery, body []byte) http.Header {
	t.Helper()
	hdr := http.Header{"Content-Type": {"application/json"}}
	for k, v := range dl.Headers {
		hdr.Set(k, v)
	}
	if dl.Read != "" {
		return hdr // a read response is not signed
	}
	if r.scheme == nil {
		return hdr
	}
	out := hdr.Clone()
	if err := r.scheme.Sign(r.request(hdr), body, r.clock.Now(), out); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if err := r.scheme.Verify(r.request(out), body, r.clock.Now()); err != nil {
		t.Fatalf("a delivery signed with the secret does not verify: %v", err)
	}
	return out
}

// extract splits a delivery as the inbound proxy does (or a read
// response as the outbound proxy does).
func (r *profileRun) extract(t *testing.T, dl profileDelivery, body []byte, hdr http.Header) ([]Event, *WebhookRoute) {
	t.Helper()
	if dl.Read != "" {
		method, path, _ := strings.Cut(dl.Read, " ")
		route, ps, ok := r.p.MatchRead(method, path)
		if !ok {
			t.Fatalf("no read route for %s", dl.Read)
		}
		evs, err := r.p.ExtractRead(route, &ps, "", body, hdr, nil)
		if err != nil {
			t.Fatalf("ExtractRead: %v", err)
		}
		return evs, route
	}
	path := r.c.Webhook.Path
	if dl.Path != "" {
		path = dl.Path
	}
	route, ok := r.p.MatchWebhook(http.MethodPost, path)
	if !ok {
		t.Fatalf("no webhook route for POST %s", path)
	}
	evs, err := r.p.Extract(route, body, hdr, nil)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	return evs, route
}

func (r *profileRun) decide(evs []Event) []Decision {
	ds := make([]Decision, len(evs))
	for i := range evs {
		ds[i] = r.eng.Decide(context.Background(), r.p, &evs[i])
	}
	return ds
}

// deliver delivers one fixture and checks every event's decision; a
// forwarded delivery is then accepted by the app.
func (r *profileRun) deliver(t *testing.T, _ int, dl profileDelivery, action Action) {
	body := r.payload(t, dl.Body)
	hdr := r.signed(t, dl, body)
	evs, route := r.extract(t, dl, body, hdr)
	r.noSpecProblems(t, evs, body, hdr)
	ds := r.decide(evs)
	if len(ds) != len(dl.Decisions) {
		t.Fatalf("%d events, want %d: %+v", len(ds), len(dl.Decisions), ds)
	}
	if dl.Ack != "" {
		if a := route.Ack(); a == nil || !strings.Contains(a.Body, dl.Ack) {
			t.Errorf("route ack = %+v, want one holding %q", a, dl.Ack)
		}
	}
	for i, want := range dl.Decisions {
		d := ds[i]
		if d.Action != action || d.Layer != want.Layer || d.Reason.String() != want.Reason {
			t.Errorf("event %d (%s %s/%s): %s by %s (%s: %s), want %s by %s (%s)",
				i, d.EventID, d.Object, d.Record, d.Action, d.Layer, d.Reason.String(), d.Detail, action, want.Layer, want.Reason)
		}
		if d.Record == "" || (d.EventID == "" && dl.Read == "") { // pulled records have no event id
			t.Errorf("event %d has no record (%q) or event id (%q)", i, d.Record, d.EventID)
		}
	}
	if dl.Record != "" && (ds[0].Record != dl.Record || ds[0].Object != dl.Object) {
		t.Errorf("first event object/record = %q/%q, want %q/%q", ds[0].Object, ds[0].Record, dl.Object, dl.Record)
	}
	if action == Forward && dl.Read == "" {
		if err := r.eng.Accepted(context.Background(), r.p, evs, ds); err != nil {
			t.Fatalf("Accepted: %v", err)
		}
	}
}

// noSpecProblems checks the built-in profile against its fixtures: no
// value spec reads an object where a value is needed.
func (r *profileRun) noSpecProblems(t *testing.T, evs []Event, body []byte, hdr http.Header) {
	t.Helper()
	for i := range evs {
		if ps := r.p.Detail(&evs[i], body, hdr).Problems; len(ps) > 0 {
			t.Errorf("event %d: %s", i, strings.Join(ps, "; "))
		}
	}
}

// mixed delivers a delivery of echoes and genuine changes: each event's
// decision is checked, the echoes leave the body, the rest stays byte for
// byte (the rewritten fixture), and a signed delivery is re-signed so the
// app's check passes.
func (r *profileRun) mixed(t *testing.T, dl profileDelivery) {
	body := r.payload(t, dl.Body)
	hdr := r.signed(t, dl, body)
	evs, route := r.extract(t, dl, body, hdr)
	r.noSpecProblems(t, evs, body, hdr)
	ds := r.decide(evs)
	if len(ds) != len(dl.Decisions) {
		t.Fatalf("%d events, want %d: %+v", len(ds), len(dl.Decisions), ds)
	}
	keep := make([]bool, len(ds))
	for i, want := range dl.Decisions {
		d := ds[i]
		if d.Action.String() != want.Action || d.Layer != want.Layer || d.Reason.String() != want.Reason {
			t.Errorf("event %d (%s %s/%s): %s by %s (%s: %s), want %s by %s (%s)",
				i, d.EventID, d.Object, d.Record, d.Action.String(), d.Layer, d.Reason.String(), d.Detail, want.Action, want.Layer, want.Reason)
		}
		keep[i] = d.Action == Forward
	}
	if !slices.Contains(keep, true) || !slices.Contains(keep, false) {
		t.Fatalf("a mixed delivery needs echoes and genuine events: %v", keep)
	}
	out, err := r.p.Rewrite(route, body, evs, keep)
	if err != nil {
		t.Fatalf("Rewrite: %v", err)
	}
	if want := r.payload(t, dl.Rewritten); !bytes.Equal(out, want) {
		t.Fatalf("rewritten delivery:\n%s\nwant (%s):\n%s", out, dl.Rewritten, want)
	}
	if again, _ := r.extract(t, dl, out, hdr); len(again) != keptEvents(evs, keep) {
		t.Fatalf("the rewritten delivery holds %d events, want %d", len(again), keptEvents(evs, keep))
	}
	if r.scheme != nil && dl.Read == "" {
		resigned := hdr.Clone()
		if err := r.scheme.Sign(r.request(hdr), out, r.clock.Now(), resigned); err != nil {
			t.Fatalf("re-sign: %v", err)
		}
		if err := r.scheme.Verify(r.request(resigned), out, r.clock.Now()); err != nil {
			t.Fatalf("the re-signed delivery does not verify: %v", err)
		}
	}
	if dl.Read == "" {
		if err := r.eng.Accepted(context.Background(), r.p, evs, ds); err != nil {
			t.Fatalf("Accepted: %v", err)
		}
	}
}

// keptEvents counts the events of the elements a rewrite keeps (an
// element is kept whole when any of its events is).
func keptEvents(evs []Event, keep []bool) int {
	kept := map[int]bool{}
	for i, e := range evs {
		kept[e.Start] = kept[e.Start] || keep[i]
	}
	n := 0
	for _, e := range evs {
		if kept[e.Start] {
			n++
		}
	}
	return n
}

// forged delivers the first genuine delivery signed with another secret:
// verification fails, every event is forwarded untouched as unverified,
// and nothing about it is remembered (the real delivery is not taken for a
// redelivery afterwards).
func (r *profileRun) forged(t *testing.T) {
	dl := r.c.Genuine[0]
	body := r.payload(t, dl.Body)
	hdr := http.Header{"Content-Type": {"application/json"}}
	for k, v := range dl.Headers {
		hdr.Set(k, v)
	}
	other, err := signature.New(sigConfig(r.p.Profile.Signature, "not-the-secret"))
	if err != nil { // a scheme whose secret is base64 (airtable)
		other, err = signature.New(sigConfig(r.p.Profile.Signature, base64.StdEncoding.EncodeToString([]byte("not-the-secret"))))
	}
	if err != nil {
		t.Fatal(err)
	}
	forged := hdr.Clone()
	if err := other.Sign(r.request(hdr), body, r.clock.Now(), forged); err != nil {
		t.Fatal(err)
	}
	err = r.scheme.Verify(r.request(forged), body, r.clock.Now())
	if !errors.Is(err, signature.ErrMismatch) {
		t.Fatalf("Verify of a delivery signed with another secret = %v, want ErrMismatch", err)
	}
	if strings.Contains(err.Error(), r.p.Profile.Signature.Secret.Value()) {
		t.Fatalf("verify error reveals the secret: %v", err)
	}
	if err := r.scheme.Verify(r.request(hdr), body, r.clock.Now()); !errors.Is(err, signature.ErrMissing) {
		t.Fatalf("Verify of an unsigned delivery = %v, want ErrMissing", err)
	}
	evs, _ := r.extract(t, dl, body, forged)
	ds := make([]Decision, len(evs))
	for i := range evs {
		ds[i] = r.eng.Unverified(r.p, &evs[i], err.Error())
		if ds[i].Action != Forward || ds[i].Layer != "signature" || ds[i].Reason != ReasonUnverified {
			t.Fatalf("unverified event %d: %s by %s (%s)", i, ds[i].Action, ds[i].Layer, ds[i].Reason.String())
		}
	}
	if err := r.eng.Accepted(context.Background(), r.p, evs, ds); err != nil {
		t.Fatalf("Accepted: %v", err)
	}
}

// redeliver sends the first genuine delivery again, as the provider's
// retry would: every event is a redelivery.
func (r *profileRun) redeliver(t *testing.T) {
	dl := r.c.Genuine[0]
	body := r.payload(t, dl.Body)
	keys := make([]string, 0, len(r.c.Redelivery.Set))
	for k := range r.c.Redelivery.Set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var err error
		if body, err = sjson.SetBytes(body, k, r.c.Redelivery.Set[k]); err != nil {
			t.Fatalf("redelivery set %s: %v", k, err)
		}
	}
	again := dl
	again.Headers = map[string]string{}
	for k, v := range dl.Headers {
		again.Headers[k] = v
	}
	for k, v := range r.c.Redelivery.Headers {
		again.Headers[k] = v
	}
	r.clock.Advance(time.Minute)
	evs, _ := r.extract(t, again, body, r.signed(t, again, body))
	ds := r.decide(evs)
	if len(ds) != len(dl.Decisions) {
		t.Fatalf("redelivery has %d events, the original %d", len(ds), len(dl.Decisions))
	}
	for i, d := range ds {
		if d.Action != Drop || d.Layer != "dedup" || d.Reason != ReasonRedelivery {
			t.Errorf("redelivered event %d (%s): %s by %s (%s), want drop by dedup", i, d.EventID, d.Action, d.Layer, d.Reason.String())
		}
	}
}

// handshake checks that a verification request is recognised by the
// profile's handshakes (which the inbound proxy passes straight through).
func (r *profileRun) handshake(t *testing.T) {
	hdr := http.Header{}
	for k, v := range r.c.Handshake {
		hdr.Set(k, v)
	}
	found := slices.ContainsFunc(r.p.Profile.Handshakes, func(h configs.Handshake) bool {
		return h.Header != "" && hdr.Get(h.Header) != ""
	})
	if !found {
		t.Fatalf("no handshake of %+v matches headers %v", r.p.Profile.Handshakes, hdr)
	}
}

// realExpect is what one real payload must yield (testdata/profiles/shared_payloads.yaml).
type realExpect struct {
	Headers map[string]string `yaml:"headers"`
	Object  string            `yaml:"object"`
	Record  string            `yaml:"record"`
	Actor   string            `yaml:"actor"`
	Account string            `yaml:"account"`
}

func TestRealPayloadsExtract(t *testing.T) {
	dir := sharedPayloadsDir(t)
	b, err := os.ReadFile(filepath.Join(profilesDir, "shared_payloads.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var expect map[string]realExpect
	if err := yaml.Unmarshal(b, &expect); err != nil {
		t.Fatalf("shared_payloads.yaml: %v", err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no payloads in %s: %v", dir, err)
	}
	for _, f := range files {
		rel := filepath.ToSlash(strings.TrimPrefix(f, dir+string(filepath.Separator)))
		t.Run(rel, func(t *testing.T) {
			want, ok := expect[rel]
			if !ok {
				t.Fatalf("%s is not in shared_payloads.yaml", rel)
			}
			name := strings.SplitN(rel, "/", 2)[0]
			// Extraction only: nothing here verifies a signature.
			l, err := configs.LoadBytes("real.yaml", []byte("providers: [{use: "+name+", signature: {trust_unsigned: true}}]\n"), nil)
			if err != nil {
				t.Fatalf("load %s: %v", name, err)
			}
			h := newHarnessFor(t, l.Providers)
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			hdr := http.Header{}
			for k, v := range want.Headers {
				hdr.Set(k, v)
			}
			route, ok := h.p.MatchWebhook(http.MethodPost, h.p.Profile.Webhooks[0].Path)
			if !ok {
				t.Fatal("no webhook route")
			}
			evs, err := h.p.Extract(route, body, hdr, nil)
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if len(evs) == 0 {
				t.Fatal("no events")
			}
			for i := range evs {
				if ps := h.p.Detail(&evs[i], body, hdr).Problems; len(ps) > 0 {
					t.Errorf("event %d: %s", i, strings.Join(ps, "; "))
				}
			}
			ev := evs[0]
			if ev.Record != want.Record || ev.Object != want.Object || ev.Actor != want.Actor || ev.Account != want.Account {
				t.Fatalf("event object/record/actor/account = %q/%q/%q/%q, want %q/%q/%q/%q",
					ev.Object, ev.Record, ev.Actor, ev.Account, want.Object, want.Record, want.Actor, want.Account)
			}
			if ev.ID == "" {
				t.Fatal("event has no id for dedup")
			}
			// Deciding must not fail on real data either.
			if d := h.eng.Decide(context.Background(), h.p, &ev); d.Action != Forward {
				t.Fatalf("a real payload with nothing written is %s by %s (%s)", d.Action, d.Layer, d.Reason.String())
			}
		})
	}
}

// newHarnessFor builds a harness (fresh ledger, fake clock) around the
// first of the given providers.
func newHarnessFor(t testing.TB, ps []*configs.Provider) *harness {
	t.Helper()
	clock := newFakeClock()
	store, err := ledger.NewMemory(ledger.Options{Shards: 16, MaxSizeMB: 16, Now: clock.Now})
	if err != nil {
		t.Fatalf("ledger: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	eng, err := New(ps, store, Options{Agent: testAgent, Now: clock.Now})
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	return &harness{t: t, clock: clock, store: store, eng: eng, p: eng.Providers()[0]}
}

// sharedPayloadsDir returns the folder of real public payloads, or skips
// the test when it is absent (a checkout without ../shared; CI has it).
func sharedPayloadsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("LOOPGUARD_SHARED_PAYLOADS")
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, filepath.FromSlash(sharedPayloads))
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Skipf("real public payloads not found at %s (a checkout without ../shared/fixtures; CI has them): %v", dir, err)
	}
	return filepath.Clean(dir)
}

// moduleRoot finds the folder holding go.mod above the test's folder.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test folder")
		}
		dir = parent
	}
}
