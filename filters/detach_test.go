package filters

import (
	"net/http"
	"testing"
	"unsafe"
)

// TestEventsDoNotPinTheBody: an event's strings have their own memory, so
// keeping an event (decision ring, loop detector) never keeps its
// delivery's body alive. Extract parses the body in place.
func TestEventsDoNotPinTheBody(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{})
	body := []byte(`{"id":"evt_1","object":"contacts","account":"acme","actor":"u_1","change_agent":"x","record":{"id":"c1","name":"Ada","sync_source":"s"}}`)
	r, _ := h.p.MatchWebhook("POST", "/webhooks/generic")
	evs, err := h.p.Extract(r, body, http.Header{}, nil)
	if err != nil || len(evs) != 1 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(body)))
	hi := lo + uintptr(len(body))
	e := evs[0]
	strs := map[string]string{"ID": e.ID, "Record": e.Record, "Account": e.Account, "Actor": e.Actor, "Object": e.Object, "Sentinel": e.Sentinel}
	for i, m := range e.Marks {
		strs["Marks"+string(rune('0'+i))] = m
	}
	for name, s := range strs {
		if s == "" {
			continue
		}
		if p := uintptr(unsafe.Pointer(unsafe.StringData(s))); p >= lo && p < hi {
			t.Errorf("event %s %q points into the delivery body", name, s)
		}
	}
	for _, f := range e.Fields {
		if p := uintptr(unsafe.Pointer(unsafe.StringData(f.Name))); p >= lo && p < hi {
			t.Errorf("field name %q points into the delivery body", f.Name)
		}
	}
	if e.ID != "evt_1" || e.Record != "c1" || e.Actor != "u_1" {
		t.Fatalf("event %+v", e)
	}
}

// TestPropertyEventsDoNotPinTheBody: a per-property event's field name is
// the profile's string, not the body's.
func TestPropertyEventsDoNotPinTheBody(t *testing.T) {
	h := newHarness(t, "hubspotlike", harnessOpts{})
	body := []byte(`[{"eventId":1,"subscriptionType":"contact.propertyChange","objectId":501,"propertyName":"firstname","propertyValue":"Ada","changeSource":"CRM_UI","portalId":9}]`)
	r, _ := h.p.MatchWebhook("POST", "/webhooks/hubspot")
	evs, err := h.p.Extract(r, body, http.Header{}, nil)
	if err != nil || len(evs) != 1 || len(evs[0].Fields) != 1 {
		t.Fatalf("%+v, %v", evs, err)
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(body)))
	if p := uintptr(unsafe.Pointer(unsafe.StringData(evs[0].Fields[0].Name))); p >= lo && p < lo+uintptr(len(body)) {
		t.Errorf("field name %q points into the delivery body", evs[0].Fields[0].Name)
	}
}
