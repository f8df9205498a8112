package proxy

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestDecisionTraceAndDelivery: every decision carries each layer's verdict
// in chain order and the name of the delivery it came in, as the admin API
// (and the console's explanation page) shows them.
func TestDecisionTraceAndDelivery(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, false)
	e.deliver(t, "/webhooks/generic", `{"id":"t1","object":"contacts","actor":"u_integration","record":{"id":"r1","name":"X"}}`)
	e.deliver(t, "/webhooks/generic", `{"id":"t2","object":"contacts","actor":"u_person","record":{"id":"r2","name":"Y"}}`)
	resp, body := mustDo(t, http.DefaultClient, http.MethodGet, "http://"+e.s.Addr("admin")+"/decisions", "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("/decisions: %d", resp.StatusCode)
	}
	var got struct {
		Decisions []struct {
			EventID  string                                    `json:"event_id"`
			Action   string                                    `json:"action"`
			Delivery string                                    `json:"delivery"`
			Trace    []struct{ Layer, Verdict, Reason string } `json:"trace"`
		} `json:"decisions"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	byID := map[string]int{}
	for i, d := range got.Decisions {
		byID[d.EventID] = i
	}
	echo, genuine := got.Decisions[byID["t1"]], got.Decisions[byID["t2"]]
	if echo.Action != "drop" || len(echo.Trace) == 0 || echo.Trace[len(echo.Trace)-1].Layer != "actor" || echo.Trace[len(echo.Trace)-1].Verdict != "echo" {
		t.Fatalf("the echo's trace must end at the actor's echo verdict: %+v", echo)
	}
	var layers []string
	for _, s := range genuine.Trace {
		layers = append(layers, s.Layer)
	}
	if genuine.Action != "forward" || strings.Join(layers, ",") != "dedup,actor,marker,sentinel,fingerprint" {
		t.Fatalf("the genuine event's trace must hold every layer in chain order: %+v", genuine)
	}
	if echo.Delivery == "" || genuine.Delivery == "" || echo.Delivery == genuine.Delivery {
		t.Fatalf("deliveries %q and %q: want two distinct names", echo.Delivery, genuine.Delivery)
	}
}
