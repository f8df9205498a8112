// Package lab is the loop lab: a fake CRM and a naive sync app, both real
// HTTP servers on 127.0.0.1, wired with or without a loopguard sidecar, so
// that a vampire record can be watched, counted and stopped. `loopguard
// demo` and the scenario tests run on it.
package lab

import (
	"net/http"
	"time"
)

// Change is one change in the CRM, as its webhook reports it.
type Change struct {
	EventID string
	Object  string
	ID      string
	// Record is the record after the change (every field the CRM keeps).
	Record map[string]string
	// Changed names the fields the change touched.
	Changed []string
	// Actor is who made it: the integration user for API writes (when the
	// CRM reports it), a person otherwise; "" when the CRM does not say.
	Actor string
	// Agent is the change agent the write carried, when the CRM echoes it.
	Agent string
	// Skinny: the webhook says only which record changed.
	Skinny bool
	At     time.Time
}

// Update is what the app reads from a delivery: a record and the values
// it now has (nil Fields for a skinny notification).
type Update struct {
	Object, ID string
	Fields     map[string]string
}

// Format is one provider's wire format, both sides: how the app writes and
// reads records, and how the CRM reports changes.
type Format interface {
	// Name is the built-in profile the format speaks.
	Name() string
	// Object is the object type the lab syncs.
	Object() string
	// WebhookPath is where the CRM posts deliveries.
	WebhookPath() string
	// NewID returns the i-th record id in the provider's id style.
	NewID(i int) string
	// WriteRequest builds an update of fields on a record.
	WriteRequest(base, id string, fields map[string]string) (method, url string, body []byte)
	// ReadURL is the record's URL.
	ReadURL(base, id string) string
	// ParseWrite reads a write on the CRM side; ok is false for a request
	// that is not a write of this format.
	ParseWrite(r *http.Request, body []byte) (id string, fields map[string]string, ok bool)
	// AgentOf returns the change agent a write carries.
	AgentOf(h http.Header) string
	// EncodeRecord is the CRM's answer to a read.
	EncodeRecord(id string, rec map[string]string) []byte
	// DecodeRecord is the app's reading of that answer.
	DecodeRecord(body []byte) map[string]string
	// Deliveries builds the webhook deliveries for changes (several
	// changes in one delivery where the provider batches).
	Deliveries(cs []Change) []Delivery
	// ParseDelivery is the app's reading of a delivery.
	ParseDelivery(h http.Header, body []byte) ([]Update, error)
	// ProviderYAML is the loopguard provider entry for the lab: the
	// built-in profile with the lab CRM's host, tracked fields and
	// integration user.
	ProviderYAML(crmHost string, fields []string, integrationUser string) string
}

// Delivery is one webhook POST.
type Delivery struct {
	Header http.Header
	Body   []byte
}

// Formats returns the lab's formats by name.
func Formats() map[string]Format {
	return map[string]Format{
		"generic":    genericFormat{},
		"hubspot":    hubspotFormat{},
		"salesforce": salesforceFormat{},
		"jira":       jiraFormat{},
		"smartsheet": smartsheetFormat{},
	}
}
