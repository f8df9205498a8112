package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tidwall/gjson"
)

// noteProfile is a made-up API that exists only in a YAML file: notes are
// written with POST /api/v2/notes/{id}:update wrapped in {"note": …}, the
// change agent travels as X-Notes-Client, and webhooks come in batches
// under "items" with the client echoed as "via".
const noteProfile = `name: notes
description: A made-up note API, loaded from a file.
hosts: ["{{host}}"]
account: {from: static, value: team-1}
tracked_fields: [text, pinned]
tagging:
  headers: {X-Notes-Client: "{agent}"}
writes:
  - path: /api/v2/notes/{id}
    methods: [PATCH]
    object: note
    fields: note
webhooks:
  - path: /hooks/notes
    batch: items
    event_id: [uid]
    record_id: note.id
    object_type: =note
    actor: author
    record: note
    markers:
      - from: via
handshakes:
  - header: X-Hook-Secret
hold_policy: hold
`

// TestProfileFromFileEndToEnd: a new API works with YAML only — its write
// is tagged and recorded through the MITM proxy, its echo is dropped, a
// genuine change in the same batch reaches the app, and its handshake
// passes straight through.
func TestProfileFromFileEndToEnd(t *testing.T) {
	t.Parallel()
	api := &recorder{}
	up := httptest.NewTLSServer(api)
	t.Cleanup(up.Close)
	app := &recorder{}
	appSrv := httptest.NewServer(app)
	t.Cleanup(appSrv.Close)
	dir := t.TempDir()
	profile := filepath.Join(dir, "notes.yaml")
	must(t, os.WriteFile(profile, []byte(strings.ReplaceAll(noteProfile, "{{host}}", hostOf(up))), 0o600))
	cfg := fmt.Sprintf("app_url: %s\noutbound: {upstream_ca_file: %q}\nprovider_files: [%q]\nproviders:\n  - use: notes\n",
		appSrv.URL, writePEM(t, up), profile)
	s := startSidecar(t, cfg, nil)
	c := proxiedClient(t, s)

	resp, _ := mustDo(t, c, http.MethodPatch, up.URL+"/api/v2/notes/n-1", "application/json", `{"note":{"text":"hello","pinned":true}}`)
	if resp.StatusCode != 200 {
		t.Fatalf("write: %d", resp.StatusCode)
	}
	got := api.last(t)
	if got.Header.Get("X-Notes-Client") != "loopguard" {
		t.Fatalf("write not tagged: %v", got.Header)
	}
	if n := testutil.ToFloat64(s.Metrics.WritesRecorded.WithLabelValues("notes")); n != 1 {
		t.Fatalf("writes recorded = %v", n)
	}
	batch := `{"items":[` +
		`{"uid":"u1","via":"loopguard","author":"svc","note":{"id":"n-1","text":"hello","pinned":true}},` +
		`{"uid":"u2","author":"ana","note":{"id":"n-2","text":"from a person","pinned":false}}]}`
	resp, _ = mustDo(t, http.DefaultClient, http.MethodPost, "http://"+s.Addr("inbound")+"/hooks/notes", "application/json", batch)
	if resp.StatusCode != 200 {
		t.Fatalf("delivery: %d", resp.StatusCode)
	}
	delivered := app.last(t)
	items := gjson.GetBytes(delivered.Body, "items").Array()
	if len(items) != 1 || items[0].Get("uid").String() != "u2" {
		t.Fatalf("app got %s; want only the genuine change", delivered.Body)
	}
	ds := s.Ring.Last(2)
	if ds[1].Layer != "marker" || ds[1].Action.String() != "drop" || ds[0].Action.String() != "forward" {
		t.Fatalf("decisions: %+v", ds)
	}
	// The echo without the marker is still ours by fingerprint.
	resp, _ = mustDo(t, http.DefaultClient, http.MethodPost, "http://"+s.Addr("inbound")+"/hooks/notes", "application/json",
		`{"items":[{"uid":"u3","author":"svc","note":{"id":"n-1","text":"hello","pinned":true}}]}`)
	if resp.StatusCode != 200 || len(app.all()) != 1 || s.Ring.Last(1)[0].Layer != "fingerprint" {
		t.Fatalf("unmarked echo: %d, app saw %d deliveries, %+v", resp.StatusCode, len(app.all()), s.Ring.Last(1))
	}
	// A verification handshake passes straight to the app, untouched.
	resp, _ = mustDo(t, http.DefaultClient, http.MethodPost, "http://"+s.Addr("inbound")+"/hooks/notes", "application/json", `{}`,
		"X-Hook-Secret", "abc")
	if resp.StatusCode != 200 || len(app.all()) != 2 || app.last(t).Header.Get("X-Hook-Secret") != "abc" {
		t.Fatalf("handshake: %d, app saw %d", resp.StatusCode, len(app.all()))
	}
}
