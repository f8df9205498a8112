package proxy

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"testing"

	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/spool"
	"github.com/tidwall/gjson"
)

// TestDeadLetterDetailRedactsAndEncodes: GET /spool/dead/{id} never shows
// a secret header, and gives a body that is not UTF-8 as body_base64.
func TestDeadLetterDetailRedactsAndEncodes(t *testing.T) {
	t.Parallel()
	e := newHoldEnv(t, holdVars{maxItems: 10, unverifiedItems: 10})
	body := []byte("\xff\xfe binary")
	hdr := http.Header{
		"Authorization": {"Bearer s3"}, "Cookie": {"c=1"}, "X-Hub-Signature-256": {"sha256=ab"}, "X-Hook-Secret": {"h"},
		"X-Api-Token": {"t"}, "Content-Type": {"application/octet-stream"}, "X-Github-Delivery": {"d-1"},
	}
	seq, err := e.s.spool.Append(spool.Item{Queue: filters.AppQueue("github"), Provider: "github", Reason: "app_unavailable",
		Method: http.MethodPost, Path: "/webhooks/github", Header: hdr, Body: body, Verification: spool.Verified})
	must(t, err)
	must(t, e.s.spool.Bury(filters.AppQueue("github"), seq, spool.DeadInfo{Reason: spool.DeadRefused, Attempts: 1, LastStatus: 400,
		Answers: []spool.Answer{{Status: 400, Body: []byte("\xff")}, {Error: "connection refused"}}}))
	code, got := e.admin(t, http.MethodGet, fmt.Sprintf("/spool/dead/%d", seq))
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, got)
	}
	for _, h := range []string{"Authorization", "Cookie", "X-Hub-Signature-256", "X-Hook-Secret", "X-Api-Token"} {
		if v := gjson.Get(got, "headers."+h+".0").String(); v != "[redacted]" {
			t.Errorf("header %s = %q", h, v)
		}
	}
	if v := gjson.Get(got, "headers.X-Github-Delivery.0").String(); v != "d-1" {
		t.Errorf("plain header lost: %q", v)
	}
	if gjson.Get(got, "body").Exists() || gjson.Get(got, "body_base64").String() != base64.StdEncoding.EncodeToString(body) {
		t.Errorf("binary body: %s", got)
	}
	a := gjson.Get(got, "answers").Array()
	if len(a) != 2 || a[0].Get("body_base64").String() != base64.StdEncoding.EncodeToString([]byte("\xff")) ||
		a[1].Get("error").String() != "connection refused" || !a[1].Get("body").Exists() {
		t.Errorf("answers: %s", gjson.Get(got, "answers").Raw)
	}
	if code, _ := e.admin(t, http.MethodGet, "/spool/dead?limit=0"); code != http.StatusBadRequest {
		t.Errorf("limit=0: %d", code)
	}
}
