package proxy

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tidwall/gjson"
)

func crmEvent(id string, i int) string {
	return fmt.Sprintf(`{"id":%q,"object":"contacts","actor":"u_human","record":{"id":"r%d","name":"n%d"}}`, id, i, i)
}

// refuse makes the app answer status to deliveries whose id is in ids
// (and 200 to the rest).
func refuse(status int, ids ...string) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, _ *http.Request, body []byte) {
		if slices.Contains(ids, gjson.GetBytes(body, "id").String()) {
			http.Error(w, `{"error":"no thanks"}`, status)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}
}

// okIDs lists the ids the app accepted, in order (2xx: every id but the
// refused ones).
func okIDs(e *holdEnv, refused ...string) []string {
	var out []string
	for _, id := range e.accepted("id", nil) {
		if !slices.Contains(refused, id) {
			out = append(out, id)
		}
	}
	return out
}

// TestRefusedHeldDeliveryIsDeadLettered is finding 2 of issue 14: the app
// answers 400 to one held delivery; the 20 behind it are delivered in
// order and the one is in /spool/dead, with the app's answer; retry puts
// it back at the end of its queue and delete discards it — on the bbolt
// spool and on Redis.
func TestRefusedHeldDeliveryIsDeadLettered(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"bbolt", "redis"} {
		t.Run(store, func(t *testing.T) {
			e := newHoldEnv(t, holdVars{store: store, maxItems: 100, unverifiedItems: 10})
			var want []string
			for i := range 21 {
				id := fmt.Sprintf("d%02d", i)
				if resp, got := e.crm(t, crmEvent(id, i)); resp.StatusCode != http.StatusOK || !strings.Contains(got, "held") {
					t.Fatalf("%s while the app is down: %d %s", id, resp.StatusCode, got)
				}
				if i > 0 {
					want = append(want, id)
				}
			}
			e.app.rec.setRespond(refuse(http.StatusBadRequest, "d00"))
			e.app.start(t)
			waitFor(t, "the 20 behind the refused one delivered", func() bool { return slices.Equal(okIDs(e, "d00"), want) })
			waitFor(t, "spool drained", func() bool { return e.s.spool.Len() == 0 })

			code, list := e.admin(t, http.MethodGet, "/spool/dead")
			items := gjson.Get(list, "items").Array()
			if code != http.StatusOK || len(items) != 1 {
				t.Fatalf("/spool/dead: %d %s", code, list)
			}
			d := items[0]
			for k, v := range map[string]string{"queue": "app:crm///*", "provider": "crm", "reason": "refused", "last_status": "400",
				"attempts": "1", "verified": "true", "verification": "unsigned"} {
				if got := d.Get(k).String(); got != v {
					t.Errorf("dead letter %s = %q, want %q", k, got, v)
				}
			}
			for _, k := range []string{"id", "received_at", "dead_at", "last_error", "size"} {
				if !d.Get(k).Exists() {
					t.Errorf("dead letter lacks %s: %s", k, d.Raw)
				}
			}
			id := d.Get("id").String()
			code, one := e.admin(t, http.MethodGet, "/spool/dead/"+id)
			// The last answer is the refusal (replays may have met the app
			// before it listened: no answer, an error).
			if code != http.StatusOK || gjson.Get(one, "body").String() != crmEvent("d00", 0) ||
				gjson.Get(one, "answers.@reverse.0.status").Int() != 400 ||
				!strings.Contains(gjson.Get(one, "answers.@reverse.0.body").String(), "no thanks") ||
				gjson.Get(one, "headers.Content-Type.0").String() != "application/json" {
				t.Fatalf("/spool/dead/%s: %d %s", id, code, one)
			}
			if n := testutil.ToFloat64(e.s.Metrics.DeadLettered.WithLabelValues("crm", "refused")); n != 1 {
				t.Errorf("loopguard_dead_lettered_total = %v", n)
			}
			if !strings.Contains(scrape(t, e), `loopguard_dead_letters{provider="crm"} 1`) {
				t.Error("loopguard_dead_letters gauge missing")
			}
			if n := len(e.logs.lines("moved to dead letters", `"id":`+id, `"reason":"refused"`)); n != 1 {
				t.Errorf("%d log lines for the dead letter, want 1", n)
			}

			// Retry: the app accepts it now; it goes to the end of its queue.
			e.app.rec.setRespond(nil)
			if code, body := e.admin(t, http.MethodPost, "/spool/dead/"+id+"/retry"); code != http.StatusAccepted ||
				gjson.Get(body, "queue").String() != "app:crm///*" {
				t.Fatalf("retry: %d %s", code, body)
			}
			waitFor(t, "the retried delivery accepted", func() bool { return slices.Contains(okIDs(e), "d00") && e.s.spool.Len() == 0 })
			if _, list := e.admin(t, http.MethodGet, "/spool/dead"); len(gjson.Get(list, "items").Array()) != 0 {
				t.Fatalf("dead letters after retry: %s", list)
			}

			// Delete: another refused delivery, discarded by the operator.
			e.app.stop()
			e.crm(t, crmEvent("d99", 99))
			e.app.rec.setRespond(refuse(http.StatusUnprocessableEntity, "d99"))
			e.app.start(t)
			waitFor(t, "d99 dead-lettered", func() bool {
				_, list = e.admin(t, http.MethodGet, "/spool/dead")
				return len(gjson.Get(list, "items").Array()) == 1
			})
			id = gjson.Get(list, "items.0.id").String()
			if code, _ := e.admin(t, http.MethodDelete, "/spool/dead/"+id); code != http.StatusNoContent {
				t.Fatalf("delete: %d", code)
			}
			for path, want := range map[string]int{"/spool/dead/" + id: 404, "/spool/dead/nope": 400} {
				if code, _ := e.admin(t, http.MethodGet, path); code != want {
					t.Errorf("GET %s: %d, want %d", path, code, want)
				}
			}
			if code, _ := e.admin(t, http.MethodPost, "/spool/dead/"+id+"/retry"); code != http.StatusNotFound {
				t.Errorf("retry of a deleted dead letter: %d", code)
			}
			if !strings.Contains(scrape(t, e), `loopguard_dead_letters{provider="crm"} 0`) {
				t.Error("loopguard_dead_letters not back to 0")
			}
		})
	}
}

