package lab

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// hubspotFormat speaks HubSpot: PATCH /crm/v3/objects/contacts/{id} with
// {"properties": …}, numeric ids, and webhook batches of per-property
// events (propertyName/propertyValue, sourceId as actor).
type hubspotFormat struct{}

const hubspotPortal = 62515

func (hubspotFormat) Name() string        { return "hubspot" }
func (hubspotFormat) Object() string      { return "contacts" }
func (hubspotFormat) WebhookPath() string { return "/webhooks/hubspot" }
func (hubspotFormat) NewID(i int) string  { return strconv.Itoa(500 + i) }

func (hubspotFormat) WriteRequest(base, id string, fields map[string]string) (string, string, []byte) {
	b, _ := json.Marshal(map[string]any{"properties": fields})
	return http.MethodPatch, base + "/crm/v3/objects/contacts/" + id, b
}

func (hubspotFormat) ReadURL(base, id string) string { return base + "/crm/v3/objects/contacts/" + id }

func (hubspotFormat) ParseWrite(r *http.Request, body []byte) (string, map[string]string, bool) {
	id, ok := strings.CutPrefix(r.URL.Path, "/crm/v3/objects/contacts/")
	if !ok || r.Method != http.MethodPatch {
		return "", nil, false
	}
	return id, flatStrings(body, "properties"), true
}

// AgentOf: HubSpot keeps no change-agent header.
func (hubspotFormat) AgentOf(http.Header) string { return "" }

func (hubspotFormat) EncodeRecord(id string, rec map[string]string) []byte {
	b, _ := json.Marshal(map[string]any{"id": id, "properties": rec})
	return b
}

func (hubspotFormat) DecodeRecord(body []byte) map[string]string {
	return flatStrings(body, "properties")
}

// Deliveries batches every change's property events into one array, as
// HubSpot does.
func (hubspotFormat) Deliveries(cs []Change) []Delivery {
	var evs []map[string]any
	for _, c := range cs {
		obj, _ := strconv.Atoi(c.ID)
		source, actor := "CRM_UI", c.Actor
		if strings.HasPrefix(actor, "app:") {
			source = "INTEGRATION"
		}
		props := c.Changed
		if c.Skinny {
			props = []string{""}
		}
		for i, p := range props {
			ev := map[string]any{
				"eventId": len(evs) + 1000*int(c.At.UnixMilli()%1000000) + i, "subscriptionId": 77, "portalId": hubspotPortal,
				"appId": 4242, "occurredAt": c.At.UnixMilli(), "subscriptionType": "contact.propertyChange",
				"attemptNumber": 0, "objectId": obj, "changeSource": source,
			}
			if actor != "" {
				ev["sourceId"] = actor
			}
			if p != "" {
				ev["propertyName"], ev["propertyValue"] = p, c.Record[p]
			}
			evs = append(evs, ev)
		}
	}
	b, _ := json.Marshal(evs)
	return []Delivery{{Header: http.Header{"Content-Type": {"application/json"}}, Body: b}}
}

func (hubspotFormat) ParseDelivery(_ http.Header, body []byte) ([]Update, error) {
	var evs []struct {
		ObjectID      json.Number `json:"objectId"`
		PropertyName  string      `json:"propertyName"`
		PropertyValue string      `json:"propertyValue"`
	}
	if err := json.Unmarshal(body, &evs); err != nil {
		return nil, fmt.Errorf("hubspot delivery: %w", err)
	}
	var out []Update
	for _, e := range evs {
		u := Update{Object: "contacts", ID: e.ObjectID.String()}
		if e.PropertyName != "" {
			u.Fields = map[string]string{e.PropertyName: e.PropertyValue}
		}
		out = append(out, u)
	}
	return out, nil
}

func (hubspotFormat) ProviderYAML(host string, fields []string, user string) string {
	return fmt.Sprintf(`  - use: hubspot
    hosts: [%q]
    tracked_fields: [%s]
    integration_users: [%q]
    signature: {trust_unsigned: true}   # the lab's fake CRM does not sign its deliveries
`, host, strings.Join(fields, ", "), user)
}
