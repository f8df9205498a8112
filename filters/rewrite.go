package filters

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/tidwall/gjson"
)

// Rewrite returns the delivery body holding only the kept events, in their
// original order, each kept event's bytes unchanged; everything outside the
// events array stays as sent. An element that yielded several events (one
// per record id) is kept whole when any of them is kept. It is only called
// when some but not all events are dropped.
func (p *Provider) Rewrite(r *WebhookRoute, body []byte, events []Event, keep []bool) ([]byte, error) {
	if len(events) > 0 && events[0].inForm {
		return nil, fmt.Errorf("rewrite %s: a form-encoded delivery is never rewritten", p.Name)
	}
	if oneElement(events) && slices.Contains(keep, true) {
		// Every event comes from one element (one per record id): some
		// are kept, so the element, and the delivery, is kept whole.
		return body, nil
	}
	if r.batch == "" {
		return nil, fmt.Errorf("rewrite %s: a single-event delivery is never rewritten", p.Name)
	}
	if r.shape.xml {
		return rewriteXML(p.Name, body, events, keep)
	}
	var start, end int
	if r.batch != "@this" {
		arr := gjson.GetBytes(body, r.batch)
		if !arr.IsArray() || arr.Index <= 0 {
			return nil, fmt.Errorf("rewrite %s: %w: batch %q not found", p.Name, ErrMalformed, r.batch)
		}
		start, end = arr.Index, arr.Index+len(arr.Raw)
	} else {
		// Keep leading/trailing whitespace around a root array.
		start = bytes.IndexByte(body, '[')
		end = bytes.LastIndexByte(body, ']') + 1
		if start < 0 || end <= start {
			return nil, fmt.Errorf("rewrite %s: %w: no root array", p.Name, ErrMalformed)
		}
	}
	var out bytes.Buffer
	out.Grow(len(body))
	out.Write(body[:start])
	out.WriteByte('[')
	n, last := 0, -1
	for i := range events {
		// Events fanned out of one element (one per record id) share its
		// span: the element is kept, once, when any of them is kept.
		if !keep[i] || events[i].Start == last {
			continue
		}
		if n > 0 {
			out.WriteByte(',')
		}
		out.Write(body[events[i].Start:events[i].End])
		last = events[i].Start
		n++
	}
	out.WriteByte(']')
	out.Write(body[end:])
	return out.Bytes(), nil
}

// oneElement reports events that all share one element's span.
func oneElement(events []Event) bool {
	for i := 1; i < len(events); i++ {
		if events[i].Start != events[0].Start || events[i].End != events[0].End {
			return false
		}
	}
	return len(events) > 0
}