// TestOneFailingDeliveryNeverBlocksTheRest is finding 2's second case: with
// the app up and no outage it answers 500 to one delivery of 50 (every
// time); the other 49 all reach it, in order, and the one ends in the dead
// letters after dead_letter.max_attempts (2 here).
func TestOneFailingDeliveryNeverBlocksTheRest(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"bbolt", "redis"} {
		t.Run(store, func(t *testing.T) {
			e := newHoldEnv(t, holdVars{store: store, maxItems: 100, unverifiedItems: 10})
			e.app.rec.setRespond(refuse(http.StatusInternalServerError, "p10"))
			e.app.start(t)
			var want []string
			for i := range 50 {
				id := fmt.Sprintf("p%02d", i)
				if resp, got := e.crm(t, crmEvent(id, i)); resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: %d %s", id, resp.StatusCode, got)
				}
				if i != 10 {
					want = append(want, id)
				}
			}
			waitFor(t, "the other 49 delivered in order", func() bool { return slices.Equal(okIDs(e, "p10"), want) })
			waitFor(t, "nothing left waiting", func() bool { return e.s.spool.Len() == 0 })
			_, list := e.admin(t, http.MethodGet, "/spool/dead")
			if d := gjson.Get(list, "items.0"); len(gjson.Get(list, "items").Array()) != 1 || d.Get("reason").String() != "max_attempts" ||
				d.Get("attempts").Int() != 2 || d.Get("last_status").Int() != 500 {
				t.Fatalf("dead letters: %s", list)
			}
			_, sp := e.admin(t, http.MethodGet, "/spool")
			if gjson.Get(sp, "dead_items").Int() != 1 || gjson.Get(sp, "items").Int() != 0 {
				t.Fatalf("/spool: %s", sp)
			}
		})
	}
}

// scrape returns the admin /metrics text.
func scrape(t *testing.T, e *holdEnv) string {
	t.Helper()
	code, body := e.admin(t, http.MethodGet, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	return body
}
