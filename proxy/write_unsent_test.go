package proxy

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestUnlandedWriteForgetsAppValues: the app edits a record's name and its
// write does not land — loopguard's open breaker answers it, or the API
// answers 429. The app keeps its edit, so the ledger no longer claims the
// app holds the name it last received: a person's event carrying that name
// again is forwarded, not dropped as "the app already holds every value"
// (simulator seed 781).
func TestUnlandedWriteForgetsAppValues(t *testing.T) {
	t.Parallel()
	e := newGuardEnv(t, "hold", 0, "")
	person := func(id string) string {
		return fmt.Sprintf(`{"id":%q,"object":"contacts","actor":"u_human","record":{"id":"c1","name":"Grace","email":"g@example.com"}}`, id)
	}
	deliveries := func() int { return len(e.app.all()) }
	deliver := func(id string, want int, what string) {
		t.Helper()
		if st, _ := e.deliver(t, person(id)); st != http.StatusOK || deliveries() != want {
			t.Fatalf("%s: status %d, app deliveries %d, want %d", what, st, deliveries(), want)
		}
	}
	deliver("h1", 1, "a person's change")
	deliver("h2", 1, "the values the app holds (no news: dropped)")

	// Another record's write is refused by the API: the account's breaker
	// opens, and the app's edit of c1 is answered by loopguard.
	e.crm.setThrottle(true)
	if resp := e.write(t, "c2", "X"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("throttled write: %d", resp.StatusCode)
	}
	throttled := testutil.ToFloat64(e.s.Metrics.Throttled.WithLabelValues("crm"))
	if resp := e.write(t, "c1", "Ada"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("write while the breaker is open: %d", resp.StatusCode)
	}
	if n := testutil.ToFloat64(e.s.Metrics.Throttled.WithLabelValues("crm")); n != throttled+1 {
		t.Fatalf("the write was not answered by the breaker (throttled %v → %v)", throttled, n)
	}
	e.crm.setThrottle(false)
	e.advance(2 * time.Second) // past the cool-down: events are no longer held
	deliver("h3", 2, "after a write the breaker answered")

	// The API refuses the app's edit of c1 itself (the breaker's probe).
	e.crm.setThrottle(true)
	if resp := e.write(t, "c1", "Ada"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("throttled write: %d", resp.StatusCode)
	}
	e.crm.setThrottle(false)
	e.advance(2 * time.Second)
	deliver("h4", 3, "after a write the API refused")
}
