package proxy

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tidwall/gjson"
)

// fakeCRM is a real HTTPS API holding records; PATCHes merge into them and
// deliver(…) posts a generic-profile webhook of a record's current state.
type fakeCRM struct {
	mu      sync.Mutex
	records map[string]map[string]any
	writes  int
}

func (c *fakeCRM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	var patch map[string]any
	_ = json.NewDecoder(r.Body).Decode(&patch)
	c.mu.Lock()
	c.writes++
	rec := c.records[id]
	if rec == nil {
		rec = map[string]any{"id": id}
		c.records[id] = rec
	}
	for k, v := range patch {
		rec[k] = v
	}
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
}

// humanEdit changes a field as a person in the CRM's UI would.
func (c *fakeCRM) humanEdit(id, field, value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.records[id] == nil {
		c.records[id] = map[string]any{"id": id}
	}
	c.records[id][field] = value
}

func (c *fakeCRM) payload(eventID, actor, id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, _ := json.Marshal(c.records[id])
	return fmt.Sprintf(`{"id":%q,"object":"contacts","actor":%q,"record":%s}`, eventID, actor, rec)
}

type inboundEnv struct {
	app *recorder
	crm *fakeCRM
	up  *httptest.Server
	s   *Sidecar
	c   *http.Client
}

func newInboundEnv(t *testing.T, observe bool) *inboundEnv {
	t.Helper()
	app := &recorder{}
	appSrv := httptest.NewServer(app)
	t.Cleanup(appSrv.Close)
	crm := &fakeCRM{records: map[string]map[string]any{}}
	up := httptest.NewTLSServer(crm)
	t.Cleanup(up.Close)
	cfg, err := os.ReadFile("testdata/inbound.yaml")
	must(t, err)
	s := startSidecar(t, string(cfg), map[string]string{
		"app": appSrv.URL, "upstream_ca": writePEM(t, up), "upstream_host": hostOf(up), "observe": fmt.Sprint(observe),
	})
	return &inboundEnv{app: app, crm: crm, up: up, s: s, c: proxiedClient(t, s)}
}

func (e *inboundEnv) deliver(t *testing.T, path, body string, hdr ...string) (int, string) {
	t.Helper()
	resp, got := mustDo(t, http.DefaultClient, http.MethodPost, "http://"+e.s.Addr("inbound")+path, "application/json", body, hdr...)
	return resp.StatusCode, got
}

func (e *inboundEnv) appWrite(t *testing.T, id, body string) {
	t.Helper()
	resp, _ := mustDo(t, e.c, http.MethodPatch, e.up.URL+"/v1/contacts/"+id, "application/json", body)
	if resp.StatusCode != 200 {
		t.Fatalf("app write: %d", resp.StatusCode)
	}
}

func (e *inboundEnv) lastDecision(t *testing.T) (layer, reason, action string) {
	t.Helper()
	ds := e.s.Ring.Last(1)
	if len(ds) == 0 {
		t.Fatal("no decision recorded")
	}
	return ds[0].Layer, ds[0].Reason.String(), ds[0].Action.String()
}

