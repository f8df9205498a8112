package lab

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// salesforceFormat speaks Salesforce: PATCH
// /services/data/v60.0/sobjects/Account/{id} tagged with
// Sforce-Call-Options, and Change Data Capture events (posted by a
// callout) whose ChangeEventHeader.changeOrigin carries the client and
// whose UPDATE payload holds only the changed fields.
type salesforceFormat struct{}

const sfPath = "/services/data/v60.0/sobjects/Account/"

func (salesforceFormat) Name() string        { return "salesforce" }
func (salesforceFormat) Object() string      { return "Account" }
func (salesforceFormat) WebhookPath() string { return "/webhooks/salesforce" }
func (salesforceFormat) NewID(i int) string  { return fmt.Sprintf("001Lab%012d", i) }

func (salesforceFormat) WriteRequest(base, id string, fields map[string]string) (string, string, []byte) {
	b, _ := json.Marshal(fields)
	return http.MethodPatch, base + sfPath + id, b
}

func (salesforceFormat) ReadURL(base, id string) string { return base + sfPath + id }

func (salesforceFormat) ParseWrite(r *http.Request, body []byte) (string, map[string]string, bool) {
	id, ok := strings.CutPrefix(r.URL.Path, sfPath)
	if !ok || r.Method != http.MethodPatch {
		return "", nil, false
	}
	return id, flatStrings(body, ""), true
}

// AgentOf reads "client=<agent>" from Sforce-Call-Options.
func (salesforceFormat) AgentOf(h http.Header) string {
	for _, part := range strings.Split(h.Get("Sforce-Call-Options"), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "client="); ok {
			return v
		}
	}
	return ""
}

func (salesforceFormat) EncodeRecord(id string, rec map[string]string) []byte {
	return recordJSON(id, rec)
}

func (salesforceFormat) DecodeRecord(body []byte) map[string]string {
	m := flatStrings(body, "")
	delete(m, "id")
	return m
}

func (salesforceFormat) Deliveries(cs []Change) []Delivery {
	var evs []map[string]any
	for i, c := range cs {
		origin := "com/salesforce/api/rest/60.0"
		if c.Agent != "" {
			origin += ";client=" + c.Agent
		}
		hdr := map[string]any{
			"entityName": "Account", "recordIds": []string{c.ID}, "changeType": "UPDATE", "changeOrigin": origin,
			"transactionKey": c.EventID, "sequenceNumber": i + 1, "commitTimestamp": c.At.UnixMilli(),
			"commitUser": c.Actor, "changedFields": c.Changed,
		}
		payload := map[string]any{"ChangeEventHeader": hdr}
		if !c.Skinny {
			for _, f := range c.Changed {
				payload[f] = c.Record[f]
			}
		}
		evs = append(evs, map[string]any{"data": map[string]any{"schema": "lab", "payload": payload,
			"event": map[string]any{"replayId": c.At.UnixNano()}}, "channel": "/data/AccountChangeEvent"})
	}
	b, _ := json.Marshal(evs)
	return []Delivery{{Header: http.Header{"Content-Type": {"application/json"}}, Body: b}}
}

func (salesforceFormat) ParseDelivery(_ http.Header, body []byte) ([]Update, error) {
	var evs []struct {
		Data struct {
			Payload map[string]any `json:"payload"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &evs); err != nil {
		return nil, fmt.Errorf("salesforce delivery: %w", err)
	}
	var out []Update
	for _, e := range evs {
		h, _ := e.Data.Payload["ChangeEventHeader"].(map[string]any)
		ids, _ := h["recordIds"].([]any)
		fields := map[string]string{}
		for k, v := range e.Data.Payload {
			if k != "ChangeEventHeader" {
				fields[k] = fmt.Sprint(v)
			}
		}
		if len(fields) == 0 {
			fields = nil
		}
		for _, id := range ids {
			out = append(out, Update{Object: "Account", ID: fmt.Sprint(id), Fields: fields})
		}
	}
	return out, nil
}

func (salesforceFormat) ProviderYAML(host string, fields []string, user string) string {
	return fmt.Sprintf(`  - use: salesforce
    hosts: [%q]
    account: {from: static, value: lab-org}
    tracked_fields: [%s]
    integration_users: [%q]
`, host, strings.Join(fields, ", "), user)
}
