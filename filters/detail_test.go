package filters

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/loopguard/loopguard/configs"
)

// TestDetail: an event spelled out — actor, markers, tracked values raw —
// and a value spec that reads an object named as a problem with a fix.
func TestDetail(t *testing.T) {
	l, err := configs.LoadBytes("x.yaml", []byte("providers: [{use: generic}]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessFor(t, l.Providers)
	r, _ := h.p.MatchWebhook(http.MethodPost, "/webhooks/generic")
	body := []byte(`{"id": "e1", "object": "contacts", "actor": {"id": "u_42", "name": "Ada"}, "change_agent": "loopguard",
 "record": {"id": "c1", "name": "Ada", "email": "ada@example.com", "phone": null}}`)
	evs, err := h.p.Extract(r, body, http.Header{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := h.p.Detail(&evs[0], body, http.Header{})
	if d.Route != "POST /webhooks/generic" {
		t.Fatalf("route %q", d.Route)
	}
	want := []FieldValue{{"email", `"ada@example.com"`}, {"name", `"Ada"`}, {"phone", "null"}}
	if !slices.Equal(d.Values, want) {
		t.Fatalf("values = %v, want %v", d.Values, want)
	}
	if len(d.Marks) != 2 || d.Marks[1].From != "change_agent" || d.Marks[1].Value != "loopguard" || d.Marks[1].Want != "loopguard" {
		t.Fatalf("marks = %+v", d.Marks)
	}
	if len(d.Problems) != 1 || !strings.Contains(d.Problems[0], `actor: "actor" reads an object`) || !strings.Contains(d.Problems[0], "actor.id") {
		t.Fatalf("problems = %q", d.Problems)
	}
}

// TestHeaderSpecs: the headers a route group reads, split into those its
// when conditions read (they pick the route) and the rest.
func TestHeaderSpecs(t *testing.T) {
	l, err := configs.LoadBytes("x.yaml", []byte("providers: [{use: github, signature: {secret: s3cret}}]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessFor(t, l.Providers)
	r, _ := h.p.MatchWebhook(http.MethodPost, "/webhooks/github")
	when, ids := r.HeaderSpecs()
	if !slices.Equal(when, []string{"X-Github-Event"}) || !slices.Equal(ids, []string{"X-Github-Delivery"}) {
		t.Fatalf("when %v, ids %v", when, ids)
	}
}

// TestDetailFormDelivery: a form-encoded GitHub delivery is explained from
// its decoded payload field.
func TestDetailFormDelivery(t *testing.T) {
	l, err := configs.LoadBytes("x.yaml", []byte("providers: [{use: github, signature: {secret: s3cret}}]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessFor(t, l.Providers)
	r, _ := h.p.MatchWebhook(http.MethodPost, "/webhooks/github")
	js := `{"action":"edited","issue":{"number":1,"title":"T","state":"open","body":"b"},"repository":{"full_name":"o/r","owner":{"login":"o"}},"sender":{"login":"octo"}}`
	body := []byte("payload=" + url.QueryEscape(js))
	hdr := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "X-Github-Event": {"issues"}, "X-Github-Delivery": {"d1"}}
	evs, err := h.p.Extract(r, body, hdr, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := h.p.Detail(&evs[0], body, hdr)
	if d.Actor != "octo" || len(d.Values) != 3 || d.Values[2] != (FieldValue{"title", `"T"`}) {
		t.Fatalf("detail = %+v", d)
	}
}
