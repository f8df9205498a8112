package filters

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// hubspotBatch builds a root-array delivery of n per-property events over
// n/4 records, every fourth one for an untracked property.
func hubspotBatch(n int) []byte {
	props := []string{"firstname", "email", "lifecyclestage", "hs_analytics_source"}
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"eventId":%d,"subscriptionId":77,"portalId":62515,"appId":4242,"occurredAt":%d,`+
			`"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":%d,`+
			`"propertyName":%q,"propertyValue":"value %d","changeSource":"CRM_UI","sourceId":"userId:9"}`,
			1000+i, 1764237600000+int64(i), 500+i/4, props[i%4], i)
	}
	b.WriteString("]")
	return []byte(b.String())
}

func BenchmarkExtractHubSpotBatch100(b *testing.B) {
	h := newHarness(b, "hubspotlike", harnessOpts{})
	r, _ := h.p.MatchWebhook("POST", "/webhooks/hubspot")
	body := hubspotBatch(100)
	evs := make([]Event, 0, 100)
	var err error
	events := 0
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		evs, err = h.p.Extract(r, body, nil, evs[:0])
		if err != nil || len(evs) != 100 {
			b.Fatalf("extract: %d events, %v", len(evs), err)
		}
		events += len(evs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
}

// BenchmarkDecideWarm decides one event per operation with a warm ledger:
// 1000 records we wrote, half of them also with an accepted genuine state.
func BenchmarkDecideWarm(b *testing.B) {
	const records = 1000
	h := newHarness(b, "generic", harnessOpts{})
	for i := 0; i < records; i += 2 {
		evs, ds := h.deliver("/webhooks/generic", genericEvent(b, map[string]any{
			"id": fmt.Sprint("warm_", i), "record": rawJSON(fmt.Sprintf(`{"id":"c%d","name":"Old %d"}`, i, i)),
		}), nil)
		h.accept(evs, ds)
	}
	h.clock.Advance(time.Second)
	writes := make([]*Write, records)
	for i := range records {
		writes[i] = h.write("PATCH", fmt.Sprintf("/v1/contacts/c%d", i), jsonCT,
			fmt.Sprintf(`{"name":"Name %d","email":"user%d@example.com","phone":"+1555%04d"}`, i, i, i))
	}
	h.clock.Advance(time.Second)
	r, _ := h.p.MatchWebhook("POST", "/webhooks/generic")
	extract := func(bodies [][]byte) []Event {
		var evs []Event
		for _, body := range bodies {
			var err error
			if evs, err = h.p.Extract(r, body, nil, evs); err != nil {
				b.Fatal(err)
			}
		}
		return evs
	}
	var echoes, genuine [][]byte
	for i := range records {
		echoes = append(echoes, genericEvent(b, map[string]any{
			"id": fmt.Sprint("echo_", i), "actor": nil, "record": echoRecord(b, writes[i], fmt.Sprint("c", i)),
		}))
		genuine = append(genuine, genericEvent(b, map[string]any{
			"id": fmt.Sprint("human_", i), "record": rawJSON(fmt.Sprintf(`{"id":"c%d","name":"New %d","email":"user%d@example.com"}`, i, i, i)),
		}))
	}
	for _, c := range []struct {
		name   string
		evs    []Event
		action Action
	}{
		{"echo", extract(echoes), Drop},
		{"genuine", extract(genuine), Forward},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ev := &c.evs[i%len(c.evs)]
				if d := h.eng.Decide(ctx, h.p, ev); d.Action != c.action {
					b.Fatalf("decision %s by %s (%s)", d.Action, d.Layer, d.Reason)
				}
				i++
			}
		})
	}
}

// record2KB is a ~2 KiB JSON record with tracked and untracked fields.
func record2KB() []byte {
	var b strings.Builder
	b.WriteString(`{"name":"Ada Lovelace","email":"ada@example.com","phone":"+15551234"`)
	for i := 0; b.Len() < 2000; i++ {
		fmt.Fprintf(&b, `,"custom_%03d":"custom value number %d of the record"`, i, i)
	}
	b.WriteString("}")
	return []byte(b.String())
}

func BenchmarkTagJSON2KB(b *testing.B) {
	h := newHarness(b, "generic", harnessOpts{})
	r, ps, _ := h.p.MatchWrite("PATCH", "/v1/contacts/c1")
	body := record2KB()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		hdr := http.Header{"Content-Type": {"application/json"}}
		if w := h.p.Tag(context.Background(), r, &ps, "a", hdr, body, ""); w.Body == nil {
			b.Fatal(w.Untagged)
		}
	}
}

func BenchmarkTagForm(b *testing.B) {
	h := newHarness(b, "generic", harnessOpts{})
	r, ps, _ := h.p.MatchWrite("PATCH", "/v1/contacts/c1")
	body := []byte("name=" + url.QueryEscape("Ada Lovelace") + "&email=ada%40example.com&phone=%2B15551234" +
		"&metadata%5Border_id%5D=1234&metadata%5Bcustomer%5D=acme&description=" + url.QueryEscape("Invoice for order 1234"))
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		hdr := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
		if w := h.p.Tag(context.Background(), r, &ps, "a", hdr, body, ""); w.Body == nil {
			b.Fatal(w.Untagged)
		}
	}
}
