package configs

import (
	"fmt"
	"strings"
)

// Delivery shapes beyond one JSON array of full records: XML bodies,
// deliveries that are either one event or a list, change events whose
// header names the fields they change, and providers that need their own
// acknowledgement.

// Body formats of a webhook route.
const (
	FormatJSON = "json"
	FormatXML  = "xml"
)

// BodyFormats are the accepted webhook body formats.
var BodyFormats = []string{FormatJSON, FormatXML}

// Ack defaults.
const (
	DefaultAckStatus      = 200
	DefaultAckContentType = "text/plain; charset=utf-8"
)

// applyShapeDefaults fills a webhook route's format and ack defaults.
func applyShapeDefaults(h *WebhookRoute) {
	setStr(&h.Format, FormatJSON)
	if h.Ack != nil {
		if h.Ack.Status == 0 {
			h.Ack.Status = DefaultAckStatus
		}
		setStr(&h.Ack.ContentType, DefaultAckContentType)
	}
}

// validateShapes checks the keys of applyShapeDefaults' concern and the
// profile's compound map.
func validateShapes(p *Profile) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for i, h := range p.Webhooks {
		field := fmt.Sprintf("webhooks[%d]", i)
		if err := oneOf(field+".format", h.Format, BodyFormats); err != nil {
			errs = append(errs, err)
		}
		if h.Format == FormatXML && h.Batch == "@this" {
			add("%s.batch: an XML document has one root element, so \"@this\" can never be a list: name the repeated element's path, e.g. Envelope.Body.notifications.Notification", field)
		}
		if h.BatchOptional && h.Batch == "" {
			add("%s.batch_optional: applies only with batch (a delivery without batch is always one event)", field)
		}
		if (h.NulledFields != "" || h.DiffFields != "") && h.ChangedFields == "" {
			add("%s: nulled_fields and diff_fields refine changed_fields; set changed_fields too", field)
		}
		if h.ChangedFields != "" && h.Record == "" {
			add("%s.changed_fields: applies to the fields of record; set record", field)
		}
		if h.Sequence != "" && h.OccurredAt == "" {
			add("%s.sequence: orders events within one occurred_at; set occurred_at", field)
		}
		for _, s := range []namedSpec{{"changed_fields", h.ChangedFields}, {"nulled_fields", h.NulledFields}, {"diff_fields", h.DiffFields}, {"sequence", h.Sequence}} {
			if err := CheckValueSpec(s.spec); err != nil {
				add("%s.%s: %w", field, s.name, err)
			}
		}
		if a := h.Ack; a != nil {
			if a.Status < 200 || a.Status > 299 {
				add("%s.ack.status: %d: an acknowledgement is a 2xx answer", field, a.Status)
			}
			if strings.ContainsAny(a.ContentType, "\r\n") {
				add("%s.ack.content_type: must be one line", field)
			}
		}
	}
	for k, v := range p.Compound {
		if k == "" || v == "" || strings.ContainsAny(k+v, " |#*?") {
			add("compound: %q: %q: both sides must be plain dotted field paths", k, v)
		}
	}
	return errs
}
