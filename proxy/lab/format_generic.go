package lab

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// genericFormat speaks the generic profile: PATCH /v1/contacts/{id} with
// the fields as the body, one full-record event per POST.
type genericFormat struct{}

func (genericFormat) Name() string        { return "generic" }
func (genericFormat) Object() string      { return "contacts" }
func (genericFormat) WebhookPath() string { return "/webhooks/generic" }
func (genericFormat) NewID(i int) string  { return fmt.Sprintf("c%d", i) }

func (genericFormat) WriteRequest(base, id string, fields map[string]string) (string, string, []byte) {
	b, _ := json.Marshal(fields)
	return http.MethodPatch, base + "/v1/contacts/" + id, b
}

func (genericFormat) ReadURL(base, id string) string { return base + "/v1/contacts/" + id }

func (genericFormat) ParseWrite(r *http.Request, body []byte) (string, map[string]string, bool) {
	id, ok := strings.CutPrefix(r.URL.Path, "/v1/contacts/")
	if !ok || r.Method != http.MethodPatch {
		return "", nil, false
	}
	return id, flatStrings(body, ""), true
}

func (genericFormat) AgentOf(h http.Header) string { return h.Get("X-Change-Agent") }

func (genericFormat) EncodeRecord(id string, rec map[string]string) []byte {
	return recordJSON(id, rec)
}

func (genericFormat) DecodeRecord(body []byte) map[string]string { return flatStrings(body, "") }

func (genericFormat) Deliveries(cs []Change) []Delivery {
	out := make([]Delivery, 0, len(cs))
	for _, c := range cs {
		ev := map[string]any{"id": c.EventID, "type": "contact.updated", "object": "contacts",
			"occurred_at": c.At.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
		if c.Actor != "" {
			ev["actor"] = c.Actor
		}
		if c.Agent != "" {
			ev["change_agent"] = c.Agent
		}
		if c.Skinny {
			ev["record"] = map[string]string{"id": c.ID}
		} else {
			ev["record"] = withID(c.ID, c.Record)
		}
		b, _ := json.Marshal(ev)
		h := http.Header{"Content-Type": {"application/json"}}
		if c.Agent != "" {
			h.Set("X-Change-Agent", c.Agent)
		}
		out = append(out, Delivery{Header: h, Body: b})
	}
	return out
}

func (genericFormat) ParseDelivery(_ http.Header, body []byte) ([]Update, error) {
	var ev struct {
		Record map[string]any `json:"record"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("generic delivery: %w", err)
	}
	id := fmt.Sprint(ev.Record["id"])
	fields := map[string]string{}
	for k, v := range ev.Record {
		if k != "id" {
			fields[k] = fmt.Sprint(v)
		}
	}
	if len(fields) == 0 {
		fields = nil
	}
	return []Update{{Object: "contacts", ID: id, Fields: fields}}, nil
}

func (genericFormat) ProviderYAML(host string, fields []string, user string) string {
	return fmt.Sprintf(`  - use: generic
    hosts: [%q]
    tracked_fields: [%s]
    integration_users: [%q]
    tagging: {sentinel_field: sync_source}   # the lab CRM stores and returns it
`, host, strings.Join(fields, ", "), user)
}

// flatStrings reads a JSON object (at path, "" for the root) as strings.
func flatStrings(body []byte, path string) map[string]string {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil
	}
	if path != "" {
		sub, _ := m[path].(map[string]any)
		m = sub
	}
	out := map[string]string{}
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		} else if v != nil {
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

func withID(id string, rec map[string]string) map[string]string {
	out := make(map[string]string, len(rec)+1)
	for k, v := range rec {
		out[k] = v
	}
	out["id"] = id
	return out
}

func recordJSON(id string, rec map[string]string) []byte {
	b, _ := json.Marshal(withID(id, rec))
	return b
}
