package proxy

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestInflightBudgetGivenBack: after webhooks, writes through the MITM
// proxy and the gateway, and polls, every reserved body byte is given back
// — a budget that leaks would end in 503 for everything.
func TestInflightBudgetGivenBack(t *testing.T) {
	t.Parallel()
	e := newLimitsEnv(t, limitsOpts{})
	c := proxiedClient(t, e.s)
	for i := range 20 {
		body := fmt.Sprintf(`{"id":"e%d","object":"contacts","actor":"u","record":{"id":"r%d","name":"n%d"}}`, i, i, i)
		if resp, _ := mustDo(t, http.DefaultClient, http.MethodPost, "http://"+e.s.Addr("inbound")+"/webhooks/generic", "application/json", body); resp.StatusCode != 200 {
			t.Fatalf("webhook %d: %d", i, resp.StatusCode)
		}
		if resp, _ := mustDo(t, c, http.MethodPatch, e.apiSrv.URL+fmt.Sprintf("/v1/contacts/w%d", i), "application/json", `{"name":"x"}`); resp.StatusCode != 200 {
			t.Fatalf("MITM write %d: %d", i, resp.StatusCode)
		}
		if resp, _ := mustDo(t, http.DefaultClient, http.MethodPatch, "http://"+e.s.Addr("gateway")+fmt.Sprintf("/crm/v1/contacts/g%d", i), "application/json", `{"name":"y"}`); resp.StatusCode != 200 {
			t.Fatalf("gateway write %d: %d", i, resp.StatusCode)
		}
		if resp, _ := mustDo(t, c, http.MethodGet, e.apiSrv.URL+"/v1/contacts", "", ""); resp.StatusCode != 200 {
			t.Fatalf("poll %d: %d", i, resp.StatusCode)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := testutil.ToFloat64(e.s.Metrics.InflightBodyBytes)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v body bytes still reserved after every request was answered", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