func TestInboundEachLayerDropsEchoAndForwardsGenuine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		setup      func(t *testing.T, e *inboundEnv)
		echo       string
		echoHdr    []string
		echoLayer  string
		genuine    string
		genuineHdr []string
	}{
		{
			name:      "actor",
			echo:      `{"id":"a1","object":"contacts","actor":"u_integration","record":{"id":"r1","name":"X"}}`,
			echoLayer: "actor",
			genuine:   `{"id":"a2","object":"contacts","actor":"u_human","record":{"id":"r1","name":"X"}}`,
		},
		{
			name:      "marker header",
			echo:      `{"id":"m1","object":"contacts","record":{"id":"r2","name":"X"}}`,
			echoHdr:   []string{"X-Change-Agent", "loopguard"},
			echoLayer: "marker",
			genuine:   `{"id":"m2","object":"contacts","record":{"id":"r2","name":"X"}}`, genuineHdr: []string{"X-Change-Agent", "someone-else"},
		},
		{
			name:      "marker field",
			echo:      `{"id":"m3","object":"contacts","change_agent":"loopguard","record":{"id":"r3","name":"X"}}`,
			echoLayer: "marker",
			genuine:   `{"id":"m4","object":"contacts","change_agent":"ui","record":{"id":"r3","name":"X"}}`,
		},
		{
			name: "sentinel",
			setup: func(t *testing.T, e *inboundEnv) {
				// The sentinel layer runs before the fingerprint layer.
				e.appWrite(t, "r4", `{"name":"Ada","email":"ada@x.io"}`)
			},
			echo:      "crm:r4",
			echoLayer: "sentinel",
			genuine:   "human:r4:email:ada@new.io",
		},
		{
			name:      "fingerprint",
			setup:     func(t *testing.T, e *inboundEnv) { e.appWrite(t, "r5", `{"name":"Bo","email":"bo@x.io"}`) },
			echo:      `{"id":"f1","object":"contacts","record":{"id":"r5","name":"Bo","email":"bo@x.io"}}`,
			echoLayer: "fingerprint",
			genuine:   `{"id":"f2","object":"contacts","record":{"id":"r5","name":"Bo","email":"bo@y.io"}}`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newInboundEnv(t, false)
			if c.setup != nil {
				c.setup(t, e)
			}
			body := func(spec string) string {
				if id, ok := strings.CutPrefix(spec, "crm:"); ok {
					return e.crm.payload("evt-echo", "", id)
				}
				if rest, ok := strings.CutPrefix(spec, "human:"); ok {
					p := strings.SplitN(rest, ":", 3)
					e.crm.humanEdit(p[0], p[1], p[2])
					return e.crm.payload("evt-human", "", p[0])
				}
				return spec
			}
			status, _ := e.deliver(t, "/webhooks/generic", body(c.echo), c.echoHdr...)
			if status != 200 {
				t.Fatalf("echo delivery: provider got %d, want 200", status)
			}
			if n := len(e.app.all()); n != 0 {
				t.Fatalf("app received the echo (%d deliveries)", n)
			}
			if layer, _, action := e.lastDecision(t); layer != c.echoLayer || action != "drop" {
				t.Fatalf("echo decided by %s (%s), want drop by %s", layer, action, c.echoLayer)
			}
			g := body(c.genuine)
			status, _ = e.deliver(t, "/webhooks/generic", g, c.genuineHdr...)
			if status != 200 || len(e.app.all()) != 1 {
				t.Fatalf("genuine change: status %d, app deliveries %d; want 200 and 1", status, len(e.app.all()))
			}
			if string(e.app.last(t).Body) != g {
				t.Errorf("genuine delivery not byte-for-byte:\n got %s\nwant %s", e.app.last(t).Body, g)
			}
		})
	}
}

func TestInboundFullLoopAndRedelivery(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, false)
	// The app writes through the outbound proxy; the CRM fires a webhook
	// carrying the record it now holds (no marker, no actor).
	e.appWrite(t, "L1", `{"name":"Ada","email":"ada@x.io"}`)
	if st, _ := e.deliver(t, "/webhooks/generic", e.crm.payload("e1", "", "L1")); st != 200 {
		t.Fatalf("echo: %d", st)
	}
	if n := len(e.app.all()); n != 0 {
		t.Fatalf("app received its own echo")
	}
	// A human edit reaches the app exactly once; its redelivery is dropped.
	e.crm.humanEdit("L1", "name", "Ada Lovelace")
	human := e.crm.payload("e2", "u_human", "L1")
	e.deliver(t, "/webhooks/generic", human)
	e.deliver(t, "/webhooks/generic", human)
	if n := len(e.app.all()); n != 1 {
		t.Fatalf("app deliveries = %d, want exactly 1", n)
	}
	if layer, reason, _ := e.lastDecision(t); layer != "dedup" || reason != "redelivery" {
		t.Errorf("redelivery decided by %s/%s", layer, reason)
	}
	// The app applies it and (naively) writes it back: counted as redundant.
	e.appWrite(t, "L1", `{"name":"Ada Lovelace","email":"ada@x.io"}`)
	if n := testutil.ToFloat64(e.s.Metrics.RedundantWrites.WithLabelValues("crm")); n != 1 {
		t.Errorf("redundant writes = %v, want 1", n)
	}
	// Its echo is dropped again.
	e.deliver(t, "/webhooks/generic", e.crm.payload("e3", "", "L1"))
	if n := len(e.app.all()); n != 1 {
		t.Fatalf("write-back echo reached the app")
	}
}

