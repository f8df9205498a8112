package lab

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// smartsheetFormat speaks Smartsheet: rows updated with PUT
// /2.0/sheets/{sheet}/rows ([{"id": row, "cells": [{"columnId", "value"}]}])
// tagged with Smartsheet-Change-Agent, and skinny batched callbacks whose
// events carry only ids, the user and the comma-separated changeAgent list.
// Columns are named by the field names here, for readability.
type smartsheetFormat struct{}

const (
	smartsheetSheet = "4583173393803140"
	smartsheetRows  = "/2.0/sheets/" + smartsheetSheet + "/rows"
)

func (smartsheetFormat) Name() string        { return "smartsheet" }
func (smartsheetFormat) Object() string      { return "row" }
func (smartsheetFormat) WebhookPath() string { return "/webhooks/smartsheet" }
func (smartsheetFormat) NewID(i int) string  { return strconv.Itoa(7000000 + i) }

type ssCell struct {
	ColumnID string `json:"columnId"`
	Value    string `json:"value"`
}

type ssRow struct {
	ID    json.Number `json:"id"`
	Cells []ssCell    `json:"cells"`
}

func (smartsheetFormat) WriteRequest(base, id string, fields map[string]string) (string, string, []byte) {
	row := ssRow{ID: json.Number(id)}
	for k, v := range fields {
		row.Cells = append(row.Cells, ssCell{ColumnID: k, Value: v})
	}
	b, _ := json.Marshal([]ssRow{row})
	return http.MethodPut, base + smartsheetRows, b
}

func (smartsheetFormat) ReadURL(base, id string) string { return base + smartsheetRows + "/" + id }

func (smartsheetFormat) ParseWrite(r *http.Request, body []byte) (string, map[string]string, bool) {
	if r.URL.Path != smartsheetRows || r.Method != http.MethodPut {
		return "", nil, false
	}
	var rows []ssRow
	if err := json.Unmarshal(body, &rows); err != nil || len(rows) != 1 {
		return "", nil, false
	}
	fields := map[string]string{}
	for _, c := range rows[0].Cells {
		fields[c.ColumnID] = c.Value
	}
	return rows[0].ID.String(), fields, true
}

func (smartsheetFormat) AgentOf(h http.Header) string { return h.Get("Smartsheet-Change-Agent") }

func (smartsheetFormat) EncodeRecord(id string, rec map[string]string) []byte {
	row := ssRow{ID: json.Number(id)}
	for k, v := range rec {
		row.Cells = append(row.Cells, ssCell{ColumnID: k, Value: v})
	}
	b, _ := json.Marshal(row)
	return b
}

func (smartsheetFormat) DecodeRecord(body []byte) map[string]string {
	var row ssRow
	if json.Unmarshal(body, &row) != nil {
		return nil
	}
	out := map[string]string{}
	for _, c := range row.Cells {
		out[c.ColumnID] = c.Value
	}
	return out
}

// Deliveries: Smartsheet callbacks are always skinny: which row changed,
// by whom, with which change agents.
func (smartsheetFormat) Deliveries(cs []Change) []Delivery {
	var evs []map[string]any
	for _, c := range cs {
		ev := map[string]any{"objectType": "row", "eventType": "updated", "id": json.Number(c.ID),
			"userId": c.Actor, "timestamp": c.At.UTC().Format("2006-01-02T15:04:05.000Z")}
		if c.Agent != "" {
			ev["changeAgent"] = c.Agent
		}
		evs = append(evs, ev)
	}
	b, _ := json.Marshal(map[string]any{"nonce": fmt.Sprintf("n-%d", cs[0].At.UnixNano()), "timestamp": cs[0].At.UTC().Format("2006-01-02T15:04:05.000Z"),
		"webhookId": 91, "scope": "sheet", "scopeObjectId": json.Number(smartsheetSheet), "events": evs})
	return []Delivery{{Header: http.Header{"Content-Type": {"application/json"}}, Body: b}}
}

func (smartsheetFormat) ParseDelivery(_ http.Header, body []byte) ([]Update, error) {
	var cb struct {
		Events []struct {
			ID json.Number `json:"id"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &cb); err != nil {
		return nil, fmt.Errorf("smartsheet callback: %w", err)
	}
	var out []Update
	for _, e := range cb.Events {
		out = append(out, Update{Object: "row", ID: e.ID.String()})
	}
	return out, nil
}

func (smartsheetFormat) ProviderYAML(host string, fields []string, user string) string {
	return fmt.Sprintf(`  - use: smartsheet
    hosts: [%q]
    tracked_fields: [%s]
    integration_users: [%q]
    signature: {trust_unsigned: true}   # the lab's fake CRM does not sign its deliveries
`, host, strings.Join(fields, ", "), user)
}
