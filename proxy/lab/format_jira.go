package lab

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// jiraFormat speaks Jira Cloud: PUT /rest/api/3/issue/{id} with
// {"fields": …}, one event per POST naming user.accountId, deduplicated by
// X-Atlassian-Webhook-Identifier. Jira has no change-agent header.
type jiraFormat struct{}

const jiraPath = "/rest/api/3/issue/"

func (jiraFormat) Name() string        { return "jira" }
func (jiraFormat) Object() string      { return "issue" }
func (jiraFormat) WebhookPath() string { return "/webhooks/jira" }
func (jiraFormat) NewID(i int) string  { return fmt.Sprintf("%d", 10000+i) }

func (jiraFormat) WriteRequest(base, id string, fields map[string]string) (string, string, []byte) {
	b, _ := json.Marshal(map[string]any{"fields": fields})
	return http.MethodPut, base + jiraPath + id, b
}

func (jiraFormat) ReadURL(base, id string) string { return base + jiraPath + id }

func (jiraFormat) ParseWrite(r *http.Request, body []byte) (string, map[string]string, bool) {
	id, ok := strings.CutPrefix(r.URL.Path, jiraPath)
	if !ok || r.Method != http.MethodPut {
		return "", nil, false
	}
	return id, flatStrings(body, "fields"), true
}

func (jiraFormat) AgentOf(http.Header) string { return "" }

func (jiraFormat) EncodeRecord(id string, rec map[string]string) []byte {
	b, _ := json.Marshal(map[string]any{"id": id, "key": "LAB-" + id, "fields": rec})
	return b
}

func (jiraFormat) DecodeRecord(body []byte) map[string]string { return flatStrings(body, "fields") }

func (jiraFormat) Deliveries(cs []Change) []Delivery {
	out := make([]Delivery, 0, len(cs))
	for _, c := range cs {
		items := []map[string]string{}
		for _, f := range c.Changed {
			items = append(items, map[string]string{"field": f, "toString": c.Record[f]})
		}
		issue := map[string]any{"id": c.ID, "key": "LAB-" + c.ID}
		if !c.Skinny {
			issue["fields"] = c.Record
		}
		ev := map[string]any{"timestamp": c.At.UnixMilli(), "webhookEvent": "jira:issue_updated",
			"issue_event_type_name": "issue_generic", "user": map[string]string{"accountId": c.Actor},
			"issue": issue, "changelog": map[string]any{"id": c.EventID, "items": items}}
		b, _ := json.Marshal(ev)
		h := http.Header{"Content-Type": {"application/json"}, "X-Atlassian-Webhook-Identifier": {c.EventID}}
		out = append(out, Delivery{Header: h, Body: b})
	}
	return out
}

func (jiraFormat) ParseDelivery(_ http.Header, body []byte) ([]Update, error) {
	var ev struct {
		Issue struct {
			ID     string         `json:"id"`
			Fields map[string]any `json:"fields"`
		} `json:"issue"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("jira delivery: %w", err)
	}
	var fields map[string]string
	if len(ev.Issue.Fields) > 0 {
		fields = map[string]string{}
		for k, v := range ev.Issue.Fields {
			fields[k] = fmt.Sprint(v)
		}
	}
	return []Update{{Object: "issue", ID: ev.Issue.ID, Fields: fields}}, nil
}

func (jiraFormat) ProviderYAML(host string, fields []string, user string) string {
	return fmt.Sprintf(`  - use: jira
    hosts: [%q]
    tracked_fields: [%s]
    integration_users: [%q]
    signature: {trust_unsigned: true}   # the lab's fake CRM does not sign its deliveries
`, host, strings.Join(fields, ", "), user)
}