func TestInboundRevertABA(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, false)
	e.appWrite(t, "R", `{"name":"A","email":"a@x.io"}`) // we write A
	e.deliver(t, "/webhooks/generic", e.crm.payload("v1", "", "R"))
	if len(e.app.all()) != 0 {
		t.Fatal("echo of A delivered")
	}
	e.crm.humanEdit("R", "name", "B") // human sets B
	e.deliver(t, "/webhooks/generic", e.crm.payload("v2", "u_human", "R"))
	e.crm.humanEdit("R", "name", "A") // human sets A again
	e.deliver(t, "/webhooks/generic", e.crm.payload("v3", "u_human", "R"))
	if n := len(e.app.all()); n != 2 {
		t.Fatalf("app deliveries = %d, want 2 (B and the revert to A)", n)
	}
	var sentinel, fp bool
	for _, d := range e.s.Ring.Last(0) {
		if d.EventID == "v3" && d.Action.String() == "forward" {
			sentinel = true
			fp = d.Layer == "fingerprint" && d.Reason.String() == "new_value"
		}
	}
	if !sentinel || !fp {
		t.Errorf("revert not forwarded by the fingerprint layer as a new value: %+v", e.s.Ring.Last(1))
	}
}

func TestInboundTwoWritesInFlight(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, false)
	e.appWrite(t, "W", `{"name":"one","email":"w@x.io"}`)
	first := e.crm.payload("w1", "", "W")
	e.appWrite(t, "W", `{"name":"two","email":"w@x.io"}`)
	second := e.crm.payload("w2", "", "W")
	e.deliver(t, "/webhooks/generic", first)
	e.deliver(t, "/webhooks/generic", second)
	if n := len(e.app.all()); n != 0 {
		t.Fatalf("echoes of two in-flight writes reached the app: %d", n)
	}
}

func TestInboundBatch(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, false)
	// Our write of contact 7, tagged and recorded as the outbound proxy
	// does after the upstream's 2xx; its sentinel comes back as a
	// property change.
	p, _ := e.s.Engine.Provider("hub")
	route, ps, ok := p.MatchWrite("PATCH", "/v1/contacts/7")
	if !ok {
		t.Fatal("hub: no write route")
	}
	w := p.Tag(context.Background(), route, &ps, "a", http.Header{"Content-Type": {"application/json"}}, []byte(`{"email":"a@x.io"}`), "")
	must(t, e.s.Engine.RecordWrite(context.Background(), w, nil))
	ourSentinel := gjson.GetBytes(w.Body, "loopguard_sync").String()
	ev := func(id int, prop, val, source string) string {
		return fmt.Sprintf(`{"eventId":%d,"subscriptionId":1,"objectId":7,"subscriptionType":"contact.propertyChange","propertyName":%q,"propertyValue":%q,"sourceId":%q}`, id, prop, val, source)
	}
	echo := ev(1, "email", "a@x.io", "")
	sentinel := ev(2, "loopguard_sync", ourSentinel, "")
	human := ev(3, "name", "Human", "userId:9")
	mixed := "[" + echo + ", " + human + "," + sentinel + "]"
	if st, _ := e.deliver(t, "/webhooks/hub", mixed); st != 200 {
		t.Fatalf("mixed batch status %d", st)
	}
	if got := string(e.app.last(t).Body); got != "["+human+"]" {
		t.Fatalf("rewritten batch = %s, want only the human event's bytes", got)
	}
	before := len(e.app.all())
	if st, body := e.deliver(t, "/webhooks/hub", "["+echo+","+sentinel+"]"); st != 200 || !strings.Contains(body, "dropped") {
		t.Fatalf("all-echo batch: %d %s", st, body)
	}
	if len(e.app.all()) != before {
		t.Fatal("all-echo batch reached the app")
	}
	clean := "[" + ev(4, "name", "Other", "userId:9") + "]"
	e.deliver(t, "/webhooks/hub", clean)
	if got := string(e.app.last(t).Body); got != clean {
		t.Fatalf("no-echo batch not forwarded byte-for-byte: %s", got)
	}
}

func githubSig(body string) string {
	m := hmac.New(sha256.New, []byte("s3cret"))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestInboundSignature(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, false)
	echo := `{"id":"s1","object":"contacts","actor":"u_integration","record":{"id":"s","name":"X"}}`
	e.deliver(t, "/webhooks/signed", echo, "X-Hub-Signature-256", githubSig(echo))
	if len(e.app.all()) != 0 {
		t.Fatal("a verified echo reached the app")
	}
	// Tampered: the same echo with a signature for other bytes is forwarded
	// untouched (the app's own verification decides) and counted.
	tampered := strings.Replace(echo, `"s1"`, `"s2"`, 1)
	e.deliver(t, "/webhooks/signed", tampered, "X-Hub-Signature-256", githubSig(echo))
	if got := e.app.all(); len(got) != 1 || string(got[0].Body) != tampered || got[0].Header.Get("X-Hub-Signature-256") != githubSig(echo) {
		t.Fatalf("tampered delivery not forwarded untouched: %+v", got)
	}
	if n := testutil.ToFloat64(e.s.Metrics.SignatureFailures.WithLabelValues("signed", "mismatch")); n != 1 {
		t.Errorf("signature failures = %v", n)
	}
	if layer, reason, _ := e.lastDecision(t); layer != "signature" || reason != "unverified_signature" {
		t.Errorf("decision %s/%s", layer, reason)
	}
}

