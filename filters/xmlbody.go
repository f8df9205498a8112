package filters

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"
)

// XML deliveries (format: xml), such as Salesforce Outbound Messages: a
// SOAP envelope whose notifications element holds one Notification per
// changed record. The document is parsed once with encoding/xml (no DTDs,
// no entities beyond XML's five, UTF-8 only), bounded in depth and element
// count, and read as JSON so that a route's value specs work unchanged:
//
//   - an element with child elements is an object of them by local name
//     (namespace prefixes dropped; a repeated name becomes an array), plus
//     its attributes as "-name" (xsi:type without its prefix, so
//     "sf:Account" is "Account") and non-blank text as "-text";
//   - an element without child elements is its text (attributes dropped);
//   - xsi:nil="true" is null.
//
// The batch path names elements the same way
// (Envelope.Body.notifications.Notification); each element's byte span is
// kept, so a rewrite removes dropped elements and leaves every other byte
// as it came.

// Bounds of an XML delivery.
const (
	maxXMLDepth    = 64
	maxXMLElements = 1 << 16
)

// xsiNS is the XML Schema instance namespace (xsi:nil, xsi:type).
const xsiNS = "http://www.w3.org/2001/XMLSchema-instance"

// errXML wraps every XML parse failure.
var errXML = errors.New("invalid XML")

// xmlNode is one element and its byte span in the body.
type xmlNode struct {
	name       string
	attrs      []xml.Attr
	kids       []*xmlNode
	text       []byte
	null       bool
	start, end int
}

// parseXML parses a whole document into its root element.
func parseXML(body []byte) (*xmlNode, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	var (
		stack []*xmlNode
		root  *xmlNode
		n     int
	)
	for {
		off := int(d.InputOffset())
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errXML, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if n++; n > maxXMLElements {
				return nil, fmt.Errorf("%w: more than %d elements", errXML, maxXMLElements)
			}
			if len(stack) >= maxXMLDepth {
				return nil, fmt.Errorf("%w: nested deeper than %d", errXML, maxXMLDepth)
			}
			el := &xmlNode{name: t.Name.Local, attrs: t.Attr, start: off}
			for _, a := range t.Attr {
				if a.Name.Space == xsiNS && a.Name.Local == "nil" && (a.Value == "true" || a.Value == "1") {
					el.null = true
				}
			}
			switch {
			case len(stack) > 0:
				top := stack[len(stack)-1]
				top.kids = append(top.kids, el)
			case root != nil:
				return nil, fmt.Errorf("%w: more than one root element", errXML)
			default:
				root = el
			}
			stack = append(stack, el)
		case xml.EndElement:
			el := stack[len(stack)-1]
			el.end = int(d.InputOffset())
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.text = append(top.text, t...)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("%w: text outside the root element", errXML)
			}
		case xml.Directive:
			// A DOCTYPE could declare entities; a delivery has no need of one.
			return nil, fmt.Errorf("%w: directives (DOCTYPE) are not accepted", errXML)
		}
	}
	if root == nil || len(stack) > 0 {
		return nil, fmt.Errorf("%w: no complete root element", errXML)
	}
	return root, nil
}

// find returns the elements at a dotted path of local names from the
// document (the first segment names the root): every element matching the
// last segment, under the first match of each earlier one.
func (root *xmlNode) find(path string) []*xmlNode {
	segs := strings.Split(path, ".")
	if len(segs) == 0 || segs[0] != root.name {
		return nil
	}
	cur := root
	for i, seg := range segs[1:] {
		var found []*xmlNode
		for _, k := range cur.kids {
			if k.name == seg {
				found = append(found, k)
			}
		}
		if i == len(segs)-2 || len(found) == 0 {
			return found
		}
		cur = found[0]
	}
	return []*xmlNode{root}
}

// docJSON returns the document as JSON: {"<root name>": <root>}.
func (root *xmlNode) docJSON() []byte {
	b := []byte{'{'}
	b = appendJSONString(b, root.name)
	b = append(b, ':')
	b = root.appendJSON(b)
	return append(b, '}')
}

// appendJSON appends the element as JSON (see the package comment above).
func (n *xmlNode) appendJSON(b []byte) []byte {
	switch {
	case n.null:
		return append(b, "null"...)
	case len(n.kids) == 0:
		return appendJSONString(b, string(n.text))
	}
	b = append(b, '{')
	first := true
	key := func(k string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, k)
		b = append(b, ':')
	}
	for _, a := range n.attrs {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") || (a.Name.Space == xsiNS && a.Name.Local == "nil") {
			continue
		}
		v := a.Value
		if a.Name.Space == xsiNS && a.Name.Local == "type" {
			v = v[strings.LastIndexByte(v, ':')+1:] // a QName: drop its prefix
		}
		key("-" + a.Name.Local)
		b = appendJSONString(b, v)
	}
	if t := bytes.TrimSpace(n.text); len(t) > 0 {
		key("-text")
		b = appendJSONString(b, string(t))
	}
	// Children by name, in order of first appearance; repeats are arrays.
	groups := make(map[string][]*xmlNode, len(n.kids))
	var order []string
	for _, k := range n.kids {
		if _, ok := groups[k.name]; !ok {
			order = append(order, k.name)
		}
		groups[k.name] = append(groups[k.name], k)
	}
	for _, name := range order {
		g := groups[name]
		key(name)
		if len(g) == 1 {
			b = g[0].appendJSON(b)
			continue
		}
		b = append(b, '[')
		for i, k := range g {
			if i > 0 {
				b = append(b, ',')
			}
			b = k.appendJSON(b)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// extractXML splits an XML delivery into events: one per element at the
// batch path (the whole document without one), read as JSON.
func (p *Provider) extractXML(r *WebhookRoute, body []byte, h http.Header, dst []Event) ([]Event, error) {
	doc, err := parseXML(body)
	if err != nil {
		return dst, fmt.Errorf("extract %s: %w: %v", p.Name, ErrMalformed, err)
	}
	root := gjson.ParseBytes(doc.docJSON())
	if r.batch == "" {
		return p.events(r, root, root, h, 0, len(body), dst), nil
	}
	elems := doc.find(r.batch)
	if len(elems) == 0 {
		return dst, fmt.Errorf("extract %s: %w: no element at %q", p.Name, ErrMalformed, r.batch)
	}
	for _, el := range elems {
		ev := gjson.ParseBytes(el.appendJSON(nil))
		if !ev.IsObject() {
			return dst, fmt.Errorf("extract %s: %w: element %q at %q has no child elements", p.Name, ErrMalformed, el.name, r.batch)
		}
		dst = p.events(r, ev, root, h, el.start, el.end, dst)
	}
	return dst, nil
}

// rewriteXML removes the elements none of whose events is kept; every
// other byte (declarations, namespaces, whitespace, the kept elements)
// stays as it came.
func rewriteXML(name string, body []byte, events []Event, keep []bool) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(body))
	last := 0
	for i := 0; i < len(events); {
		start, end := events[i].Start, events[i].End
		if start < last || end < start || end > len(body) {
			return nil, fmt.Errorf("rewrite %s: %w: element spans out of order", name, ErrMalformed)
		}
		kept := false
		j := i
		for ; j < len(events) && events[j].Start == start; j++ {
			kept = kept || keep[j]
		}
		if !kept {
			out.Write(body[last:start])
			last = end
		}
		i = j
	}
	out.Write(body[last:])
	return out.Bytes(), nil
}
