package proxy

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/clocktest"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// quotaAPI is a fake API whose remaining quota per credential drops with
// each call, reported in X-RateLimit-* headers (limit 10, reset in 1 s).
type quotaAPI struct {
	mu    sync.Mutex
	used  map[string]int
	calls int
}

func (q *quotaAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q.mu.Lock()
	q.calls++
	q.used[r.Header.Get("Authorization")]++
	remaining := 10 - q.used[r.Header.Get("Authorization")]
	q.mu.Unlock()
	w.Header().Set("X-RateLimit-Limit", "10")
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	w.Header().Set("X-RateLimit-Reset", "1")
	_, _ = w.Write([]byte(`{"ok":true}`))
}

func (q *quotaAPI) count() int { q.mu.Lock(); defer q.mu.Unlock(); return q.calls }

func (q *quotaAPI) reset() { q.mu.Lock(); q.used = map[string]int{}; q.mu.Unlock() }

func TestBreakerOpensAtThresholdPerAccount(t *testing.T) {
	t.Parallel()
	api := &quotaAPI{used: map[string]int{}}
	clk := clocktest.Frozen(time.Now())
	srv, s := outboundSidecar(t, api, WithClock(clk.Now))
	c := proxiedClient(t, s)
	write := func(token string) (*http.Response, string) {
		return mustDo(t, c, http.MethodPatch, srv.URL+"/v1/contacts/q1", "application/json", `{"name":"Q"}`, "Authorization", "Bearer "+token)
	}
	for i := 0; i < 9; i++ {
		if resp, _ := write("A"); resp.StatusCode != 200 {
			t.Fatalf("write %d: %d", i, resp.StatusCode)
		}
	}
	// 9 of 10 used: the breaker for account A is open.
	resp, body := write("A")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || resp.Header.Get("RateLimit") == "" ||
		!strings.Contains(body, "quota_threshold") {
		t.Fatalf("write while open: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	if api.count() != 9 {
		t.Fatalf("upstream saw %d calls; the throttled write must not reach it", api.count())
	}
	// Another account keeps working.
	if resp, _ := write("B"); resp.StatusCode != 200 || api.count() != 10 {
		t.Fatalf("other account: %d, upstream calls %d", resp.StatusCode, api.count())
	}
	// Reads pass while open (default).
	if resp, _ := mustDo(t, c, http.MethodGet, srv.URL+"/v1/contacts/q1", "", "", "Authorization", "Bearer A"); resp.StatusCode != 200 {
		t.Fatalf("read while open: %d", resp.StatusCode)
	}
	resp, list := mustDo(t, http.DefaultClient, http.MethodGet, "http://"+s.Addr("admin")+"/breakers", "", "")
	if resp.StatusCode != 200 || !strings.Contains(list, `"open"`) {
		t.Fatalf("/breakers: %s", list)
	}
	if n := testutil.ToFloat64(s.Metrics.Throttled.WithLabelValues("crm")); n != 1 {
		t.Errorf("throttled = %v", n)
	}
	// Until the reset time (1 s on the sidecar's clock) it stays open.
	api.reset()
	clk.Advance(900 * time.Millisecond)
	calls := api.count()
	if resp, _ := write("A"); resp.StatusCode != http.StatusTooManyRequests || api.count() != calls {
		t.Fatalf("write before the reset: %d, upstream calls %d, want %d", resp.StatusCode, api.count(), calls)
	}
	// After it the breaker is half-open; a probe closes it.
	clk.Advance(300 * time.Millisecond)
	for i := 0; i < 2; i++ {
		if resp, body := write("A"); resp.StatusCode != 200 {
			t.Fatalf("after reset, write %d: %d %s", i, resp.StatusCode, body)
		}
	}
}

func TestBreakerAdminReset(t *testing.T) {
	t.Parallel()
	api := &quotaAPI{used: map[string]int{"Bearer A": 9}}
	srv, s := outboundSidecar(t, api)
	c := proxiedClient(t, s)
	mustDo(t, c, http.MethodPatch, srv.URL+"/v1/contacts/q1", "application/json", `{"name":"Q"}`, "Authorization", "Bearer A")
	if resp, _ := mustDo(t, c, http.MethodPatch, srv.URL+"/v1/contacts/q1", "application/json", `{"name":"Q"}`, "Authorization", "Bearer A"); resp.StatusCode != 429 {
		t.Fatalf("breaker not open: %d", resp.StatusCode)
	}
	st := s.quota.b.All()
	if len(st) != 1 {
		t.Fatalf("breakers: %+v", st)
	}
	resp, body := mustDo(t, http.DefaultClient, http.MethodPost, "http://"+s.Addr("admin")+"/breakers/crm/"+st[0].Key.Account+"/reset", "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"closed"`) {
		t.Fatalf("reset: %d %s", resp.StatusCode, body)
	}
	api.reset()
	if resp, _ := mustDo(t, c, http.MethodPatch, srv.URL+"/v1/contacts/q1", "application/json", `{"name":"Q"}`, "Authorization", "Bearer A"); resp.StatusCode != 200 {
		t.Fatalf("after admin reset: %d", resp.StatusCode)
	}
}