func TestInboundMalformedForwardedUntouched(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, false)
	for _, body := range []string{`{"id":`, `[1,2]`, "not json"} {
		e.deliver(t, "/webhooks/generic", body)
		if got := string(e.app.last(t).Body); got != body {
			t.Fatalf("malformed %q forwarded as %q", body, got)
		}
	}
	if n := testutil.ToFloat64(e.s.Metrics.Deliveries.WithLabelValues("crm", "malformed")); n != 3 {
		t.Errorf("malformed deliveries = %v", n)
	}
}

func TestInboundAppDownIs502(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, false)
	// Point a fresh sidecar at a closed port.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	raw, _ := os.ReadFile("testdata/inbound.yaml")
	s := startSidecar(t, string(raw), map[string]string{"app": deadURL, "upstream_ca": writePEM(t, e.up), "upstream_host": hostOf(e.up), "observe": "false"})
	resp, _ := mustDo(t, http.DefaultClient, http.MethodPost, "http://"+s.Addr("inbound")+"/webhooks/generic", "application/json",
		`{"id":"d1","object":"contacts","actor":"u_human","record":{"id":"x","name":"Y"}}`)
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("app down: provider got %d, want 502", resp.StatusCode)
	}
}

func TestInboundObserveMode(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, true)
	echo := `{"id":"o1","object":"contacts","actor":"u_integration","record":{"id":"o","name":"X"}}`
	e.deliver(t, "/webhooks/generic", echo)
	if got := e.app.all(); len(got) != 1 || string(got[0].Body) != echo {
		t.Fatal("observe mode must forward everything")
	}
	ds := e.s.Ring.Last(1)
	if !ds[0].Observed || ds[0].Layer != "actor" {
		t.Fatalf("would-be drop not reported: %+v", ds[0])
	}
	resp, body := mustDo(t, http.DefaultClient, http.MethodGet, "http://"+e.s.Addr("admin")+"/decisions", "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"observed": true`) {
		t.Fatalf("/decisions = %d %s", resp.StatusCode, body)
	}
	if n := testutil.ToFloat64(e.s.Metrics.Decisions.WithLabelValues("crm", "webhook", "actor", "integration_user", "would_drop")); n != 1 {
		t.Errorf("would_drop metric = %v", n)
	}
}

func TestInboundOtherPathsStream(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, false)
	resp, _ := mustDo(t, http.DefaultClient, http.MethodGet, "http://"+e.s.Addr("inbound")+"/health?x=1", "", "")
	if resp.StatusCode != 200 || e.app.last(t).Path != "/health?x=1" {
		t.Fatalf("non-webhook request not proxied: %d %+v", resp.StatusCode, e.app.last(t))
	}
}

func TestInboundOversizeForwardedUntouched(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, false)
	big := `{"id":"big","object":"contacts","actor":"u_integration","record":{"id":"b","name":"` + strings.Repeat("x", 70<<10) + `"}}`
	e.deliver(t, "/webhooks/generic", big)
	if got := e.app.last(t).Body; string(got) != big {
		t.Fatalf("oversize delivery changed or dropped: %d bytes, want %d", len(got), len(big))
	}
	if n := testutil.ToFloat64(e.s.Metrics.Deliveries.WithLabelValues("crm", "oversize")); n != 1 {
		t.Errorf("oversize deliveries = %v", n)
	}
}

func TestInboundAppTimeoutIs504(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, false)
	e.app.setRespond(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
	})
	st, _ := e.deliver(t, "/webhooks/generic", `{"id":"slow","object":"contacts","actor":"u_human","record":{"id":"s","name":"Y"}}`)
	if st != http.StatusGatewayTimeout {
		t.Fatalf("slow app: provider got %d, want 504", st)
	}
	// Not accepted, so a redelivery is not a duplicate.
	e.app.setRespond(nil)
	e.deliver(t, "/webhooks/generic", `{"id":"slow","object":"contacts","actor":"u_human","record":{"id":"s","name":"Y"}}`)
	if layer, _, action := e.lastDecision(t); action != "forward" || layer == "dedup" {
		t.Fatalf("redelivery after a 504 was %s by %s", action, layer)
	}
}
