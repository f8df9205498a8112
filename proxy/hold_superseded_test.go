package proxy

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tidwall/gjson"
)

// TestHeldStateSupersededNotReplayed: a record's event is held while the
// record is quarantined; a newer whole state of the record is then decided
// without waiting (here our own echo, by its actor). Replaying the older,
// held state after the release would hand the app a state the record has
// left (and its write-back would start the loop again: simulator seed
// 2203), so it is not replayed — logged and counted — and the spool
// drains. Without the newer state it is replayed (the test above).
func TestHeldStateSupersededNotReplayed(t *testing.T) {
	t.Parallel()
	e := newGuardEnv(t, "hold", 0, "")
	local := "a"
	for i := 0; i < 50; i++ {
		resp := e.write(t, "r1", local)
		if resp.StatusCode == http.StatusTooManyRequests {
			break
		}
		before := len(e.app.all())
		if status, _ := e.deliver(t, e.crm.webhook(fmt.Sprintf("ev%d", i), "r1")); status != 200 {
			t.Fatalf("delivery %d: %d", i, status)
		}
		got := e.app.all()
		if len(got) == before {
			continue
		}
		local = gjson.GetBytes(got[len(got)-1].Body, "record.email").String()
	}
	if _, sp := e.admin(t, http.MethodGet, "/spool"); gjson.Get(sp, "items").Int() != 1 {
		t.Fatalf("want one held delivery: %s", sp)
	}
	n := len(e.app.all())
	// A newer state of r1, our own echo: dropped, not held.
	newer := `{"id":"evN","object":"contacts","actor":"u_integration","record":{"id":"r1","name":"Z","email":"Z!"}}`
	if status, _ := e.deliver(t, newer); status != 200 || len(e.app.all()) != n {
		t.Fatalf("newer echo: status %d, app deliveries %d (want %d)", status, len(e.app.all()), n)
	}
	_, list := e.admin(t, http.MethodGet, "/quarantine")
	if code, body := e.admin(t, http.MethodPost, gjson.Get(list, "quarantined.0.release").String()); code != 200 {
		t.Fatalf("release: %d %s", code, body)
	}
	waitFor(t, "spool drained", func() bool { return e.s.spool.Len() == 0 })
	if len(e.app.all()) != n {
		t.Fatalf("the superseded held delivery reached the app: %s", e.app.all()[n].Body)
	}
	if c := testutil.ToFloat64(e.s.Metrics.Decisions.WithLabelValues("crm", "webhook", "loop", "superseded", "drop")); c != 1 {
		t.Fatalf("superseded decisions = %v", c)
	}
}
