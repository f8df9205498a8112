package configs

import (
	"strings"
	"testing"
)

// TestShapeKeys: the delivery-shape keys load with their defaults, and
// each misuse is reported with its field.
func TestShapeKeys(t *testing.T) {
	l, err := LoadBytes("x.yaml", []byte("providers: [{use: salesforce}]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := l.Providers[0]
	var om *WebhookRoute
	for i := range p.Webhooks {
		if p.Webhooks[i].Format == FormatXML {
			om = &p.Webhooks[i]
		} else if p.Webhooks[i].Format != FormatJSON {
			t.Fatalf("webhooks[%d].format = %q, want the default json", i, p.Webhooks[i].Format)
		}
	}
	if om == nil || om.Ack == nil || om.Ack.Status != 200 || !strings.HasPrefix(om.Ack.ContentType, "text/xml") || !strings.Contains(om.Ack.Body, "<Ack>true</Ack>") {
		t.Fatalf("outbound message route = %+v", om)
	}
	if p.Compound["BillingAddress.City"] != "BillingCity" {
		t.Fatalf("compound = %v", p.Compound)
	}

	bad := []struct{ name, route, want string }{
		{"unknown format", `{path: /h, format: csv}`, `webhooks[0].format: "csv" is not one of json, xml`},
		{"xml root array", `{path: /h, format: xml, batch: "@this"}`, `an XML document has one root element`},
		{"optional without batch", `{path: /h, batch_optional: true}`, `batch_optional: applies only with batch`},
		{"nulled without changed", `{path: /h, record: r, nulled_fields: h.n}`, `set changed_fields too`},
		{"changed without record", `{path: /h, changed_fields: h.c}`, `changed_fields: applies to the fields of record`},
		{"sequence without time", `{path: /h, sequence: seq}`, `sequence: orders events within one occurred_at`},
		{"ack not 2xx", `{path: /h, ack: {status: 503, body: x}}`, `ack.status: 503`},
		{"changed rooted at batch", `{path: /h, batch: events, record: r, changed_fields: events.c}`, `changed_fields: "events.c" is rooted at the batch`},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadBytes("x.yaml", []byte("providers: [{use: generic, webhooks: ["+c.route+"]}]\n"), nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	t.Run("compound needs plain paths", func(t *testing.T) {
		_, err := LoadBytes("x.yaml", []byte("providers: [{use: generic, compound: {\"a.#.b\": name}}]\n"), nil)
		if err == nil || !strings.Contains(err.Error(), "compound:") {
			t.Fatalf("error %v", err)
		}
	})
}

// TestTemplateExtension: a parameter may carry a literal extension
// (Shopify's {id}.json) but nothing else.
func TestTemplateExtension(t *testing.T) {
	for tpl, ok := range map[string]bool{
		"/admin/api/{version}/products/{id}.json": true,
		"/a/{id}.":          false,
		"/a/{id}json":       false,
		"/a/x{id}":          false,
		"/a/{rest...}.json": false,
	} {
		if _, err := TemplateParams(tpl); (err == nil) != ok {
			t.Errorf("TemplateParams(%q) = %v, want ok %v", tpl, err, ok)
		}
	}
	ps, err := TemplateParams("/admin/api/{version}/products/{id}.json")
	if err != nil || len(ps) != 2 || ps[1] != "id" {
		t.Fatalf("params = %v, %v", ps, err)
	}
}
