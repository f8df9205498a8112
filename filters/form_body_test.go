package filters

import (
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/ledger"
)

// githubFixtures holds real public GitHub payloads (../shared/fixtures).
const githubFixtures = "../../shared/fixtures/payloads/github"

// TestGitHubFormPayload: GitHub's form-encoded option puts the JSON in the
// "payload" field; the github profile's body: form_field:payload reads the
// same events as from the JSON delivery, and such a delivery is never
// rewritten.
func TestGitHubFormPayload(t *testing.T) {
	l, err := configs.LoadBytes("gh.yaml", []byte("providers: [{use: github, signature: {secret: s3cret}}]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessFor(t, l.Providers)
	route, ok := h.p.MatchWebhook(http.MethodPost, "/webhooks/github")
	if !ok {
		t.Fatal("no route")
	}
	files, _ := filepath.Glob(filepath.Join(githubFixtures, "*.json"))
	if len(files) == 0 {
		t.Skipf("no GitHub fixtures in %s", githubFixtures)
	}
	events := map[string]string{"push.json": "push", "issues.edited.json": "issues", "issue_comment.created.json": "issue_comment",
		"pull_request.opened.json": "pull_request", "ping.json": "ping", "issues.opened.json": "issues"}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			js, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			name := events[filepath.Base(f)]
			if name == "" {
				name = "check_suite"
			}
			hdr := func(ct string) http.Header {
				return http.Header{"Content-Type": {ct}, "X-Github-Event": {name}, "X-Github-Delivery": {"d-1"}}
			}
			want, err := h.p.Extract(route, js, hdr("application/json"), nil)
			if err != nil || len(want) == 0 {
				t.Fatalf("JSON delivery: %v", err)
			}
			form := []byte(url.Values{"payload": {string(js)}}.Encode())
			got, err := h.p.Extract(route, form, hdr("application/x-www-form-urlencoded"), nil)
			if err != nil || len(got) != len(want) {
				t.Fatalf("form delivery: %d events, %v", len(got), err)
			}
			for i := range got {
				if !got[i].inForm || want[i].inForm {
					t.Fatal("inForm not set on form events only")
				}
				g, w := got[i], want[i]
				g.inForm, g.route, w.route = false, nil, nil
				if !reflect.DeepEqual(g, w) {
					t.Fatalf("event %d differs:\n form %+v\n json %+v", i, g, w)
				}
			}
		})
	}
	t.Run("form without payload is malformed", func(t *testing.T) {
		_, err := h.p.Extract(route, []byte("other=1"), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, nil)
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("form is never rewritten", func(t *testing.T) {
		evs := []Event{{inForm: true}, {inForm: true}}
		if _, err := h.p.Rewrite(&WebhookRoute{batch: "@this"}, []byte("payload=%5B%5D"), evs, []bool{true, false}); err == nil {
			t.Fatal("rewrote a form delivery")
		}
	})
}

// FuzzFormPayload: any form body either yields events or ErrMalformed,
// never a panic.
func FuzzFormPayload(f *testing.F) {
	l, err := configs.LoadBytes("gh.yaml", []byte("providers: [{use: github, signature: {secret: s3cret}}]\n"), nil)
	if err != nil {
		f.Fatal(err)
	}
	store, err := ledger.NewMemory(ledger.Options{Shards: 16, MaxSizeMB: 16})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = store.Close() })
	p, err := NewProvider(l.Providers[0], testAgent, Deps{Store: store, Now: time.Now})
	if err != nil {
		f.Fatal(err)
	}
	route, _ := p.MatchWebhook(http.MethodPost, "/webhooks/github")
	hdr := http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}, "X-Github-Event": {"issues"}}
	f.Add([]byte("payload=%7B%22issue%22%3A%7B%22number%22%3A1%7D%7D"))
	f.Add([]byte("payload=%zz"))
	f.Add([]byte("payload=1&payload=2"))
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := p.Extract(route, b, hdr, nil)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v is not ErrMalformed", err)
		}
		if err == nil && len(evs) == 0 {
			t.Fatal("no events and no error")
		}
	})
}
